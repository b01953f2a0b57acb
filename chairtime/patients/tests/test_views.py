"""Patient pages: the audited detail page, editing, consents and alerts over htmx, the trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.patients.forms import PatientForm
from chairtime.patients.models import Consent, MedicalAlert, Patient
from chairtime.patients.services import (
    ConsentChoice,
    PatientData,
    PhoneData,
    add_medical_alert,
    create_patient,
    record_consents,
)
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory

HTMX = {"HX-Request": "true"}


@pytest.fixture
def receptionist(persona: Callable[[Role], User]) -> User:
    return persona(Role.RECEPTIONIST)


@pytest.fixture
def patient(world: World, receptionist: User) -> Patient:
    return create_patient(
        actor=receptionist,
        data=PatientData(
            family_name="Nguyễn", given_name="Văn An", name_order="family_first",
            home_branch=world.branch_a, phones=[PhoneData("+84912345678")],
        ),
    )  # fmt: skip


def url(name: str, patient: Patient) -> str:
    return reverse(f"patients:{name}", args=[patient.pk])


# --- detail ------------------------------------------------------------------------------


def test_detail_records_one_view_event_per_open_with_actor_and_address(
    world: World, receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    client = logged_in(receptionist)
    before = AuditEvent.objects.count()

    first = client.get(url("patient_detail", patient), REMOTE_ADDR="203.0.113.9")
    second = client.get(url("patient_detail", patient), REMOTE_ADDR="203.0.113.10")

    assert (first.status_code, second.status_code) == (200, 200)
    views = AuditEvent.objects.filter(action="view").order_by("id")
    assert AuditEvent.objects.count() == before + 2
    assert [
        (e.actor_id, e.actor_label, e.patient_id, e.branch_id, e.object_id, e.ip_address)
        for e in views
    ] == [
        (receptionist.pk, str(receptionist), patient.pk, world.branch_a.pk, str(patient.pk),
         "203.0.113.9"),
        (receptionist.pk, str(receptionist), patient.pk, world.branch_a.pk, str(patient.pk),
         "203.0.113.10"),
    ]  # fmt: skip


def test_detail_view_event_names_the_branch_the_user_works_in(
    world: World, patient: Patient, persona: Callable[[Role], User], client: Client
) -> None:
    owner = persona(Role.OWNER)
    client.force_login(owner)
    session = client.session
    session["active_branch_id"] = world.branch_b.pk
    session.save()

    assert client.get(url("patient_detail", patient)).status_code == 200

    event = AuditEvent.objects.get(action="view")
    assert (event.actor_id, event.branch_id, event.patient_id) == (
        owner.pk, world.branch_b.pk, patient.pk,
    )  # fmt: skip


def test_detail_of_another_organisation_patient_is_not_found_and_not_audited(
    world: World, receptionist: User, logged_in: Callable[[User], Client]
) -> None:
    stranger = PatientFactory(home_branch=world.rival_branch)
    before = AuditEvent.objects.count()
    response = logged_in(receptionist).get(url("patient_detail", stranger))
    assert response.status_code == 404
    assert AuditEvent.objects.count() == before


def test_detail_shows_the_patient(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    content = logged_in(receptionist).get(url("patient_detail", patient)).content.decode()
    assert "<h1>Nguyễn Văn An</h1>" in content
    assert "+84912345678 (Mobile)" in content


# --- edit --------------------------------------------------------------------------------


def edit_input(patient: Patient, **changes: Any) -> dict[str, Any]:
    """What the edit page posts back when the user changes only the given fields."""
    data = {
        name: value for name, value in PatientForm.initial_for(patient).items() if value is not None
    }
    data.update(changes)
    return data


def test_edit_page_shows_the_patient_values(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(receptionist).get(url("patient_edit", patient))
    assert response.status_code == 200
    form = response.context["form"]
    assert (form["family_name"].value(), form["phone"].value(), form["number"].value()) == (
        "Nguyễn", "+84912345678", "P000001",
    )  # fmt: skip
    assert "consent_origin" not in form.fields


def test_edit_page_saves_and_redirects_to_the_patient(
    world: World, receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(receptionist).post(
        url("patient_edit", patient),
        edit_input(patient, given_name="Văn Bình", display_name="", phone="0987 654 321"),
    )
    assert response.status_code == 302
    assert response.url == url("patient_detail", patient)
    patient.refresh_from_db()
    assert (patient.given_name, patient.display_name) == ("Văn Bình", "Nguyễn Văn Bình")
    assert list(patient.phones.values_list("number", flat=True)) == ["+84987654321"]
    event = AuditEvent.objects.get(action="update")
    assert event.changes == {
        "display_name": ["Nguyễn Văn An", "Nguyễn Văn Bình"],
        "given_name": ["Văn An", "Văn Bình"],
        "phones": [["+84912345678"], ["+84987654321"]],
    }


def test_edit_page_with_bad_input_changes_nothing(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    before = AuditEvent.objects.count()
    response = logged_in(receptionist).post(
        url("patient_edit", patient), edit_input(patient, given_name="Văn Bình", phone="12")
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["phone"]
    patient.refresh_from_db()
    assert patient.given_name == "Văn An"
    assert AuditEvent.objects.count() == before


def test_edit_page_refuses_the_patient_as_their_own_referrer(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(receptionist).post(
        url("patient_edit", patient), edit_input(patient, referred_by_number="P000001")
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "referred_by_number": ["A patient cannot refer themselves."]
    }
    patient.refresh_from_db()
    assert patient.referred_by_patient_id is None


def test_edit_page_is_not_found_for_a_nurse(
    persona: Callable[[Role], User], patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(persona(Role.NURSE)).post(
        url("patient_edit", patient), edit_input(patient, given_name="Văn Bình")
    )
    assert response.status_code == 404
    patient.refresh_from_db()
    assert patient.given_name == "Văn An"


# --- consents over htmx ----------------------------------------------------------------------


def test_consent_form_records_rows_and_answers_with_the_consent_section(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(receptionist).post(
        url("patient_consents", patient),
        {"consent_service": ["sms", "zalo"], "consent_marketing": ["email"], "origin": "verbal"},
        headers=HTMX,
    )
    content = response.content.decode().strip()
    assert response.status_code == 200
    assert content.startswith('<section class="card" id="consents">')
    assert "<html" not in content
    assert sorted(
        Consent.objects.filter(patient=patient).values_list(
            "channel", "purpose", "is_granted", "origin", "recorded_by"
        )
    ) == [
        ("email", "marketing", True, "verbal", receptionist.pk),
        ("sms", "service", True, "verbal", receptionist.pk),
        ("zalo", "service", True, "verbal", receptionist.pk),
    ]


def test_consent_form_unticking_a_box_records_a_refusal(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    record_consents(
        actor=receptionist, patient=patient, origin="paper_form",
        choices=[ConsentChoice("sms", "service", True), ConsentChoice("sms", "marketing", True)],
    )  # fmt: skip
    response = logged_in(receptionist).post(
        url("patient_consents", patient),
        {"consent_service": ["sms"], "origin": "message_reply", "note": "Replied STOP"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert list(
        Consent.objects.filter(patient=patient).values_list(
            "channel", "purpose", "is_granted", "origin", "note"
        )
    ) == [
        ("sms", "marketing", False, "message_reply", "Replied STOP"),
        ("sms", "marketing", True, "paper_form", ""),
        ("sms", "service", True, "paper_form", ""),
    ]


def test_consent_form_without_origin_saves_nothing(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    before = AuditEvent.objects.count()
    response = logged_in(receptionist).post(
        url("patient_consents", patient), {"consent_service": ["sms"]}, headers=HTMX
    )
    assert response.status_code == 200
    assert response.context["consent_form"].errors == {"origin": ["This field is required."]}
    assert Consent.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_consent_form_refuses_get(
    receptionist: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(receptionist).get(url("patient_consents", patient))
    assert response.status_code == 405


# --- medical alerts --------------------------------------------------------------------------


def test_doctor_adds_a_medical_alert(
    persona: Callable[[Role], User], patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    doctor = persona(Role.DOCTOR)
    response = logged_in(doctor).post(
        url("patient_alert_add", patient),
        {"kind": "allergy", "description": " Penicillin ", "severity": "critical"},
        headers=HTMX,
    )
    content = response.content.decode().strip()
    assert response.status_code == 200
    assert content.startswith('<section class="card" id="medical-alerts">')
    assert "Allergy: Penicillin (Critical)" in content
    alert = MedicalAlert.objects.get()
    assert (alert.patient_id, alert.kind, alert.description, alert.severity, alert.is_active) == (
        patient.pk, "allergy", "Penicillin", "critical", True,
    )  # fmt: skip
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.actor_id, event.patient_id, event.object_type) == (
        "create", doctor.pk, patient.pk, "patients.medicalalert",
    )  # fmt: skip


def test_medical_alert_without_description_saves_nothing(
    persona: Callable[[Role], User], patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    before = AuditEvent.objects.count()
    response = logged_in(persona(Role.DOCTOR)).post(
        url("patient_alert_add", patient),
        {"kind": "allergy", "description": "", "severity": "critical"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response.context["alert_form"].errors == {"description": ["This field is required."]}
    assert MedicalAlert.objects.count() == 0
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("role", [Role.NURSE, Role.RECEPTIONIST])
def test_a_role_that_may_not_edit_medical_alerts_cannot_add_one(
    persona: Callable[[Role], User], patient: Patient, logged_in: Callable[[User], Client],
    role: Role,
) -> None:  # fmt: skip
    response = logged_in(persona(role)).post(
        url("patient_alert_add", patient),
        {"kind": "allergy", "description": "Latex", "severity": "warning"},
    )
    assert response.status_code == 404
    assert MedicalAlert.objects.count() == 0


@pytest.fixture
def alerted_patient(patient: Patient, persona: Callable[[Role], User]) -> Patient:
    add_medical_alert(
        actor=persona(Role.DOCTOR), patient=patient, kind="allergy",
        description="Penicillin", severity="critical",
    )  # fmt: skip
    return patient


def test_nurse_sees_medical_alerts(
    persona: Callable[[Role], User], alerted_patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    content = (
        logged_in(persona(Role.NURSE)).get(url("patient_detail", alerted_patient)).content.decode()
    )
    assert 'id="medical-alerts"' in content
    assert "Allergy: Penicillin (Critical)" in content
    assert 'action="/patients/' not in content.split('id="medical-alerts"')[1]  # no add form


def test_receptionist_does_not_see_medical_alerts(
    receptionist: User, alerted_patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(receptionist).get(url("patient_detail", alerted_patient))
    content = response.content.decode()
    assert response.status_code == 200
    assert response.context["alerts"] is None
    assert 'id="medical-alerts"' not in content
    assert "Penicillin" not in content


# --- the patient's audit trail -----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OWNER, Role.BRANCH_MANAGER])
def test_audit_page_shows_the_patient_events_to_managers(
    persona: Callable[[Role], User], patient: Patient, logged_in: Callable[[User], Client],
    role: Role,
) -> None:  # fmt: skip
    create_patient(  # another patient's events stay out of this trail
        actor=persona(Role.RECEPTIONIST),
        data=PatientData(family_name="Lê", given_name="Văn Khác", home_branch=patient.home_branch),
    )
    response = logged_in(persona(role)).get(url("patient_audit", patient))
    assert response.status_code == 200
    events = list(response.context["page"])
    assert [(e.action, e.patient_id, e.summary) for e in events] == [
        ("create", patient.pk, "Nguyễn Văn An")
    ]
    content = response.content.decode()
    assert "Nguyễn Văn An" in content
    assert "Văn Khác" not in content


@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.DOCTOR, Role.NURSE])
def test_audit_page_is_not_found_for_staff_without_audit_access(
    persona: Callable[[Role], User], patient: Patient, logged_in: Callable[[User], Client],
    role: Role,
) -> None:  # fmt: skip
    response = logged_in(persona(role)).get(url("patient_audit", patient))
    assert response.status_code == 404


def test_audit_page_of_another_organisation_patient_is_not_found(
    world: World, outsider: User, patient: Patient, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(outsider).get(url("patient_audit", patient))
    assert response.status_code == 404
