"""The rules make tasks from what happened, once each, and cancel them when the reason goes.

Every kind: what makes it, when it is due, who gets it, that a second run makes nothing,
and what cancels it. NOW is Tuesday 5 March 2030, 10:00 in Saigon (branch A).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chairtime.care.choices import CancelReason, TaskKind, TaskStatus
from chairtime.care.models import CareTask
from chairtime.care.services import update_rule
from chairtime.crm.models import Complaint
from chairtime.patients.choices import PatientStatus
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory, make_doctor

from .helpers import (
    NOW,
    TODAY,
    accepted_plan,
    computed_profile,
    done_on,
    generate,
    local,
    procedure,
    profile,
    refuse_calls,
    snapshot,
    tasks_of,
    visit,
)

K = TaskKind
pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(world):
    """Branch A with a doctor, and the procedures the rules look at."""
    org = world.acme
    return {
        "branch": world.branch_a,
        "doctor": make_doctor(world.branch_a, first_name="Minh", last_name="Lê"),
        "implant": procedure(org, "IMPL", "implant", recall=6),
        "scale": procedure(org, "SCALE", "hygiene", recall=6),
        "ortho": procedure(org, "ORTHO-ADJ", "orthodontic", recall=1),
        "exam": procedure(org, "EXAM", "diagnostic"),
    }


def patient_of(world, name: str = "Lan", **fields):
    return PatientFactory(home_branch=world.branch_a, given_name=name, **fields)


def keys(kind: str | None = None) -> list[str]:
    return [t.cause_key for t in tasks_of(kind)]


# --- post-treatment calls -------------------------------------------------------------------
def test_implant_yesterday_makes_a_day_one_call_from_its_doctor_and_a_day_seven_call(world, clinic):
    patient = patient_of(world)
    appointment = done_on(clinic["branch"], patient, clinic["doctor"], TODAY - timedelta(days=1),
                          clinic["implant"])  # fmt: skip

    result = generate(world.acme)

    day1, day7 = tasks_of(K.POST_TREATMENT_DAY1), tasks_of(K.POST_TREATMENT_DAY7)
    assert dict(result.created) == {K.POST_TREATMENT_DAY1: 1, K.POST_TREATMENT_DAY7: 1}
    assert [(t.patient_id, t.due_at, t.next_attempt_at, t.assigned_to_id, t.assigned_role)
            for t in day1] == [
        (patient.pk, local(TODAY), local(TODAY), clinic["doctor"].pk, Role.RECEPTIONIST)
    ]  # fmt: skip
    assert [(t.due_at, t.assigned_to_id, t.appointment_id) for t in day7] == [
        (local(date(2030, 3, 11)), None, appointment.pk)
    ]
    assert [(t.status, t.attempts, t.max_attempts, t.cool_off_days) for t in day1] == [
        (TaskStatus.OPEN, 0, 3, 1)
    ]


def test_a_cleaning_gets_no_post_treatment_call(world, clinic):
    done_on(clinic["branch"], patient_of(world), clinic["doctor"], TODAY - timedelta(days=1),
            clinic["scale"])  # fmt: skip

    assert generate(world.acme).total_created == 0
    assert tasks_of() == []


def test_a_category_added_to_the_rule_makes_calls_for_it(world, clinic, persona):
    update_rule(
        actor=persona(Role.OWNER), organization=world.acme, kind=K.POST_TREATMENT_DAY1,
        values={"categories": ["hygiene"]},
    )  # fmt: skip
    done_on(clinic["branch"], patient_of(world), clinic["doctor"], TODAY - timedelta(days=1),
            clinic["scale"])  # fmt: skip

    generate(world.acme)

    assert [t.kind for t in tasks_of()] == [K.POST_TREATMENT_DAY1]


def test_a_treatment_long_past_gets_no_late_day_one_call(world, clinic):
    # Day 1 fell on 1 March, more than two days ago: too late to call about it now.
    done_on(clinic["branch"], patient_of(world), clinic["doctor"], date(2030, 2, 28),
            clinic["implant"])  # fmt: skip

    generate(world.acme)

    assert [t.kind for t in tasks_of()] == [K.POST_TREATMENT_DAY7]


def test_a_disabled_rule_makes_nothing(world, clinic, persona):
    owner = persona(Role.OWNER)
    for kind in (K.POST_TREATMENT_DAY1, K.POST_TREATMENT_DAY7):
        update_rule(actor=owner, organization=world.acme, kind=kind, values={"is_enabled": False})
    done_on(clinic["branch"], patient_of(world), clinic["doctor"], TODAY - timedelta(days=1),
            clinic["implant"])  # fmt: skip

    assert generate(world.acme).total_created == 0


# --- treatment continuation -------------------------------------------------------------------
def test_an_accepted_plan_left_unbooked_a_week_gets_a_call_from_its_consultant(
    world, clinic, persona
):
    consultant = persona(Role.CONSULTANT)
    patient = patient_of(world)
    plan = accepted_plan(clinic["branch"], patient, clinic["doctor"], clinic["implant"],
                         NOW - timedelta(days=8), consultant=consultant)  # fmt: skip
    accepted_plan(clinic["branch"], patient_of(world, "Hoa"), clinic["doctor"],
                  clinic["implant"], NOW - timedelta(days=3))  # too recent  # fmt: skip

    generate(world.acme)

    assert [(t.kind, t.plan_id, t.assigned_to_id, t.assigned_role, t.due_at)
            for t in tasks_of()] == [
        (K.TREATMENT_CONTINUATION, plan.pk, consultant.pk, Role.CONSULTANT, local(TODAY))
    ]  # fmt: skip


def test_continuation_call_is_cancelled_once_the_patient_books(world, clinic):
    patient = patient_of(world)
    accepted_plan(clinic["branch"], patient, clinic["doctor"], clinic["implant"],
                  NOW - timedelta(days=8))  # fmt: skip
    generate(world.acme)

    visit(clinic["branch"], patient, clinic["doctor"], NOW + timedelta(days=3),
          clinic["implant"], status="booked")  # fmt: skip
    result = generate(world.acme)

    [task] = tasks_of(K.TREATMENT_CONTINUATION)
    assert (task.status, task.cancel_reason, task.closed_at) == (
        TaskStatus.CANCELLED, CancelReason.BOOKED, NOW,
    )  # fmt: skip
    assert dict(result.cancelled) == {CancelReason.BOOKED: 1}
    assert result.total_created == 0


def test_continuation_call_is_cancelled_when_nothing_is_left_to_book(world, clinic):
    patient = patient_of(world)
    plan = accepted_plan(clinic["branch"], patient, clinic["doctor"], clinic["implant"],
                         NOW - timedelta(days=8))  # fmt: skip
    generate(world.acme)

    plan.options.get().items.update(status="cancelled")
    generate(world.acme)

    assert [(t.status, t.cancel_reason) for t in tasks_of()] == [
        (TaskStatus.CANCELLED, CancelReason.PLAN_CLOSED)
    ]


# --- recall --------------------------------------------------------------------------------
def test_recall_call_comes_two_weeks_before_the_recall_date(world, clinic):
    patient = patient_of(world)
    done_on(clinic["branch"], patient, clinic["doctor"], date(2029, 9, 15), clinic["scale"])
    profile(patient, recall_due_on=date(2030, 3, 15), last_visit_on=date(2029, 9, 15))
    later = patient_of(world, "Mai")  # due in May: not yet
    done_on(clinic["branch"], later, clinic["doctor"], date(2029, 11, 20), clinic["scale"])
    profile(later, recall_due_on=date(2030, 5, 20), last_visit_on=date(2029, 11, 20))

    generate(world.acme)

    assert [(t.kind, t.patient_id, t.cause_on, t.due_at, t.assigned_to_id, t.assigned_role,
             t.cause_key) for t in tasks_of()] == [
        (K.RECALL_DUE, patient.pk, date(2030, 3, 15), local(TODAY), None, Role.RECEPTIONIST,
         f"recall_due:patient:{patient.pk}:2030-03-15"),
    ]  # fmt: skip


def test_recall_date_is_the_earliest_one_a_later_visit_did_not_answer(world, clinic):
    # Monthly orthodontic checks ended in 2028; cleanings every six months since. The old
    # monthly date (10 February 2028) no longer matters: the CRM's profile and the rules
    # share the one recall rule.
    patient = patient_of(world)
    done_on(clinic["branch"], patient, clinic["doctor"], date(2028, 1, 10), clinic["ortho"])
    done_on(clinic["branch"], patient, clinic["doctor"], date(2029, 9, 15), clinic["scale"])

    assert computed_profile(patient).recall_due_on == date(2030, 3, 15)
    generate(world.acme)

    assert [(t.kind, t.cause_on) for t in tasks_of()] == [(K.RECALL_DUE, date(2030, 3, 15))]


def test_a_patient_already_booked_gets_no_recall_call_and_a_booking_cancels_it(world, clinic):
    booked, waiting = patient_of(world, "Booked"), patient_of(world, "Waiting")
    for hour, patient in ((9, booked), (10, waiting)):
        visit(clinic["branch"], patient, clinic["doctor"], local(date(2029, 9, 15), hour),
              clinic["scale"])  # fmt: skip
        profile(patient, recall_due_on=date(2030, 3, 15), last_visit_on=date(2029, 9, 15))
    visit(clinic["branch"], booked, clinic["doctor"], NOW + timedelta(days=10),
          clinic["scale"], status="booked")  # fmt: skip

    generate(world.acme)
    assert [t.patient_id for t in tasks_of()] == [waiting.pk]

    visit(clinic["branch"], waiting, clinic["doctor"], NOW + timedelta(days=12),
          clinic["scale"], status="booked")  # fmt: skip
    generate(world.acme)

    assert [(t.patient_id, t.status, t.cancel_reason) for t in tasks_of()] == [
        (waiting.pk, TaskStatus.CANCELLED, CancelReason.BOOKED)
    ]


def test_a_recall_visit_cancels_the_call_as_visited_and_the_next_date_comes_later(world, clinic):
    patient = patient_of(world)
    done_on(clinic["branch"], patient, clinic["doctor"], date(2029, 9, 15), clinic["scale"])
    profile(patient, recall_due_on=date(2030, 3, 15), last_visit_on=date(2029, 9, 15))
    generate(world.acme)

    done_on(clinic["branch"], patient, clinic["doctor"], date(2030, 3, 4), clinic["scale"])
    assert computed_profile(patient).recall_due_on == date(2030, 9, 4)
    generate(world.acme)

    assert [(t.cause_on, t.status, t.cancel_reason) for t in tasks_of()] == [
        (date(2030, 3, 15), TaskStatus.CANCELLED, CancelReason.VISITED)
    ]


# --- reactivation ------------------------------------------------------------------------------
def test_absent_six_and_twelve_months_get_reactivation_calls(world, clinic):
    six, twelve, recent = (patient_of(world, n) for n in ("Six", "Twelve", "Recent"))
    profile(six, last_visit_on=date(2029, 8, 1))
    profile(twelve, last_visit_on=date(2029, 2, 1))
    profile(recent, last_visit_on=date(2029, 12, 1))

    generate(world.acme)

    assert sorted((t.kind, t.patient_id, t.cause_on, t.due_at) for t in tasks_of()) == [
        (K.REACTIVATION_12M, twelve.pk, date(2029, 2, 1), local(TODAY)),
        (K.REACTIVATION_6M, six.pk, date(2029, 8, 1), local(TODAY)),
    ]


def test_six_month_call_gives_way_to_the_twelve_month_call(world, clinic):
    patient = patient_of(world)
    profile(patient, last_visit_on=date(2029, 8, 1))
    generate(world.acme)

    result = generate(world.acme, NOW + timedelta(days=160))  # 12 August 2030

    assert [(t.kind, t.status, t.cancel_reason) for t in tasks_of()] == [
        (K.REACTIVATION_6M, TaskStatus.CANCELLED, CancelReason.SUPERSEDED),
        (K.REACTIVATION_12M, TaskStatus.OPEN, ""),
    ]
    assert (dict(result.created), dict(result.cancelled)) == (
        {K.REACTIVATION_12M: 1}, {CancelReason.SUPERSEDED: 1},
    )  # fmt: skip


def test_a_visit_cancels_the_reactivation_call(world, clinic):
    patient = patient_of(world)
    found = profile(patient, last_visit_on=date(2029, 8, 1))
    generate(world.acme)

    found.last_visit_on = date(2030, 3, 4)
    found.save()
    generate(world.acme)

    assert [(t.status, t.cancel_reason) for t in tasks_of()] == [
        (TaskStatus.CANCELLED, CancelReason.VISITED)
    ]


# --- confirmation calls ---------------------------------------------------------------------
def test_complex_unconfirmed_appointments_get_a_call_four_hours_before(world, clinic):
    patient = patient_of(world)
    implant = visit(clinic["branch"], patient, clinic["doctor"], NOW + timedelta(hours=5),
                    clinic["implant"], status="booked")  # fmt: skip
    visit(clinic["branch"], patient_of(world, "Hygiene"), clinic["doctor"],
          NOW + timedelta(hours=6), clinic["scale"], status="booked")  # fmt: skip
    visit(clinic["branch"], patient_of(world, "Sure"), clinic["doctor"],
          NOW + timedelta(hours=7), clinic["implant"], status="confirmed")  # fmt: skip
    visit(clinic["branch"], patient_of(world, "Far"), clinic["doctor"],
          NOW + timedelta(days=3), clinic["implant"], status="booked")  # fmt: skip

    generate(world.acme)

    assert [(t.kind, t.appointment_id, t.due_at) for t in tasks_of()] == [
        (K.CONFIRMATION_CALL, implant.pk, NOW + timedelta(hours=1))
    ]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "confirmed"}, CancelReason.CONFIRMED),
        ({"status": "cancelled"}, CancelReason.APPOINTMENT_CANCELLED),
        ({}, CancelReason.APPOINTMENT_STARTED),
    ],
)
def test_confirmation_call_is_cancelled_when_confirmed_cancelled_or_started(
    world, clinic, change, reason
):
    appointment = visit(clinic["branch"], patient_of(world), clinic["doctor"],
                        NOW + timedelta(hours=5), clinic["implant"], status="booked")  # fmt: skip
    generate(world.acme)
    type(appointment).objects.filter(pk=appointment.pk).update(**change)

    generate(world.acme, NOW + (timedelta(hours=6) if not change else timedelta(minutes=5)))

    assert [(t.status, t.cancel_reason) for t in tasks_of()] == [(TaskStatus.CANCELLED, reason)]


def test_a_moved_appointment_is_called_again_for_its_new_time(world, clinic):
    """Rescheduling keeps the appointment's row: the call for the old time goes, a call
    for the new time comes (also when the first call was already made)."""
    appointment = visit(clinic["branch"], patient_of(world), clinic["doctor"],
                        NOW + timedelta(hours=5), clinic["implant"], status="booked")  # fmt: skip
    generate(world.acme)
    later = NOW + timedelta(hours=6)
    type(appointment).objects.filter(pk=appointment.pk).update(
        starts_at=later,
        ends_at=later + timedelta(hours=1),
        blocked_until=later + timedelta(hours=2),
    )

    generate(world.acme)

    assert [(t.status, t.cancel_reason, t.due_at) for t in tasks_of()] == [
        (TaskStatus.CANCELLED, CancelReason.APPOINTMENT_MOVED, NOW + timedelta(hours=1)),
        (TaskStatus.OPEN, "", NOW + timedelta(hours=2)),
    ]


# --- complaints and birthdays ------------------------------------------------------------------
def test_open_complaint_gets_a_follow_up_call_from_its_owner_until_resolved(world, clinic, persona):
    manager = persona(Role.BRANCH_MANAGER)
    complaint = Complaint.objects.create(
        organization=world.acme, branch=clinic["branch"], patient=patient_of(world),
        category="waiting", severity="medium", description="Waited an hour.",
        received_at=NOW - timedelta(hours=2), owner=manager,
    )  # fmt: skip

    generate(world.acme)
    assert [(t.kind, t.complaint_id, t.assigned_to_id, t.due_at) for t in tasks_of()] == [
        (K.COMPLAINT_FOLLOW_UP, complaint.pk, manager.pk, NOW + timedelta(days=1, hours=-2))
    ]

    Complaint.objects.filter(pk=complaint.pk).update(status="resolved", resolved_at=NOW)
    generate(world.acme)
    assert [(t.status, t.cancel_reason) for t in tasks_of()] == [
        (TaskStatus.CANCELLED, CancelReason.COMPLAINT_RESOLVED)
    ]


def test_birthday_call_on_the_day_for_patients_seen_lately_gone_the_day_after(world, clinic):
    today = patient_of(world, "Today", birth_date=date(1990, 3, 5))
    profile(today, last_visit_on=date(2030, 1, 10))
    tomorrow = patient_of(world, "Tomorrow", birth_date=date(1990, 3, 6))
    profile(tomorrow, last_visit_on=date(2030, 1, 10))
    profile(patient_of(world, "Long gone", birth_date=date(1985, 3, 5)),
            last_visit_on=date(2026, 6, 1))  # fmt: skip

    generate(world.acme)
    assert [(t.kind, t.patient_id, t.cause_on, t.due_at) for t in tasks_of()] == [
        (K.BIRTHDAY, today.pk, TODAY, local(TODAY))
    ]

    generate(world.acme, NOW + timedelta(days=1))
    assert [(t.patient_id, t.status, t.cancel_reason) for t in tasks_of(K.BIRTHDAY)] == [
        (today.pk, TaskStatus.CANCELLED, CancelReason.DAY_PASSED),
        (tomorrow.pk, TaskStatus.OPEN, ""),
    ]


def test_a_leap_day_birthday_is_called_on_the_28th_in_other_years(world, clinic):
    leap = patient_of(world, birth_date=date(2000, 2, 29))
    profile(leap, last_visit_on=date(2030, 1, 10))

    generate(world.acme, local(date(2030, 2, 28), 10))

    assert [(t.patient_id, t.cause_on) for t in tasks_of(K.BIRTHDAY)] == [
        (leap.pk, date(2030, 2, 28))
    ]


# --- who is never called ----------------------------------------------------------------------
def everything_for(world, clinic, patient):
    """A reason for a task of nearly every kind, all for one patient."""
    done_on(clinic["branch"], patient, clinic["doctor"], TODAY - timedelta(days=1),
            clinic["implant"])  # fmt: skip
    accepted_plan(clinic["branch"], patient, clinic["doctor"], clinic["implant"],
                  NOW - timedelta(days=8))  # fmt: skip
    Complaint.objects.create(
        organization=world.acme, branch=clinic["branch"], patient=patient, category="pain",
        severity="high", description="Hurts.", received_at=NOW - timedelta(days=1),
    )  # fmt: skip


def test_a_patient_who_refused_calls_gets_no_task_and_loses_the_open_ones(world, clinic):
    patient = patient_of(world)
    everything_for(world, clinic, patient)
    generate(world.acme)
    assert len(tasks_of()) == 4

    refuse_calls(patient)
    result = generate(world.acme)

    assert {(t.status, t.cancel_reason) for t in tasks_of()} == {
        (TaskStatus.CANCELLED, CancelReason.DO_NOT_CONTACT)
    }
    assert dict(result.cancelled) == {CancelReason.DO_NOT_CONTACT: 4}
    assert generate(world.acme, NOW + timedelta(hours=1)).total_created == 0


def test_a_later_consent_lets_the_calls_come_back(world, clinic):
    patient = patient_of(world)
    everything_for(world, clinic, patient)
    refuse_calls(patient, NOW - timedelta(days=3))
    patient.consents.create(
        channel="phone", purpose="service", is_granted=True, origin="verbal",
        recorded_at=NOW - timedelta(days=1),
    )  # fmt: skip

    assert generate(world.acme).total_created == 4


def test_merged_patients_never_get_tasks(world, clinic):
    survivor = patient_of(world, "Survivor")
    merged = patient_of(world, "Merged", status=PatientStatus.MERGED, merged_into=survivor)
    everything_for(world, clinic, merged)

    assert generate(world.acme).total_created == 0


# --- idempotency ---------------------------------------------------------------------------
def test_running_twice_changes_nothing(world, clinic, persona):
    patient = patient_of(world)
    everything_for(world, clinic, patient)
    recall = patient_of(world, "Recall")
    done_on(clinic["branch"], recall, clinic["doctor"], date(2029, 9, 15), clinic["scale"])
    profile(recall, recall_due_on=date(2030, 3, 15), last_visit_on=date(2029, 9, 15))
    profile(patient_of(world, "Absent", birth_date=date(1980, 3, 5)),
            last_visit_on=date(2029, 8, 1))  # fmt: skip
    visit(clinic["branch"], patient_of(world, "Tonight"), clinic["doctor"],
          NOW + timedelta(hours=5), clinic["implant"], status="booked")  # fmt: skip

    first = generate(world.acme)
    rows = snapshot()
    second = generate(world.acme)

    assert dict(first.created) == {
        K.POST_TREATMENT_DAY1: 1, K.POST_TREATMENT_DAY7: 1, K.TREATMENT_CONTINUATION: 1,
        K.COMPLAINT_FOLLOW_UP: 1, K.RECALL_DUE: 1, K.REACTIVATION_6M: 1, K.BIRTHDAY: 1,
        K.CONFIRMATION_CALL: 1,
    }  # fmt: skip
    assert (second.total_created, second.total_cancelled) == (0, 0)
    assert snapshot() == rows
    assert CareTask.objects.count() == 8


def test_other_organisations_tasks_and_rules_are_their_own(world, clinic):
    rival_patient = PatientFactory(home_branch=world.rival_branch)
    rival_doctor = make_doctor(world.rival_branch)
    rival_implant = procedure(world.rival, "IMPL", "implant")
    done_on(world.rival_branch, rival_patient, rival_doctor, TODAY - timedelta(days=1),
            rival_implant)  # fmt: skip

    assert generate(world.acme).total_created == 0
    assert generate(world.rival).total_created == 2
    assert {t.organization_id for t in tasks_of()} == {world.rival.pk}


def test_a_run_costs_the_same_queries_however_many_patients(world, clinic):
    made: list[int] = []

    def run_again_with(patients: int) -> int:
        for _ in range(patients):
            number = len(made)
            made.append(number)
            patient = patient_of(world, f"P{patients}-{number}", birth_date=date(1990, 3, 5))
            done_on(clinic["branch"], patient, clinic["doctor"], TODAY - timedelta(days=1),
                    clinic["implant"], hour=8 + number)  # fmt: skip
            done_on(clinic["branch"], patient, clinic["doctor"], date(2029, 9, 15),
                    clinic["scale"], hour=8 + number)  # fmt: skip
            profile(
                patient, recall_due_on=date(2030, 3, 15), last_visit_on=TODAY - timedelta(days=1)
            )
        generate(world.acme)
        with CaptureQueriesContext(connection) as queries:
            result = generate(world.acme)
        assert result.total_created == 0
        return len(queries)

    assert run_again_with(2) == run_again_with(6)
