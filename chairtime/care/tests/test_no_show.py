"""No-show follow-up calls (issue 7, item 5): made for the no-shows of the last week whose
patient booked nothing since, due two hours after the no-show, cancelled when the patient
books again; the front desk's report reads them per appointment.

NOW is Tuesday 5 March 2030, 10:00 in Saigon (branch A)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chairtime.care.choices import CancelReason, TaskKind, TaskStatus
from chairtime.care.selectors import no_show_follow_ups
from chairtime.care.services import update_rule
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory, make_doctor

from .helpers import NOW, TODAY, generate, local, procedure, tasks_of, visit

K = TaskKind
pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(world):
    return {
        "branch": world.branch_a,
        "doctor": make_doctor(world.branch_a),
        "exam": procedure(world.acme, "EXAM", "diagnostic"),
    }


def missed(clinic, name: str, starts_at, marked_after=timedelta(minutes=20)) -> Appointment:
    """An appointment of a new patient that they did not come to, marked a little later."""
    patient = PatientFactory(home_branch=clinic["branch"], given_name=name)
    appointment = visit(clinic["branch"], patient, clinic["doctor"], starts_at, clinic["exam"],
                        status="no_show")  # fmt: skip
    Appointment.objects.filter(pk=appointment.pk).update(no_show_at=starts_at + marked_after)
    return appointment


def test_a_no_show_gets_a_call_two_hours_after_it_was_marked(world, clinic):
    today = missed(clinic, "Today", local(TODAY, 7, 30))  # marked 07:50
    yesterday = missed(clinic, "Yesterday", local(TODAY - timedelta(days=1), 15))
    missed(clinic, "Long ago", local(TODAY - timedelta(days=8), 9))

    result = generate(world.acme)

    assert dict(result.created) == {K.NO_SHOW_FOLLOW_UP: 2}
    assert [
        (t.appointment_id, t.patient_id, t.due_at, t.next_attempt_at, t.assigned_to_id,
         t.assigned_role, t.max_attempts, t.cool_off_days, t.cause_key, t.cause_on)
        for t in sorted(tasks_of(K.NO_SHOW_FOLLOW_UP), key=lambda t: t.appointment_id or 0)
    ] == [
        (today.pk, today.patient_id, local(TODAY, 9, 50), local(TODAY, 9, 50), None,
         Role.RECEPTIONIST, 3, 1, f"no_show:appointment:{today.pk}", TODAY),
        # Found by this run, not yesterday's: due today, not backdated (17:20 yesterday).
        (yesterday.pk, yesterday.patient_id, local(TODAY), local(TODAY), None,
         Role.RECEPTIONIST, 3, 1, f"no_show:appointment:{yesterday.pk}", date(2030, 3, 4)),
    ]  # fmt: skip
    assert generate(world.acme).total_created == 0


def test_a_patient_who_booked_or_came_since_gets_no_call(world, clinic):
    booked = missed(clinic, "Booked", local(TODAY - timedelta(days=2), 9))
    visit(clinic["branch"], booked.patient, clinic["doctor"], NOW + timedelta(days=3),
          clinic["exam"], status="booked")  # fmt: skip
    came = missed(clinic, "Came", local(TODAY - timedelta(days=3), 9))
    visit(clinic["branch"], came.patient, clinic["doctor"], local(TODAY - timedelta(days=1), 9),
          clinic["exam"])  # fmt: skip

    assert generate(world.acme).created[K.NO_SHOW_FOLLOW_UP] == 0


def test_booking_again_cancels_the_call_and_an_undone_no_show_cancels_it_too(world, clinic):
    rebooks = missed(clinic, "Rebooks", local(TODAY - timedelta(days=1), 9))
    mistaken = missed(clinic, "Mistaken", local(TODAY - timedelta(days=1), 10))
    stays = missed(clinic, "Stays", local(TODAY - timedelta(days=1), 11))
    generate(world.acme)

    visit(clinic["branch"], rebooks.patient, clinic["doctor"], NOW + timedelta(days=5),
          clinic["exam"], status="booked")  # fmt: skip
    Appointment.objects.filter(pk=mistaken.pk).update(status="completed", no_show_at=None)
    result = generate(world.acme)

    assert dict(result.cancelled) == {CancelReason.BOOKED: 1, CancelReason.NO_SHOW_UNDONE: 1}
    assert sorted((t.appointment_id, t.status, t.cancel_reason)
                  for t in tasks_of(K.NO_SHOW_FOLLOW_UP)) == [
        (rebooks.pk, TaskStatus.CANCELLED, CancelReason.BOOKED),
        (mistaken.pk, TaskStatus.CANCELLED, CancelReason.NO_SHOW_UNDONE),
        (stays.pk, TaskStatus.OPEN, ""),
    ]  # fmt: skip


def test_the_rule_can_be_turned_off(world, clinic, persona):
    update_rule(actor=persona(Role.OWNER), organization=world.acme, kind=K.NO_SHOW_FOLLOW_UP,
                values={"is_enabled": False})  # fmt: skip
    missed(clinic, "Today", local(TODAY, 7, 30))

    assert generate(world.acme).total_created == 0


def test_the_no_show_report_reads_the_follow_up_of_each_appointment(world, clinic):
    first = missed(clinic, "First", local(TODAY, 7))
    second = missed(clinic, "Second", local(TODAY - timedelta(days=1), 9))
    other = visit(clinic["branch"], PatientFactory(home_branch=clinic["branch"]),
                  clinic["doctor"], local(TODAY, 8), clinic["exam"])  # fmt: skip
    generate(world.acme)

    found = no_show_follow_ups([first.pk, second.pk, other.pk])

    assert {pk: (task.kind, task.patient.pk, task.status) for pk, task in found.items()} == {
        first.pk: (K.NO_SHOW_FOLLOW_UP, first.patient_id, TaskStatus.OPEN),
        second.pk: (K.NO_SHOW_FOLLOW_UP, second.patient_id, TaskStatus.OPEN),
    }
