"""The clinic simulator: what it makes, that it makes the same thing again, and that what
it makes is valid data the rest of Chairtime can work with."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import phonenumbers
import pytest
from django.core.management import CommandError, call_command
from django.core.validators import validate_email

from chairtime.accounts.models import StaffProfile, User
from chairtime.billing.models import Invoice, Payment
from chairtime.clinical.models import (
    ProcedureCategory,
    ProcedurePrice,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.core.text import fold
from chairtime.patients.choices import NameOrder
from chairtime.patients.models import MedicalAlert, Patient, PatientPhone
from chairtime.patients.selectors import list_patients
from chairtime.patients.services import PatientData, PhoneData, create_patient
from chairtime.scheduling.models import Appointment, Chair
from chairtime.simulation.catalogue import CATALOGUE
from chairtime.simulation.countries import SPAIN, VIETNAM
from chairtime.simulation.demo import DEMO_PASSWORD
from chairtime.simulation.generator import SimulationConfig, SimulationResult, simulate
from chairtime.simulation.tests.conftest import simulated_once
from chairtime.tenancy.models import Branch, Membership, Organization
from chairtime.tenancy.roles import Role

pytestmark = pytest.mark.django_db

MOBILE = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}

SMALL = SimulationConfig(
    seed=7, slug="small", organization_name="Small Dental", countries=("VN", "CN", "ES"),
    branches=3, patients=300, min_chairs=2, max_chairs=5, batch_size=100, history_days=7,
    future_days=7,
)  # fmt: skip
# The appointment book has tests of its own (test_appointments.py).


small = simulated_once(SMALL)


def patients_of(result: SimulationResult, country: str) -> list[Patient]:
    return list(
        Patient.objects.filter(organization=result.organization, home_branch__country=country)
    )


def fingerprint(organization: Organization) -> list[tuple[object, ...]]:
    """What a patient looks like, without database ids (they differ between runs)."""
    patients = (
        Patient.objects.filter(organization=organization)
        .order_by("number")
        .prefetch_related("phones")
    )
    return [
        (p.number, p.display_name, p.birth_date, [phone.number for phone in p.phones.all()])
        for p in patients
    ]


# --- what one run makes ------------------------------------------------------------------
def test_makes_the_configured_branches_one_per_country_in_turn(small):
    branches = Branch.objects.filter(organization=small.organization).order_by("code")
    assert [(b.code, b.country, b.currency) for b in branches] == [
        ("b001", "VN", "VND"), ("b002", "CN", "CNY"), ("b003", "ES", "EUR"),
    ]  # fmt: skip
    assert small.branches == list(branches)


def test_makes_every_patient_numbered_in_order(small):
    numbers = list(
        Patient.objects.filter(organization=small.organization)
        .order_by("number")
        .values_list("number", flat=True)
    )
    assert small.patients == 300
    assert numbers == [f"P{n:06d}" for n in range(1, 301)]
    small.organization.refresh_from_db()
    assert small.organization.patient_number_seq == 300


def test_gives_each_branch_chairs_within_the_configured_range(small):
    for branch in small.branches:
        chairs = Chair.objects.filter(branch=branch).count()
        assert SMALL.min_chairs <= chairs <= SMALL.max_chairs, branch.code


def test_staffs_each_branch_with_a_manager_and_doctors_by_chair_count(small):
    for branch in small.branches:
        chairs = Chair.objects.filter(branch=branch).count()
        roles = list(Membership.objects.filter(branch=branch).values_list("role", flat=True))
        assert roles.count(Role.BRANCH_MANAGER) == 1
        assert roles.count(Role.DOCTOR) == max(2, chairs * 4 // 5)
        assert roles.count(Role.NURSE) == chairs
        doctors = User.objects.filter(memberships__branch=branch, memberships__role=Role.DOCTOR)
        assert StaffProfile.objects.filter(user__in=doctors).count() == doctors.count()


def test_gives_the_organisation_an_owner_a_marketer_and_an_analyst(small):
    org_wide = Membership.objects.filter(organization=small.organization, branch__isnull=True)
    assert sorted(org_wide.values_list("role", flat=True)) == sorted(
        [Role.ANALYST, Role.MARKETER, Role.OWNER]
    )
    branch_staff = Membership.objects.filter(organization=small.organization, branch__isnull=False)
    assert branch_staff.count() == small.staff  # the result counts branch staff only
    assert branch_staff.values("user").distinct().count() == small.staff


def test_spreads_patients_over_every_branch(small):
    for branch in small.branches:
        assert Patient.objects.filter(home_branch=branch).exists(), branch.code


# --- the same seed gives the same organisation -------------------------------------------
def test_same_seed_makes_the_same_patients_in_another_organisation(small):
    again = simulate(dataclasses.replace(SMALL, slug="small-again"))

    assert again.organization.pk != small.organization.pk
    first, second = fingerprint(small.organization), fingerprint(again.organization)
    assert len(first) == 300
    assert first == second


def test_another_seed_makes_other_patients(small):
    other = simulate(dataclasses.replace(SMALL, slug="small-other", seed=8))

    assert fingerprint(other.organization) != fingerprint(small.organization)


# --- the data is valid -------------------------------------------------------------------
def test_every_phone_is_a_valid_number_of_its_branch_country(small):
    phones = PatientPhone.objects.filter(patient__organization=small.organization)
    checked = 0
    for number, country in phones.values_list("number", "patient__home_branch__country"):
        parsed = phonenumbers.parse(number)
        assert phonenumbers.is_valid_number(parsed), number
        assert phonenumbers.region_code_for_number(parsed) == country, number
        assert phonenumbers.number_type(parsed) in MOBILE, number
        checked += 1
    assert checked >= 300  # one mobile each, some have a second phone
    for branch in small.branches:
        assert phonenumbers.region_code_for_number(phonenumbers.parse(branch.phone)) == (
            branch.country
        )


def test_every_email_is_a_valid_address(small):
    emails = list(
        Patient.objects.filter(organization=small.organization)
        .exclude(email="")
        .values_list("email", "home_branch__country")
    )
    assert {country for _, country in emails} == {"VN", "CN", "ES"}
    for email, _ in emails:
        validate_email(email)


def test_every_patient_passes_the_models_own_validation(small):
    for patient in Patient.objects.filter(organization=small.organization):
        patient.full_clean()


def test_every_patient_has_exactly_one_primary_phone(small):
    primaries = PatientPhone.objects.filter(
        patient__organization=small.organization, is_primary=True
    )
    assert primaries.count() == 300
    assert primaries.values("patient").distinct().count() == 300


def test_vietnamese_patients_have_vietnamese_family_names_written_first(small):
    patients = patients_of(small, "VN")
    assert patients
    for patient in patients:
        assert patient.family_name in VIETNAM.family_names
        assert patient.name_order == NameOrder.FAMILY_FIRST
        assert patient.display_name == f"{patient.family_name} {patient.given_name}"


def test_chinese_patients_names_are_written_without_a_space(small):
    patients = patients_of(small, "CN")
    assert patients
    for patient in patients:
        assert patient.display_name == patient.family_name + patient.given_name


def test_spanish_patients_have_two_surnames_after_the_given_name(small):
    patients = patients_of(small, "ES")
    assert patients
    for patient in patients:
        surnames = patient.family_name.split(" ")
        assert len(surnames) == 2, patient.family_name
        assert all(surname in SPAIN.family_names for surname in surnames)
        assert patient.name_order == NameOrder.GIVEN_FIRST
        assert patient.display_name == f"{patient.given_name} {patient.family_name}"


def test_referrals_point_at_earlier_patients_of_the_same_branch(small):
    referred = Patient.objects.filter(
        organization=small.organization, referred_by_patient__isnull=False
    ).select_related("referred_by_patient")
    assert referred.exists()
    for patient in referred:
        referrer = patient.referred_by_patient
        assert referrer.home_branch_id == patient.home_branch_id
        assert referrer.number < patient.number
        assert referrer.first_seen_on <= patient.first_seen_on


def test_patient_numbers_follow_first_visits_and_registration_times(small):
    patients = list(Patient.objects.filter(organization=small.organization).order_by("number"))
    first_visits = [patient.first_seen_on for patient in patients]
    assert first_visits == sorted(first_visits)
    assert first_visits[-1] == SimulationConfig().as_of
    for patient in patients:
        local = patient.created_at.astimezone(patient.home_branch.zone)
        assert (local.date(), local.hour) == (patient.first_seen_on, 10)


def test_pregnancy_alerts_only_for_women_of_childbearing_age_and_no_email_for_children():
    result = simulate(
        SimulationConfig(
            slug="alerts", patients=3000, seed=5, batch_size=1000, history_days=0, future_days=0
        )
    )
    pregnant = MedicalAlert.objects.filter(
        patient__organization=result.organization, kind="pregnancy"
    ).select_related("patient")
    assert pregnant.exists()
    for alert in pregnant:
        assert alert.patient.sex == "female"
        if alert.patient.birth_date is not None:  # 5% do not give a birth date
            age = (alert.patient.first_seen_on - alert.patient.birth_date).days // 365
            assert 18 <= age <= 45
    children_with_email = [
        patient
        for patient in Patient.objects.filter(
            organization=result.organization, birth_date__isnull=False
        ).exclude(email="")
        if (patient.first_seen_on - patient.birth_date).days // 365 < 16
    ]
    assert children_with_email == []


def test_search_finds_a_generated_vietnamese_patient_by_the_name_typed_without_accents(small):
    patient = patients_of(small, "VN")[0]
    query = fold(patient.display_name)
    assert query.isascii()

    found = list(list_patients(branch=patient.home_branch, query=query))

    assert patient in found
    assert found == list(list_patients(branch=patient.home_branch, query=patient.display_name))


def test_search_finds_a_generated_patient_by_the_national_phone_number(small):
    patient = patients_of(small, "VN")[0]
    primary = patient.phones.get(is_primary=True).number  # +84 9x xxx xxxx
    national = "0" + primary.removeprefix("+84")

    assert list(list_patients(branch=patient.home_branch, query=national)) == [patient]


def test_prices_are_rounded_the_way_each_country_rounds_them(small):
    prices = ProcedurePrice.objects.filter(branch__organization=small.organization)
    assert prices.count() == 3 * len(CATALOGUE)
    for price in prices.select_related("branch"):
        assert 0 <= price.standard_cost < price.price
        if price.branch.currency == "VND":
            assert price.price == price.price.to_integral_value()
            assert price.price % 50_000 == 0, price
            assert price.standard_cost == price.standard_cost.to_integral_value()
        elif price.branch.currency == "EUR":
            assert price.price % 5 == 0, price
        else:
            assert price.price % 10 == 0, price


def test_vietnamese_examination_costs_five_hundred_thousand_dong(small):
    price = ProcedurePrice.objects.get(branch=small.branches[0], procedure__code="EXAM")
    assert price.price == Decimal(500_000)


def test_new_patients_can_be_registered_after_the_simulator_chose_ids_itself(small):
    owner = User.objects.get(username="small-owner")
    branch = small.branches[0]

    patient = create_patient(
        actor=owner,
        data=PatientData(
            family_name="Lê", given_name="Văn Tám", name_order=NameOrder.FAMILY_FIRST,
            home_branch=branch, phones=[PhoneData("+84987654321")],
        ),
    )  # fmt: skip

    assert patient.number == "P000301"
    assert patient.pk > max(Patient.objects.exclude(pk=patient.pk).values_list("pk", flat=True))
    assert list(patient.phones.values_list("number", flat=True)) == ["+84987654321"]


def test_refuses_an_unknown_country():
    with pytest.raises(ValueError, match="countries: 'FR' is not one of VN, CN, ES, US"):
        simulate(dataclasses.replace(SMALL, countries=("VN", "FR"), slug="refused"))
    assert not Organization.objects.filter(slug="refused").exists()


# --- the commands --------------------------------------------------------------------------
def test_simulate_command_makes_an_organisation_of_the_given_size():
    output = StringIO()

    call_command(
        "simulate", "--size", "clinic", "--patients", "40", "--seed", "3", "--slug", "cmd",
        "--name", "Command Dental", "--history-days", "14", "--future-days", "7",
        "--verbosity", "0", stdout=output,
    )  # fmt: skip

    organization = Organization.objects.get(slug="cmd")
    assert organization.name == "Command Dental"
    assert organization.branches.count() == 1
    assert Patient.objects.filter(organization=organization).count() == 40
    assert output.getvalue().startswith("Command Dental: 1 branches, ")
    assert " staff, 40 patients in " in output.getvalue()
    made = Appointment.objects.filter(branch__organization=organization)
    assert made.filter(starts_at__lt=datetime(2026, 10, 18, tzinfo=UTC)).count() == 0
    assert made.filter(starts_at__gte=datetime(2026, 11, 8, tzinfo=UTC)).count() == 0
    made = made.count()
    assert made > 0
    assert f"; {made} appointments (" in output.getvalue()


def test_simulate_command_refuses_a_slug_that_exists():
    call_command("simulate", "--size", "clinic", "--patients", "5", "--slug", "cmd", "-v", "0")

    with pytest.raises(CommandError, match="--slug: an organisation called 'cmd' exists already"):
        call_command("simulate", "--size", "clinic", "--patients", "5", "--slug", "cmd", "-v", "0")
    assert Organization.objects.filter(slug="cmd").count() == 1


def test_simulate_command_refuses_an_unknown_country():
    with pytest.raises(CommandError, match="countries: 'XX' is not one of"):
        call_command("simulate", "--countries", "VN,XX", "--patients", "5", "-v", "0")


def test_demo_command_without_serving_makes_one_login_per_role_and_only_one_chain():
    output = StringIO()

    call_command("demo", "--no-serve", stdout=output, stderr=StringIO())
    call_command("demo", "--no-serve", stdout=output, stderr=StringIO())

    organization = Organization.objects.get(slug="nucuoi")  # the only one it made
    assert Organization.objects.filter(slug__startswith="nucuoi").count() == 1
    logins = User.objects.filter(last_name="Demo").order_by("username")
    assert sorted(login.username for login in logins) == sorted(
        role.value.replace("_", "-") for role in Role
    )
    assert len(logins) == 9
    for login in logins:
        assert login.check_password(DEMO_PASSWORD), login.username
        roles = set(login.memberships.values_list("role", flat=True))
        assert roles == {login.username.replace("-", "_")}
        assert set(login.memberships.values_list("organization", flat=True)) == {organization.pk}
    manager = logins.get(username="branch-manager")
    assert manager.memberships.count() == 2  # two branches, to try the switcher
    first = organization.branches.order_by("code").first()
    for login in (logins.get(username="doctor"), logins.get(username="nurse")):
        # Bookable: qualified for everything, at work whenever the first branch is open.
        assert set(login.staff_profile.procedure_categories) == set(ProcedureCategory.values)
        assert sorted(
            login.working_hours.values_list("branch", "weekday", "starts_at", "ends_at")
        ) == sorted(first.opening_hours.values_list("branch", "weekday", "opens_at", "closes_at"))
    assert Appointment.objects.filter(branch__organization=organization).count() > 10_000
    assert output.getvalue().count("Demo logins (password: chairtime-demo)") == 2
    # The demo logins' branches have plans, unscheduled treatment, invoices and payments.
    for branch in organization.branches.order_by("code")[:2]:
        plans = TreatmentPlan.objects.filter(branch=branch)
        assert plans.filter(status="proposed").exists(), branch.code
        assert plans.filter(status="in_progress").exists(), branch.code
        assert TreatmentItem.objects.filter(
            status="planned", option__status="accepted", option__plan__branch=branch,
            option__plan__status__in=["accepted", "in_progress"],
        ).exists()  # fmt: skip
        assert Invoice.objects.filter(branch=branch, status="open").exists(), branch.code
        assert Payment.objects.filter(branch=branch, kind="deposit").exists(), branch.code
