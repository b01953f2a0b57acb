"""PatientForm: every rule, once through the "new patient" page and once on the form itself.

Bad input names the field and the reason and changes nothing: no patient, no audit event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.patients.forms import PatientForm
from chairtime.patients.models import Patient, PatientPhone
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory

Errors = dict[str, list[str]]
CREATE_URL = reverse("patients:patient_create")


@dataclass
class Submitted:
    """What became of one submission: the form's errors, and whether a patient was made."""

    errors: Errors
    is_saved: bool


def minimal_input(world: World, **changes: Any) -> dict[str, Any]:
    """The smallest valid new-patient input, with the given fields changed."""
    data: dict[str, Any] = {
        "family_name": "Nguyễn",
        "given_name": "Văn An",
        "name_order": "family_first",
        "home_branch": world.branch_a.pk,
        "sex": "unknown",
        "status": "active",
    }
    data.update(changes)
    return data


@pytest.fixture
def receptionist(persona: Callable[[Role], User]) -> User:
    return persona(Role.RECEPTIONIST)


@pytest.fixture(params=["page", "form"])
def submit(
    request: pytest.FixtureRequest, world: World, receptionist: User, client: Client
) -> Callable[[dict[str, Any]], Submitted]:
    """Submit patient input through POST /patients/new/ or straight to the form."""

    def through_page(data: dict[str, Any]) -> Submitted:
        client.force_login(receptionist)
        response = client.post(CREATE_URL, data)
        if response.status_code == 302:
            return Submitted(errors={}, is_saved=True)
        assert response.status_code == 200
        errors = {
            field: list(messages) for field, messages in response.context["form"].errors.items()
        }
        return Submitted(errors=errors, is_saved=False)

    def through_form(data: dict[str, Any]) -> Submitted:
        access = get_branch_access(receptionist, world.branch_a.pk)
        form = PatientForm(data, access=access)
        is_valid = form.is_valid()
        errors = {field: list(messages) for field, messages in form.errors.items()}
        return Submitted(errors=errors, is_saved=is_valid)

    return through_page if request.param == "page" else through_form


@pytest.fixture
def counts() -> Callable[[], tuple[int, int]]:
    """Patients and audit events on file, to show that bad input changed nothing."""
    return lambda: (Patient.objects.count(), AuditEvent.objects.count())


def test_rejects_a_phone_number_too_short(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, phone="12345"))
    assert result.errors == {
        "phone": ["“12345” is not a valid phone number. Write it like +84 912 345 678."]
    }
    assert counts() == before


def test_rejects_a_phone_number_of_letters(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, phone="call me"))
    assert result.errors == {
        "phone": ["“call me” is not a valid phone number. Write it like +84 912 345 678."]
    }
    assert counts() == before


def test_rejects_an_invalid_other_phone(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, phone="0912345678", phone_alt="abc"))
    assert result.errors == {
        "phone_alt": ["“abc” is not a valid phone number. Write it like +84 912 345 678."]
    }
    assert counts() == before


def test_reads_a_national_phone_number_in_the_branch_country(
    world: World, receptionist: User
) -> None:
    access = get_branch_access(receptionist, world.branch_a.pk)
    form = PatientForm(minimal_input(world, phone="0912 345 678"), access=access)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+84912345678"


def test_stores_a_national_phone_number_as_e164_through_the_page(
    world: World, receptionist: User, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(receptionist).post(CREATE_URL, minimal_input(world, phone="0912345678"))
    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("patients:patient_detail", args=[patient.pk])
    assert list(PatientPhone.objects.values_list("patient_id", "number", "is_primary")) == [
        (patient.pk, "+84912345678", True)
    ]


def test_reads_a_national_phone_number_in_the_home_branch_country(
    world: World, persona: Callable[[Role], User]
) -> None:
    """A Spanish home branch reads "612 34 56 78" as a Spanish mobile, not a Vietnamese one."""
    world.branch_b.country = "ES"
    world.branch_b.save(update_fields=["country"])
    access = get_branch_access(persona(Role.OWNER), world.branch_a.pk)
    form = PatientForm(
        minimal_input(world, home_branch=world.branch_b.pk, phone="612 34 56 78"), access=access
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["phone"] == "+34612345678"


def test_rejects_a_birth_date_in_the_future(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    tomorrow_everywhere = timezone.now().date() + timedelta(days=2)
    result = submit(minimal_input(world, birth_date=tomorrow_everywhere.isoformat()))
    assert result.errors == {"birth_date": ["The birth date is in the future."]}
    assert counts() == before


def test_rejects_a_birth_date_more_than_130_years_ago(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, birth_date="1800-01-01"))
    assert result.errors == {"birth_date": ["The birth date is more than 130 years ago."]}
    assert counts() == before


def test_rejects_a_birth_date_that_does_not_exist(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, birth_date="2023-02-30"))
    assert result.errors == {"birth_date": ["Enter a valid date."]}
    assert counts() == before


def test_rejects_a_patient_number_taken_in_the_organisation_whatever_the_case(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    PatientFactory(home_branch=world.branch_b, number="P000042")
    before = counts()
    result = submit(minimal_input(world, number="p000042"))
    assert result.errors == {"number": ["Another patient already has this number."]}
    assert counts() == before


def test_accepts_a_patient_number_taken_only_in_another_organisation(
    world: World, submit: Callable[..., Submitted]
) -> None:
    PatientFactory(home_branch=world.rival_branch, number="P000042")
    result = submit(minimal_input(world, number="P000042"))
    assert result == Submitted(errors={}, is_saved=True)


def test_saves_the_number_taken_only_in_another_organisation(
    world: World, receptionist: User, logged_in: Callable[[User], Client]
) -> None:
    rival_patient = PatientFactory(home_branch=world.rival_branch, number="P000042")
    response = logged_in(receptionist).post(CREATE_URL, minimal_input(world, number="P000042"))
    assert response.status_code == 302
    assert sorted(Patient.objects.values_list("organization_id", "number")) == sorted(
        [(rival_patient.organization_id, "P000042"), (world.acme.pk, "P000042")]
    )


def test_rejects_a_patient_number_with_other_characters(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, number="P 42/7"))
    assert result.errors == {"number": ["Use letters, digits and dashes only (at most 20)."]}
    assert counts() == before


def test_requires_a_consent_origin_when_a_consent_box_is_ticked(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, consent_service=["sms"]))
    assert result.errors == {
        "consent_origin": ["Say where this consent comes from (form, verbal, …)."]
    }
    assert counts() == before


