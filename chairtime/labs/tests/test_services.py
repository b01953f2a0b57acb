"""Ordering and stepping lab cases: every bad input refused with its field and reason,
nothing written; steps in order only, with the due date following the lab's turnaround."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.audit.selectors import list_branch_events
from chairtime.core.errors import InvalidInput
from chairtime.labs.models import LabCase
from chairtime.labs.services import create_lab, order_case, step_case, update_lab
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory, UserFactory

from .helpers import NOW, TODAY, appointment, local, make_case, make_lab, plan_item

pytestmark = pytest.mark.django_db
_ANY_USER = object()  # `order`'s default actor: a new user with no membership


@pytest.fixture
def setup(world):
    patient = PatientFactory(home_branch=world.branch_a)
    lab = make_lab(world.acme, turnaround_days={"bridge": 10})
    return patient, lab


def order(world, patient, lab, *, actor=_ANY_USER, **fields):
    values = {"lab_id": lab.pk, "kind": "crown", "teeth": [16], **fields}
    return order_case(
        actor=UserFactory() if actor is _ANY_USER else actor, branch=world.branch_a,
        patient=patient, now=NOW, **values,
    )  # fmt: skip


def refused(call) -> dict[str, list[str]]:
    cases, events = LabCase.objects.count(), AuditEvent.objects.count()
    with pytest.raises(InvalidInput) as caught:
        call()
    assert (LabCase.objects.count(), AuditEvent.objects.count()) == (cases, events)
    return caught.value.errors


def test_order_is_due_after_the_lab_turnaround_for_its_kind(world, setup):
    patient, lab = setup
    visit = appointment(world.branch_a, patient, local(TODAY + timedelta(days=12), 9))
    item = plan_item(world.branch_a, patient)

    crown = order(world, patient, lab, appointment_id=visit.pk, plan_item_id=item.pk, shade="A2")
    bridge = order(world, patient, lab, kind="bridge", teeth="14 15, 16")

    assert (crown.status, crown.due_on, crown.is_due_on_fixed) == (
        "ordered",
        date(2030, 3, 12),
        False,
    )
    assert (crown.appointment_id, crown.plan_item_id, crown.shade) == (visit.pk, item.pk, "A2")
    assert (bridge.due_on, bridge.teeth) == (date(2030, 3, 15), [14, 15, 16])
    event = AuditEvent.objects.get(object_id=str(crown.pk), action="create")
    assert (event.branch_id, event.patient_id) == (world.branch_a.pk, patient.pk)


def test_names_the_other_branch_of_an_appointment_to_who_sees_its_book(world, setup, persona):
    patient, lab = setup
    elsewhere = appointment(world.branch_b, patient, local(TODAY, 9))
    owner = persona(Role.OWNER)  # organisation-wide: sees branch B's book

    errors = refused(lambda: order(world, patient, lab, appointment_id=elsewhere.pk, actor=owner))

    assert errors == {
        "appointment": [
            f"This appointment is in another branch ({world.branch_b.name}): order the case there."
        ]
    }


@pytest.mark.parametrize("who", ["receptionist of branch A only", "nobody"])
def test_another_branchs_appointment_is_missing_to_who_cannot_see_that_branch(
    world, setup, persona, who
):
    patient, lab = setup
    elsewhere = appointment(world.branch_b, patient, local(TODAY, 9))
    actor = persona(Role.RECEPTIONIST) if who.startswith("receptionist") else None

    errors = refused(lambda: order(world, patient, lab, appointment_id=elsewhere.pk, actor=actor))

    assert errors == {"appointment": ["No such appointment."]}


def test_refuses_another_patients_appointment(world, setup):
    patient, lab = setup
    other = appointment(world.branch_a, PatientFactory(home_branch=world.branch_a), local(TODAY, 9))

    assert refused(lambda: order(world, patient, lab, appointment_id=other.pk)) == {
        "appointment": ["This appointment is another patient's."]
    }


def test_refuses_another_organisations_appointment_as_missing(world, setup):
    patient, lab = setup
    rival = appointment(world.rival_branch, PatientFactory(home_branch=world.rival_branch), NOW)

    assert refused(lambda: order(world, patient, lab, appointment_id=rival.pk)) == {
        "appointment": ["No such appointment."]
    }


def test_refuses_a_plan_item_of_another_patient(world, setup):
    patient, lab = setup
    item = plan_item(world.branch_a, PatientFactory(home_branch=world.branch_a))

    assert refused(lambda: order(world, patient, lab, plan_item_id=item.pk)) == {
        "plan_item": ["This plan item is in another patient's plan."]
    }


def test_refuses_a_due_date_before_the_order_date(world, setup):
    patient, lab = setup

    assert refused(lambda: order(world, patient, lab, due_on=date(2030, 3, 4))) == {
        "due_on": ["The due date cannot be before 2030-03-05, when the case was ordered."]
    }


def test_a_due_date_given_is_kept_when_the_case_is_sent(world, setup):
    patient, lab = setup
    case = order(world, patient, lab, due_on="2030-03-20")

    sent = step_case(actor=None, case=case, step="send", now=NOW + timedelta(days=2))

    assert (sent.status, sent.due_on, sent.is_due_on_fixed) == ("sent", date(2030, 3, 20), True)


def test_refuses_an_inactive_lab_and_another_organisations_lab(world, setup):
    patient, _lab = setup
    closed = make_lab(world.acme, name="Closed Lab", is_active=False)
    rival = make_lab(world.rival, name="Rival Lab")

    assert refused(lambda: order(world, patient, closed)) == {
        "lab": ["Closed Lab is no longer active: choose another lab."]
    }
    assert refused(lambda: order(world, patient, rival)) == {
        "lab": ["Choose one of the organisation's labs."]
    }


def test_refuses_every_bad_field_at_once(world, setup):
    patient, lab = setup

    errors = refused(
        lambda: order(world, patient, lab, kind="veneer", teeth=[19, "x"], shade="A" * 31)
    )

    assert errors == {
        "kind": ["Choose one of the listed kinds."],
        "teeth": ["19 is not a tooth in FDI notation.", "“x” is not a tooth number."],
        "shade": ["At most 30 characters."],
    }


def test_refuses_a_patient_of_another_organisation(world, setup):
    _patient, lab = setup
    stranger = PatientFactory(home_branch=world.rival_branch)

    assert refused(lambda: order(world, stranger, lab)) == {
        "patient": ["This patient is another organisation's."]
    }


# --- steps ------------------------------------------------------------------------------------
def test_steps_go_in_order_and_sending_counts_the_turnaround_from_that_day(world, setup):
    patient, lab = setup
    case = order(world, patient, lab)

    sent = step_case(actor=None, case=case, step="send", now=NOW + timedelta(days=2))
    received = step_case(actor=None, case=sent, step="receive", now=NOW + timedelta(days=8))
    checked = step_case(
        actor=None, case=received, step="check", note="Fits", now=NOW + timedelta(days=8)
    )

    assert (sent.status, sent.due_on) == ("sent", date(2030, 3, 14))
    assert (received.status, received.received_at) == ("received", NOW + timedelta(days=8))
    assert (checked.status, checked.step_note, checked.is_back) == ("quality_checked", "Fits", True)
    steps = AuditEvent.objects.filter(object_id=str(case.pk), action="update")
    assert [e.changes["status"] for e in steps.order_by("pk")] == [
        ["ordered", "sent"],
        ["sent", "received"],
        ["received", "quality_checked"],
    ]


def test_refuses_receiving_a_case_never_sent(world, setup):
    patient, lab = setup
    case = order(world, patient, lab)
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as caught:
        step_case(actor=None, case=case, step="receive", now=NOW)

    assert caught.value.errors == {
        "step": ["This case was never sent: mark it sent to the lab before receiving it."]
    }
    case.refresh_from_db()
    assert (case.status, case.received_at, AuditEvent.objects.count()) == ("ordered", None, events)


@pytest.mark.parametrize(
    ("status", "step", "message"),
    [
        ("sent", "check", "This case is not back yet: receive it before checking it."),
        ("ordered", "return", "Only a case that is back can be returned for a remake."),
        ("received", "send", "This case is received: it cannot be marked “Sent to the lab”."),
        ("cancelled", "cancel", "This case is cancelled: it cannot be marked “Cancel”."),
        (
            "quality_checked",
            "receive",
            "This case is quality-checked: it cannot be marked “Received”.",
        ),
    ],
)
def test_refuses_steps_out_of_order(world, setup, status, step, message):
    patient, lab = setup
    case = make_case(world.branch_a, patient, lab, status=status)

    with pytest.raises(InvalidInput) as caught:
        step_case(actor=None, case=case, step=step, now=NOW)

    assert caught.value.errors == {"step": [message]}
    case.refresh_from_db()
    assert case.status == status


def test_a_remake_goes_back_to_the_lab_with_a_new_due_date(world, setup):
    patient, lab = setup
    case = make_case(world.branch_a, patient, lab, status="received")

    returned = step_case(actor=None, case=case, step="return", note="Shade too dark", now=NOW)
    again = step_case(actor=None, case=returned, step="receive", now=NOW + timedelta(days=6))

    assert (returned.status, returned.due_on, returned.remake_count) == (
        "returned",
        date(2030, 3, 12),
        1,
    )
    assert returned.is_pending and not returned.is_back
    assert again.status == "received"


def test_a_step_uses_the_locked_row_not_a_stale_copy(world, setup):
    patient, lab = setup
    case = make_case(world.branch_a, patient, lab, status="sent")
    stale = LabCase.objects.get(pk=case.pk)
    step_case(actor=None, case=case, step="receive", now=NOW)

    with pytest.raises(InvalidInput):
        step_case(actor=None, case=stale, step="receive", now=NOW)

    assert AuditEvent.objects.filter(object_id=str(case.pk)).count() == 1


def test_unknown_step_and_long_note_are_refused(world, setup):
    patient, lab = setup
    case = make_case(world.branch_a, patient, lab, status="sent")

    with pytest.raises(InvalidInput) as unknown:
        step_case(actor=None, case=case, step="polish", now=NOW)
    with pytest.raises(InvalidInput) as long_note:
        step_case(actor=None, case=case, step="receive", note="x" * 201, now=NOW)

    assert unknown.value.errors == {"step": ["Choose one of the listed steps."]}
    assert long_note.value.errors == {"note": ["At most 200 characters."]}
    case.refresh_from_db()
    assert case.status == "sent"


# --- labs -------------------------------------------------------------------------------------
def test_lab_settings_are_checked_and_changes_audited(world):
    lab = create_lab(
        actor=None, branch=world.branch_a,
        values={"name": " Dent Lab ", "default_turnaround_days": "5", "turnaround_days": {"aligner": 14}},
    )  # fmt: skip

    with pytest.raises(InvalidInput) as caught:
        create_lab(
            actor=None, branch=world.branch_a,
            values={"name": "dent lab", "email": "nope", "default_turnaround_days": 0,
                    "turnaround_days": {"crown": 500}},
        )  # fmt: skip
    updated = update_lab(actor=None, branch=world.branch_a, lab=lab, values={"is_active": False})

    assert (lab.name, lab.turnaround_for("aligner"), lab.turnaround_for("crown")) == (
        "Dent Lab",
        14,
        5,
    )
    assert caught.value.errors == {
        "name": ["Another lab has this name."],
        "email": ["Enter a valid email address."],
        "default_turnaround_days": ["Enter a number of days from 1 to 120."],
        "turnaround_days": ["Crown: Enter a number of days from 1 to 120."],
    }
    assert updated.is_active is False
    event = AuditEvent.objects.get(object_id=str(lab.pk), action="update")
    assert event.changes == {"is_active": [True, False]}


def test_every_lab_event_names_the_organisation_and_is_in_the_branch_log(world, setup, persona):
    patient, _lab = setup
    owner = persona(Role.OWNER)
    made = create_lab(actor=owner, branch=world.branch_a, values={"name": "Dent Lab"})
    update_lab(actor=owner, branch=world.branch_a, lab=made, values={"phone": "+84 1"})
    case = order(world, patient, made, actor=owner)
    step_case(actor=owner, case=case, step="send", now=NOW)

    events = list_branch_events(branch=world.branch_a).order_by("pk")

    assert [(e.object_type, e.action, e.organization_id) for e in events] == [
        ("labs.lab", "create", world.acme.pk),
        ("labs.lab", "update", world.acme.pk),
        ("labs.labcase", "create", world.acme.pk),
        ("labs.labcase", "update", world.acme.pk),
    ]
    assert list_branch_events(branch=world.branch_b).count() == 0


def test_a_lab_of_another_organisation_is_not_updated(world):
    rival_lab = make_lab(world.rival, "Rival Lab")

    with pytest.raises(InvalidInput) as caught:
        update_lab(actor=None, branch=world.branch_a, lab=rival_lab, values={"phone": "1"})

    assert caught.value.errors == {"lab": ["Choose one of the organisation's labs."]}
    rival_lab.refresh_from_db()
    assert rival_lab.phone == ""
