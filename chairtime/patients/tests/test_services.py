"""Patient services: numbers, names, phones, consents, and the audit trail written with them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.core.errors import InvalidInput
from chairtime.patients.forms import PatientForm
from chairtime.patients.models import Consent, Patient, PatientPhone
from chairtime.patients.services import (
    ConsentChoice,
    PatientData,
    PhoneData,
    create_patient,
    current_consents,
    record_consents,
    update_patient,
)
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory


@pytest.fixture
def receptionist(persona: Callable[[Role], User]) -> User:
    return persona(Role.RECEPTIONIST)


def an(branch: Branch, **changes: object) -> PatientData:
    """Valid input for "Nguyễn Văn An" in the branch, with the given fields changed."""
    data = PatientData(
        family_name="Nguyễn", given_name="Văn An", name_order="family_first", home_branch=branch
    )
    return replace(data, **changes)


# --- numbers -----------------------------------------------------------------------------


def test_gives_numbers_in_order_per_organisation(world: World, receptionist: User) -> None:
    first = create_patient(actor=receptionist, data=an(world.branch_a))
    second = create_patient(actor=receptionist, data=an(world.branch_b, given_name="Thị Bình"))
    rival_first = create_patient(actor=receptionist, data=an(world.rival_branch))
    assert (first.number, second.number, rival_first.number) == ("P000001", "P000002", "P000001")
    world.acme.refresh_from_db()
    assert world.acme.patient_number_seq == 2


def test_keeps_a_number_given_by_the_user_without_taking_one(
    world: World, receptionist: User
) -> None:
    given = create_patient(actor=receptionist, data=an(world.branch_a, number="OLD-17"))
    automatic = create_patient(actor=receptionist, data=an(world.branch_a))
    assert (given.number, automatic.number) == ("OLD-17", "P000001")


def test_refuses_a_number_taken_between_validation_and_saving(
    world: World, receptionist: User
) -> None:
    """Two receptionists type the same number: the second save loses the race cleanly."""
    access = get_branch_access(receptionist, world.branch_a.pk)
    form = PatientForm(
        {
            "family_name": "Nguyễn", "given_name": "Văn An", "name_order": "family_first",
            "home_branch": world.branch_a.pk, "sex": "unknown", "status": "active",
            "number": "P-77", "phone": "0912345678",
        },
        access=access,
    )  # fmt: skip
    assert form.is_valid(), form.errors
    racer = PatientFactory(home_branch=world.branch_b, number="P-77")
    events_before = AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as raised:
        create_patient(actor=receptionist, data=form.to_data())

    assert raised.value.errors == {"number": ["Another patient already has this number."]}
    assert list(Patient.objects.values_list("pk", flat=True)) == [racer.pk]
    assert PatientPhone.objects.count() == 0
    assert AuditEvent.objects.count() == events_before


def test_skips_an_automatic_number_that_staff_already_typed_by_hand(
    world: World, receptionist: User
) -> None:
    create_patient(actor=receptionist, data=an(world.branch_a, number="P000002"))

    first = create_patient(actor=receptionist, data=an(world.branch_a))
    second = create_patient(actor=receptionist, data=an(world.branch_a))

    assert (first.number, second.number) == ("P000001", "P000003")


def test_refuses_a_taken_number_on_update(world: World, receptionist: User) -> None:
    PatientFactory(home_branch=world.branch_a, number="P-77")
    patient = create_patient(actor=receptionist, data=an(world.branch_a))
    events_before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as raised:
        update_patient(actor=receptionist, patient=patient, data=an(world.branch_a, number="P-77"))
    assert raised.value.errors == {"number": ["Another patient already has this number."]}
    patient.refresh_from_db()
    assert patient.number == "P000001"
    assert AuditEvent.objects.count() == events_before


# --- names -------------------------------------------------------------------------------


def test_composes_a_vietnamese_name_family_first(world: World, receptionist: User) -> None:
    patient = create_patient(actor=receptionist, data=an(world.branch_a))
    assert patient.display_name == "Nguyễn Văn An"


def test_composes_a_spanish_name_given_first_with_both_surnames(
    world: World, receptionist: User
) -> None:
    data = an(
        world.branch_a, family_name="García López", given_name="Ana", name_order="given_first"
    )
    assert create_patient(actor=receptionist, data=data).display_name == "Ana García López"


def test_composes_a_chinese_name_without_a_space(world: World, receptionist: User) -> None:
    data = an(world.branch_a, family_name="王", given_name="小明")
    assert create_patient(actor=receptionist, data=data).display_name == "王小明"


def test_keeps_a_display_name_typed_by_the_user(world: World, receptionist: User) -> None:
    data = an(world.branch_a, display_name="  Chị An  ")
    assert create_patient(actor=receptionist, data=data).display_name == "Chị An"


# --- phones and consents on creation ------------------------------------------------------


def test_stores_phones_with_the_first_one_primary(world: World, receptionist: User) -> None:
    data = an(
        world.branch_a,
        phones=[PhoneData("+84912345678", "mobile"), PhoneData("+842838123456", "home")],
    )
    patient = create_patient(actor=receptionist, data=data)
    assert list(patient.phones.values_list("number", "kind", "is_primary")) == [
        ("+84912345678", "mobile", True),
        ("+842838123456", "home", False),
    ]


def test_records_first_consents_with_origin_and_recorder(world: World, receptionist: User) -> None:
    patient = create_patient(
        actor=receptionist,
        data=an(world.branch_a),
        consents=[
            ConsentChoice("sms", "service", True),
            ConsentChoice("zalo", "marketing", True),
        ],
        consent_origin="paper_form",
    )
    assert sorted(
        patient.consents.values_list("channel", "purpose", "is_granted", "origin", "recorded_by")
    ) == [
        ("sms", "service", True, "paper_form", receptionist.pk),
        ("zalo", "marketing", True, "paper_form", receptionist.pk),
    ]


def test_records_a_create_event_for_the_new_patient(world: World, receptionist: User) -> None:
    patient = create_patient(
        actor=receptionist, data=an(world.branch_a, phones=[PhoneData("+84912345678")])
    )
    event = AuditEvent.objects.get()
    assert (
        event.action, event.actor_id, event.actor_label, event.organization_id, event.branch_id,
        event.patient_id, event.object_type, event.object_id, event.summary,
    ) == (
        "create", receptionist.pk, str(receptionist), world.acme.pk, world.branch_a.pk,
        patient.pk, "patients.patient", str(patient.pk), "Nguyễn Văn An",
    )  # fmt: skip
    assert event.changes == {
        "display_name": [None, "Nguyễn Văn An"],
        "family_name": [None, "Nguyễn"],
        "given_name": [None, "Văn An"],
        "home_branch": [None, world.branch_a.pk],
        "name_order": [None, "family_first"],
        "number": [None, "P000001"],
        "phones": [None, ["+84912345678"]],
        "sex": [None, "unknown"],
        "status": [None, "active"],
    }


def test_writes_the_patient_and_its_event_in_one_transaction(
    world: World, receptionist: User
) -> None:
    """A failure after the event is written (here: consent without origin) undoes both."""
    with pytest.raises(InvalidInput) as raised:
        create_patient(
            actor=receptionist,
            data=an(world.branch_a, phones=[PhoneData("+84912345678")]),
            consents=[ConsentChoice("sms", "service", True)],
            consent_origin="",
        )
    assert raised.value.errors == {"consent_origin": ["Say where this consent comes from."]}
    assert (Patient.objects.count(), PatientPhone.objects.count(), AuditEvent.objects.count()) == (
        0,
        0,
        0,
    )
    world.acme.refresh_from_db()
    assert world.acme.patient_number_seq == 0


def test_refuses_a_referrer_from_another_organisation(world: World, receptionist: User) -> None:
    stranger = PatientFactory(home_branch=world.rival_branch)
    with pytest.raises(InvalidInput) as raised:
        create_patient(actor=receptionist, data=an(world.branch_a, referred_by_patient=stranger))
    assert raised.value.errors == {"referred_by_patient": ["No patient with this number."]}
    assert list(Patient.objects.values_list("pk", flat=True)) == [stranger.pk]
    assert AuditEvent.objects.count() == 0


# --- update --------------------------------------------------------------------------------


def test_update_event_lists_exactly_the_changed_fields(world: World, receptionist: User) -> None:
    data = an(world.branch_a, phones=[PhoneData("+84912345678")], email="an@example.com")
    patient = create_patient(actor=receptionist, data=data)

    update_patient(
        actor=receptionist,
        patient=patient,
        data=replace(
            data, family_name="Trần", email="", phones=[PhoneData("+84987654321")], notes="VIP"
        ),
    )

    event = AuditEvent.objects.get(action="update")
    assert (event.actor_id, event.patient_id, event.branch_id, event.organization_id) == (
        receptionist.pk, patient.pk, world.branch_a.pk, world.acme.pk,
    )  # fmt: skip
    assert event.summary == "Trần Văn An"
    assert event.changes == {
        "display_name": ["Nguyễn Văn An", "Trần Văn An"],
        "email": ["an@example.com", ""],
        "family_name": ["Nguyễn", "Trần"],
        "notes": ["", "VIP"],
        "phones": [["+84912345678"], ["+84987654321"]],
    }
    patient.refresh_from_db()
    assert (patient.family_name, patient.display_name, patient.email, patient.notes) == (
        "Trần", "Trần Văn An", "", "VIP",
    )  # fmt: skip


def test_a_composed_display_name_follows_the_names_when_the_form_resends_it(
    world: World, receptionist: User
) -> None:
    """The edit form sends the old display name back unchanged; it was composed, so it
    is composed again from the new names instead of going stale."""
    patient = create_patient(actor=receptionist, data=an(world.branch_a))

    update_patient(
        actor=receptionist,
        patient=patient,
        data=an(world.branch_a, given_name="Thị Ánh", display_name="Nguyễn Văn An"),
    )

    patient.refresh_from_db()
    assert patient.display_name == "Nguyễn Thị Ánh"


def test_a_display_name_typed_by_staff_survives_a_name_change(
    world: World, receptionist: User
) -> None:
    patient = create_patient(actor=receptionist, data=an(world.branch_a, display_name="Bác An"))

    update_patient(
        actor=receptionist,
        patient=patient,
        data=an(world.branch_a, given_name="Văn Ân", display_name="Bác An"),
    )

    patient.refresh_from_db()
    assert (patient.given_name, patient.display_name) == ("Văn Ân", "Bác An")


def test_refuses_the_same_number_in_another_case_at_the_database(world: World) -> None:
    from django.db import IntegrityError, transaction

    PatientFactory(home_branch=world.branch_a, number="P-77")
    with pytest.raises(IntegrityError), transaction.atomic():
        PatientFactory(home_branch=world.branch_b, number="p-77")
    PatientFactory(home_branch=world.rival_branch, number="p-77")  # another organisation


def test_update_without_changes_records_no_event(world: World, receptionist: User) -> None:
    data = an(world.branch_a, phones=[PhoneData("+84912345678")], birth_date=None)
    patient = create_patient(actor=receptionist, data=data)
    events_before = AuditEvent.objects.count()

    update_patient(actor=receptionist, patient=patient, data=data)

    assert AuditEvent.objects.count() == events_before
    assert list(patient.phones.values_list("number", "is_primary")) == [("+84912345678", True)]


def test_update_keeps_the_search_key_in_step(world: World, receptionist: User) -> None:
    patient = create_patient(actor=receptionist, data=an(world.branch_a))
    update_patient(actor=receptionist, patient=patient, data=an(world.branch_a, family_name="Đặng"))
    patient.refresh_from_db()
    assert patient.search_key == "dang van an dang van an dangvanan p000001"


# --- consents ------------------------------------------------------------------------------


@pytest.fixture
def patient(world: World, receptionist: User) -> Patient:
    return create_patient(actor=receptionist, data=an(world.branch_a))


def test_records_only_the_consents_that_change(patient: Patient, receptionist: User) -> None:
    record_consents(
        actor=receptionist, patient=patient, origin="verbal",
        choices=[ConsentChoice("sms", "service", True), ConsentChoice("email", "service", True)],
    )  # fmt: skip
    events_before = AuditEvent.objects.count()

    rows = record_consents(
        actor=receptionist, patient=patient, origin="web_form",
        choices=[
            ConsentChoice("sms", "service", True),  # as on file
            ConsentChoice("email", "service", True),  # as on file
            ConsentChoice("zalo", "marketing", False),  # a first "no": silence already says no
            ConsentChoice("zalo", "service", True),  # new
        ],
    )  # fmt: skip

    assert [(row.channel, row.purpose, row.is_granted, row.origin) for row in rows] == [
        ("zalo", "service", True, "web_form")
    ]
    assert Consent.objects.filter(patient=patient).count() == 3
    assert AuditEvent.objects.count() == events_before + 1


def test_records_nothing_when_no_consent_changes(patient: Patient, receptionist: User) -> None:
    choices = [ConsentChoice("sms", "service", True)]
    record_consents(actor=receptionist, patient=patient, origin="verbal", choices=choices)
    events_before = AuditEvent.objects.count()

    assert record_consents(actor=receptionist, patient=patient, origin="", choices=choices) == []
    assert Consent.objects.filter(patient=patient).count() == 1
    assert AuditEvent.objects.count() == events_before


def test_a_refusal_after_consent_is_a_new_row_and_history_is_kept(
    patient: Patient, receptionist: User, persona: Callable[[Role], User]
) -> None:
    record_consents(
        actor=receptionist, patient=patient, origin="paper_form",
        choices=[ConsentChoice("sms", "marketing", True)],
    )  # fmt: skip
    manager = persona(Role.BRANCH_MANAGER)
    record_consents(
        actor=manager, patient=patient, origin="message_reply", note="Replied STOP",
        choices=[ConsentChoice("sms", "marketing", False)],
    )  # fmt: skip

    history = list(
        Consent.objects.filter(patient=patient).values_list(
            "channel", "purpose", "is_granted", "origin", "recorded_by", "note"
        )
    )
    assert history == [
        ("sms", "marketing", False, "message_reply", manager.pk, "Replied STOP"),
        ("sms", "marketing", True, "paper_form", receptionist.pk, ""),
    ]
    current = current_consents(patient)
    assert list(current) == [("sms", "marketing")]
    assert current["sms", "marketing"].is_granted is False


def test_consent_event_names_the_patient_and_the_answers(
    world: World, patient: Patient, receptionist: User
) -> None:
    rows = record_consents(
        actor=receptionist, patient=patient, origin="verbal",
        choices=[ConsentChoice("sms", "service", True), ConsentChoice("phone", "marketing", True)],
    )  # fmt: skip
    event = AuditEvent.objects.latest("id")
    assert (
        event.action, event.patient_id, event.branch_id, event.organization_id,
        event.object_type, event.object_id, event.summary, event.changes,
    ) == (
        "create", patient.pk, world.branch_a.pk, world.acme.pk, "patients.consent",
        str(rows[0].pk), "sms/service=yes, phone/marketing=yes", {"origin": [None, "verbal"]},
    )  # fmt: skip


def test_refuses_a_consent_change_without_origin(patient: Patient, receptionist: User) -> None:
    events_before = AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as raised:
        record_consents(
            actor=receptionist, patient=patient, origin="",
            choices=[ConsentChoice("sms", "service", True)],
        )  # fmt: skip
    assert raised.value.errors == {"consent_origin": ["Say where this consent comes from."]}
    assert Consent.objects.count() == 0
    assert AuditEvent.objects.count() == events_before