def test_requires_a_consent_origin_for_marketing_consent_too(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, consent_marketing=["zalo", "email"]))
    assert result.errors == {
        "consent_origin": ["Say where this consent comes from (form, verbal, …)."]
    }
    assert counts() == before


def test_rejects_an_unknown_referrer_number(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    PatientFactory(home_branch=world.branch_a, number="P000001")
    before = counts()
    result = submit(minimal_input(world, referred_by_number="P999999"))
    assert result.errors == {"referred_by_number": ["No patient with this number."]}
    assert counts() == before


def test_rejects_a_referrer_number_from_another_organisation(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    PatientFactory(home_branch=world.rival_branch, number="R000001")
    before = counts()
    result = submit(minimal_input(world, referred_by_number="R000001"))
    assert result.errors == {"referred_by_number": ["No patient with this number."]}
    assert counts() == before


def test_links_a_referrer_of_the_organisation_by_number_in_any_case(
    world: World, receptionist: User, logged_in: Callable[[User], Client]
) -> None:
    referrer = PatientFactory(home_branch=world.branch_b, number="P000007")
    response = logged_in(receptionist).post(
        CREATE_URL, minimal_input(world, referred_by_number="p000007")
    )
    assert response.status_code == 302
    assert Patient.objects.exclude(pk=referrer.pk).get().referred_by_patient_id == referrer.pk


def test_rejects_the_same_number_for_both_phones(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, phone="0912345678", phone_alt="+84 912 345 678"))
    assert result.errors == {"phone_alt": ["This is the same number as the mobile phone."]}
    assert counts() == before


def test_requires_a_family_name(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, family_name=""))
    assert result.errors == {"family_name": ["This field is required."]}
    assert counts() == before


def test_refuses_a_home_branch_the_user_does_not_work_in(
    world: World, submit: Callable[..., Submitted], counts: Callable[[], tuple[int, int]]
) -> None:
    before = counts()
    result = submit(minimal_input(world, home_branch=world.branch_b.pk))
    assert result.errors == {
        "home_branch": ["Select a valid choice. That choice is not one of the available choices."]
    }
    assert counts() == before


def test_page_shows_the_error_summary_with_the_field_label_in_english(
    world: World, receptionist: User, logged_in: Callable[[User], Client]
) -> None:
    before = (Patient.objects.count(), AuditEvent.objects.count())
    response = logged_in(receptionist).post(CREATE_URL, minimal_input(world, phone="12345"))
    content = response.content.decode()
    assert response.status_code == 200
    assert 'class="error-summary"' in content
    assert "Nothing was saved. Please correct:" in content
    assert (
        '<li><a href="#id_phone">Mobile phone</a>: '
        "“12345” is not a valid phone number. Write it like +84 912 345 678.</li>"
    ) in content
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before


def test_page_shows_the_error_summary_in_vietnamese_for_the_language_cookie(
    world: World, receptionist: User, logged_in: Callable[[User], Client]
) -> None:
    client = logged_in(receptionist)
    client.cookies["chairtime_language"] = "vi"
    before = (Patient.objects.count(), AuditEvent.objects.count())
    response = client.post(CREATE_URL, minimal_input(world, phone="12345"))
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "vi"
    assert 'class="error-summary"' in response.content.decode()
    assert (Patient.objects.count(), AuditEvent.objects.count()) == before
