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


# --- the appointment book ------------------------------------------------------------------
# Imports here rather than at the top, so helpers appending to this file do not collide.
from datetime import UTC, datetime, timedelta  # noqa: E402

from chairtime.scheduling.models import (  # noqa: E402
    Appointment,
    Equipment,
    TimeOff,
    WorkingHours,
)
from chairtime.tenancy.roles import Role  # noqa: E402

MONDAY_TO_SATURDAY = range(6)


class WorkingHoursFactory(DjangoModelFactory):
    class Meta:
        model = WorkingHours

    branch = factory.SubFactory(BranchFactory)
    staff = factory.SubFactory(UserFactory)
    weekday = 0
    starts_at = time(8)
    ends_at = time(20)


class TimeOffFactory(DjangoModelFactory):
    """A branch holiday unless `staff` is given (then that person's leave)."""

    class Meta:
        model = TimeOff

    branch = factory.SubFactory(BranchFactory)
    staff = None
    kind = "holiday"
    starts_at = datetime(2030, 1, 1, tzinfo=UTC)
    ends_at = factory.LazyAttribute(lambda t: t.starts_at + timedelta(days=1))


class EquipmentFactory(DjangoModelFactory):
    class Meta:
        model = Equipment

    branch = factory.SubFactory(BranchFactory)
    code = factory.Sequence(lambda n: f"equipment-{n}")
    name = factory.Sequence(lambda n: f"Equipment {n}")
    capacity = 1


class AppointmentFactory(DjangoModelFactory):
    """A row written straight to the table, bypassing the services: for filling a calendar
    before a test, and for testing the database's own no-overlap rule. 30 minutes plus a
    10-minute cleaning buffer unless told otherwise."""

    class Meta:
        model = Appointment

    branch = factory.SubFactory(BranchFactory)
    patient = factory.SubFactory(PatientFactory, home_branch=factory.SelfAttribute("..branch"))
    procedure = factory.SubFactory(
        ProcedureFactory, organization=factory.SelfAttribute("..branch.organization")
    )
    doctor = factory.SubFactory(UserFactory)
    chair = factory.SubFactory(ChairFactory, branch=factory.SelfAttribute("..branch"))
    starts_at = datetime(2030, 1, 7, 2, 0, tzinfo=UTC)
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + timedelta(minutes=30))
    blocked_until = factory.LazyAttribute(lambda a: a.ends_at + timedelta(minutes=10))


def open_branch(
    branch: Branch, *, weekdays: range = MONDAY_TO_SATURDAY, opens_at: time = time(8),
    closes_at: time = time(20),
) -> None:  # fmt: skip
    """Opening hours for the branch (chairs and equipment follow them): Mon-Sat 08-20."""
    for weekday in weekdays:
        OpeningHoursFactory(branch=branch, weekday=weekday, opens_at=opens_at, closes_at=closes_at)


def _clinician(
    branch: Branch, role: Role, categories: list[str], weekdays: range, **user_fields: object
) -> User:
    user = UserFactory(**user_fields)
    StaffProfileFactory(user=user, procedure_categories=categories)
    MembershipFactory(user=user, branch=branch, role=role)
    for weekday in weekdays:
        WorkingHoursFactory(branch=branch, staff=user, weekday=weekday)
    return user


def make_doctor(
    branch: Branch,
    *,
    categories: tuple[str, ...] = ("restorative", "hygiene", "orthodontic", "implant"),
    weekdays: range = MONDAY_TO_SATURDAY,
    **user_fields: object,
) -> User:
    """A doctor of the branch: profile qualified for `categories`, a doctor membership in
    the branch, working hours 08:00-20:00 on `weekdays` (Mon-Sat)."""
    return _clinician(branch, Role.DOCTOR, list(categories), weekdays, **user_fields)


def make_nurse(
    branch: Branch, *, weekdays: range = MONDAY_TO_SATURDAY, **user_fields: object
) -> User:
    """A nurse (assistant) of the branch, working 08:00-20:00 on `weekdays` (Mon-Sat)."""
    return _clinician(branch, Role.NURSE, [], weekdays, **user_fields)


# --- procedures performed (billing tests) ---------------------------------------------------
from decimal import Decimal  # noqa: E402

from chairtime.clinical.models import PerformedProcedure  # noqa: E402


class PerformedProcedureFactory(DjangoModelFactory):
    """Production written straight to the table (the clinical services record it when a
    visit is completed): one unit at 500,000 unless told otherwise; `amount` follows."""

    class Meta:
        model = PerformedProcedure

    branch = factory.SubFactory(BranchFactory)
    patient = factory.SubFactory(PatientFactory, home_branch=factory.SelfAttribute("..branch"))
    procedure = factory.SubFactory(
        ProcedureFactory, organization=factory.SelfAttribute("..branch.organization")
    )
    doctor = factory.SubFactory(UserFactory)
    performed_at = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)
    chair_minutes = 30
    quantity = 1
    unit_price = Decimal("500000")
    discount = Decimal("0")
    amount = factory.LazyAttribute(lambda p: p.quantity * Decimal(p.unit_price) - p.discount)


# --- the patient CRM: computed profiles (written straight to the table in tests) ----------
from chairtime.crm.models import PatientProfile  # noqa: E402


class PatientProfileFactory(DjangoModelFactory):
    """A profile as crm.profiles would compute it; tests set only the figures they read."""

    class Meta:
        model = PatientProfile

    patient = factory.SubFactory(PatientFactory)
    organization = factory.LazyAttribute(lambda p: p.patient.organization)
    home_branch = factory.LazyAttribute(lambda p: p.patient.home_branch)
    birth_date = factory.LazyAttribute(lambda p: p.patient.birth_date)
    birth_month = factory.LazyAttribute(
        lambda p: p.birth_date.month if p.birth_date is not None else None
    )
    computed_at = datetime(2030, 1, 1, tzinfo=UTC)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        """Overwrite a profile crm.profiles' signals may already have computed (tests that
        commit, such as browser tests, run them)."""
        patient = kwargs.pop("patient")
        profile, _created = model_class.objects.update_or_create(patient=patient, defaults=kwargs)
        return profile
