"""Working a task: each call recorded with its outcome, attempts and cool-off, bad input
refused with nothing changed, and "asked not to be contacted" honoured everywhere."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.care.choices import CancelReason, Outcome, TaskKind, TaskStatus
from chairtime.care.models import CareTask, TaskAttempt
from chairtime.care.services import record_attempt
from chairtime.core.errors import Conflict, InvalidInput
from chairtime.crm.models import Complaint
from chairtime.patients.models import Consent
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory

from .helpers import NOW, SAIGON, generate, make_task, refuse_calls, tasks_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def receptionist(persona):
    return persona(Role.RECEPTIONIST)


@pytest.fixture
def patient(world):
    return PatientFactory(home_branch=world.branch_a, given_name="Lan")


@pytest.fixture
def task(world, patient):
    return make_task(world.branch_a, patient, max_attempts=3, cool_off_days=2)


def call(actor, task, outcome, note="", **kwargs):
    return record_attempt(actor=actor, task=task, outcome=outcome, note=note, now=NOW, **kwargs)


def attempts_of(task):
    return list(
        TaskAttempt.objects.filter(task=task).values_list("number", "outcome", "note", "by_id")
    )


@pytest.mark.parametrize(
    "outcome",
    [Outcome.REACHED, Outcome.BOOKED, Outcome.DECLINED, Outcome.WRONG_NUMBER],
)
def test_an_answered_call_closes_the_task_with_its_outcome(receptionist, task, outcome):
    done = call(receptionist, task, outcome, "  Spoke with her daughter.  ")

    assert (done.status, done.outcome, done.attempts, done.closed_at, done.closed_by_id) == (
        TaskStatus.DONE, outcome, 1, NOW, receptionist.pk,
    )  # fmt: skip
    assert done.note == "Spoke with her daughter."
    assert attempts_of(task) == [(1, outcome, "Spoke with her daughter.", receptionist.pk)]


def test_no_answer_waits_the_cool_off_then_closes_after_the_last_attempt(receptionist, task):
    first = call(receptionist, task, Outcome.NO_ANSWER)
    assert (first.status, first.attempts, first.outcome, first.next_attempt_at) == (
        TaskStatus.OPEN, 1, Outcome.NO_ANSWER, datetime(2030, 3, 7, tzinfo=SAIGON),
    )  # fmt: skip

    second = call(receptionist, task, Outcome.NO_ANSWER)
    assert (second.status, second.attempts) == (TaskStatus.OPEN, 2)

    third = call(receptionist, task, Outcome.NO_ANSWER, "Three tries.")
    assert (third.status, third.attempts, third.outcome, third.closed_at) == (
        TaskStatus.DONE, 3, Outcome.NO_ANSWER, NOW,
    )  # fmt: skip
    assert [row[:2] for row in attempts_of(task)] == [
        (1, Outcome.NO_ANSWER), (2, Outcome.NO_ANSWER), (3, Outcome.NO_ANSWER),
    ]  # fmt: skip


def test_every_call_is_audited_with_what_changed(receptionist, task):
    call(receptionist, task, Outcome.NO_ANSWER)

    [event] = AuditEvent.objects.filter(object_type="care.caretask", object_id=str(task.pk))
    assert (event.actor_id, event.action, event.branch_id, event.patient_id) == (
        receptionist.pk, "update", task.branch_id, task.patient_id,
    )  # fmt: skip
    assert event.changes["attempts"] == [0, 1]
    assert event.changes["outcome"] == ["", "no_answer"]


def unchanged(task):
    fresh = CareTask.objects.get(pk=task.pk)
    return (
        (fresh.status, fresh.attempts, fresh.outcome, fresh.note, fresh.next_attempt_at)
        == (task.status, task.attempts, task.outcome, task.note, task.next_attempt_at)
        and not TaskAttempt.objects.filter(task=task).exists()
        and not AuditEvent.objects.filter(object_type="care.caretask").exists()
    )


def test_an_unknown_outcome_is_refused_naming_the_field(receptionist, task):
    with pytest.raises(InvalidInput) as refused:
        call(receptionist, task, "maybe")

    assert refused.value.errors == {"outcome": ["Choose one of the listed outcomes."]}
    assert unchanged(task)


def test_a_note_too_long_is_refused_naming_the_field(receptionist, task):
    with pytest.raises(InvalidInput) as refused:
        call(receptionist, task, Outcome.REACHED, "x" * 501)

    assert refused.value.errors == {"note": ["Keep the note under 500 characters (it has 501)."]}
    assert unchanged(task)


def test_a_call_on_a_closed_task_is_refused(receptionist, task):
    call(receptionist, task, Outcome.REACHED)
    before = AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as refused:
        call(receptionist, task, Outcome.BOOKED)

    assert refused.value.errors == {
        "task": ["This task is already closed (Done): no call can be added."]
    }
    fresh = CareTask.objects.get(pk=task.pk)
    assert (fresh.outcome, fresh.attempts, AuditEvent.objects.count()) == (
        Outcome.REACHED, 1, before,
    )  # fmt: skip


def test_a_count_that_moved_since_the_caller_looked_is_a_conflict(receptionist, task):
    call(receptionist, task, Outcome.NO_ANSWER, expected_attempts=0)

    with pytest.raises(Conflict) as refused:
        call(receptionist, task, Outcome.NO_ANSWER, expected_attempts=0)

    assert refused.value.errors == {
        "task": ["Someone recorded a call on this task meanwhile; look at it again first."]
    }
    assert CareTask.objects.get(pk=task.pk).attempts == 1


# --- asked not to be contacted ----------------------------------------------------------------
def test_do_not_contact_records_a_refusal_and_cancels_the_patients_other_tasks(
    world, receptionist, patient, task
):
    other = make_task(world.branch_a, patient, kind=TaskKind.BIRTHDAY)
    elsewhere = make_task(world.branch_b, patient, kind=TaskKind.REACTIVATION_6M)
    someone_else = make_task(world.branch_a, PatientFactory(home_branch=world.branch_a))

    done = call(receptionist, task, Outcome.DO_NOT_CONTACT, "Moving abroad.")

    assert (done.status, done.outcome) == (TaskStatus.DONE, Outcome.DO_NOT_CONTACT)
    # A refusal of service contact on every channel the clinic calls or messages on;
    # marketing was never agreed to (silence is no), so nothing to write for it.
    assert sorted(
        Consent.objects.filter(patient=patient).values_list(
            "channel", "purpose", "is_granted", "origin", "recorded_by_id", "recorded_at"
        )
    ) == [
        (channel, "service", False, "verbal", receptionist.pk, NOW)
        for channel in sorted(("email", "phone", "sms", "wechat", "whatsapp", "zalo"))
    ]
    assert AuditEvent.objects.filter(object_type="patients.consent").count() == 6
    assert [(t.pk, t.status, t.cancel_reason) for t in tasks_of(patient=patient)] == [
        (task.pk, TaskStatus.DONE, ""),
        (other.pk, TaskStatus.CANCELLED, CancelReason.DO_NOT_CONTACT),
        (elsewhere.pk, TaskStatus.CANCELLED, CancelReason.DO_NOT_CONTACT),
    ]
    assert CareTask.objects.get(pk=someone_else.pk).status == TaskStatus.OPEN


def test_an_existing_refusal_is_not_written_twice(receptionist, patient, task):
    refuse_calls(patient)

    call(receptionist, task, Outcome.DO_NOT_CONTACT)

    refusals = Consent.objects.filter(patient=patient, purpose="service", is_granted=False)
    assert sorted(refusals.values_list("channel", flat=True)) == [
        "email", "phone", "sms", "wechat", "whatsapp", "zalo",
    ]  # fmt: skip


def test_do_not_contact_withdraws_a_marketing_yes_and_overrides_a_service_yes(
    receptionist, patient, task
):
    for channel, purpose in (("sms", "marketing"), ("sms", "service"), ("zalo", "marketing")):
        Consent.objects.create(
            patient=patient, channel=channel, purpose=purpose, is_granted=True,
            origin="paper_form", recorded_at=NOW - timedelta(days=30),
        )  # fmt: skip
    Consent.objects.create(
        patient=patient, channel="zalo", purpose="marketing", is_granted=False,
        origin="paper_form", recorded_at=NOW - timedelta(days=2),
    )  # fmt: skip

    call(receptionist, task, Outcome.DO_NOT_CONTACT)

    written = Consent.objects.filter(patient=patient, recorded_at=NOW)
    assert sorted(written.values_list("channel", "purpose", "is_granted")) == [
        ("email", "service", False), ("phone", "service", False), ("sms", "marketing", False),
        ("sms", "service", False), ("wechat", "service", False), ("whatsapp", "service", False),
        ("zalo", "service", False),
    ]  # fmt: skip


def test_after_do_not_contact_the_rules_make_no_new_call(world, receptionist, patient, task):
    call(receptionist, task, Outcome.DO_NOT_CONTACT)
    Complaint.objects.create(
        organization=world.acme, branch=world.branch_a, patient=patient, category="pain",
        severity="high", description="Hurts.", received_at=NOW - timedelta(hours=3),
    )  # fmt: skip

    assert generate(world.acme).total_created == 0
