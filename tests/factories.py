"""Factories for tests: small, valid objects with only what a test says it needs."""

from __future__ import annotations

from datetime import time

import factory
from factory.django import DjangoModelFactory

from chairtime.accounts.models import StaffProfile, User
from chairtime.clinical.models import Procedure, ProcedurePrice
from chairtime.marketing.models import Channel
from chairtime.patients.models import Patient, PatientPhone, Tag
from chairtime.patients.services import build_search_key
from chairtime.scheduling.models import Chair
from chairtime.tenancy.models import Branch, Membership, OpeningHours, Organization

PASSWORD = "correct horse battery staple"


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Clinic group {n}")
    slug = factory.Sequence(lambda n: f"group-{n}")


class BranchFactory(DjangoModelFactory):
    class Meta:
        model = Branch

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Branch {n}")
    code = factory.Sequence(lambda n: f"b{n}")
    country = "VN"
    time_zone = "Asia/Ho_Chi_Minh"
    currency = "VND"
    locale = "vi_VN"


class OpeningHoursFactory(DjangoModelFactory):
    class Meta:
        model = OpeningHours

    branch = factory.SubFactory(BranchFactory)
    weekday = 0
    opens_at = time(8)
    closes_at = time(17)


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    branch = factory.SubFactory(BranchFactory)
    organization = factory.LazyAttribute(lambda m: m.branch.organization)
    role = "receptionist"


class StaffProfileFactory(DjangoModelFactory):
    class Meta:
        model = StaffProfile

    user = factory.SubFactory(UserFactory)
    specialty = "general"


class ChairFactory(DjangoModelFactory):
    class Meta:
        model = Chair

    branch = factory.SubFactory(BranchFactory)
    name = factory.Sequence(lambda n: f"Chair {n}")


class ChannelFactory(DjangoModelFactory):
    class Meta:
        model = Channel

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Channel {n}")
    code = factory.Sequence(lambda n: f"channel-{n}")
    family = "public"
    kind = "search_ads"


class TagFactory(DjangoModelFactory):
    class Meta:
        model = Tag

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Tag {n}")


class ProcedureFactory(DjangoModelFactory):
    class Meta:
        model = Procedure

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"P{n}")
    name = factory.Sequence(lambda n: f"Procedure {n}")
    category = "restorative"
    ladder_tier = "regular"
    default_duration_minutes = 30


class ProcedurePriceFactory(DjangoModelFactory):
    class Meta:
        model = ProcedurePrice

    procedure = factory.SubFactory(ProcedureFactory)
    branch = factory.SubFactory(BranchFactory)
    price = 500000
    standard_cost = 100000


class PatientFactory(DjangoModelFactory):
    """A patient whose search key is kept as the services keep it."""

    class Meta:
        model = Patient
        skip_postgeneration_save = True

    home_branch = factory.SubFactory(BranchFactory)
    organization = factory.LazyAttribute(lambda p: p.home_branch.organization)
    number = factory.Sequence(lambda n: f"T{n:06d}")
    family_name = "Nguyễn"
    given_name = factory.Sequence(lambda n: f"Văn {n}")
    name_order = "family_first"
    display_name = factory.LazyAttribute(lambda p: f"{p.family_name} {p.given_name}")

    @factory.post_generation
    def phone(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        phones = [extracted] if extracted else []
        if create and extracted:
            PatientPhone.objects.create(patient=self, number=extracted, is_primary=True)
        self.search_key = build_search_key(
            display_name=self.display_name, family_name=self.family_name,
            given_name=self.given_name, number=self.number, phones=phones,
        )  # fmt: skip
        if create:
            self.save(update_fields=["search_key"])
