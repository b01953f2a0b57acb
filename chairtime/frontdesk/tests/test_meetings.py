"""The meetings' reads: the book's version, frozen production, the morning and evening
meetings and the no-shows report, on a small branch at a fixed now (helpers.NOW)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from chairtime.accounts.models import User
from chairtime.billing.models import Invoice, Payment
from chairtime.care.choices import TaskKind, TaskStatus
from chairtime.care.models import CareTask
from chairtime.clinical.models import Procedure
from chairtime.crm.choices import CustomerGroup
from chairtime.frontdesk.models import DailyGoal, DaySnapshot
from chairtime.frontdesk.selectors import (
    LAB_LOOKAHEAD_DAYS,
    compute_scheduled_production,
    get_book_version,
    get_evening_meeting,
    get_morning_meeting,
    get_no_show_report,
)
from chairtime.frontdesk.services import freeze_day, freeze_due_days
from chairtime.frontdesk.tests.helpers import NOW, TODAY, accepted_item, appointment, local
from chairtime.labs.models import Lab, LabCase
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.services import cancel_appointment
from chairtime.tenancy.models import Branch
from tests.factories import (
    ChairFactory,
    PatientFactory,
    PatientProfileFactory,
    PerformedProcedureFactory,
    ProcedureFactory,
    ProcedurePriceFactory,
    TagFactory,
    make_doctor,
    open_branch,
)

YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)


@dataclass
class Desk:
    branch: Branch
    doctor: User
    second_doctor: User  # works chair 2
    chairs: list[Chair]
    filling: Procedure
    implant: Procedure
    patient: Patient

    def book(self, patient: Patient, hour: int, *, chair: int = 0, day: date = TODAY,
             procedure: Procedure | None = None, **fields: object) -> Appointment:  # fmt: skip
        return appointment(
            self.branch, patient, procedure or self.filling,
            self.second_doctor if chair else self.doctor, self.chairs[chair],
            local(day, hour), **fields,
        )  # fmt: skip


@pytest.fixture
def desk(world) -> Desk:
    branch = world.branch_a
    open_branch(branch)
    filling = ProcedureFactory(organization=world.acme, code="FIL", category="restorative")
    implant = ProcedureFactory(
        organization=world.acme, code="IMP", category="implant", equipment_codes=["implant-motor"]
    )
    ProcedurePriceFactory(branch=branch, procedure=filling, price=Decimal("500000"))
    ProcedurePriceFactory(branch=branch, procedure=implant, price=Decimal("20000000"))
    return Desk(
        branch=branch, doctor=make_doctor(branch, first_name="An", last_name="Trần"),
        second_doctor=make_doctor(branch, first_name="Bình", last_name="Lê"),
        chairs=[ChairFactory(branch=branch, name=f"Chair {n}", sort_order=n) for n in (1, 2)],
        filling=filling, implant=implant,
        patient=PatientFactory(home_branch=branch, family_name="Lê", given_name="Thị Mai"),
    )  # fmt: skip


# --- the book's version -----------------------------------------------------------------------
def test_version_changes_when_an_appointment_is_booked_cancelled_or_steps_on(desk, persona):
    from chairtime.tenancy.roles import Role

    first = get_book_version(branch=desk.branch, day=TODAY)
    booked = desk.book(desk.patient, 9)
    after_booking = get_book_version(branch=desk.branch, day=TODAY)
    cancel_appointment(
        actor=persona(Role.RECEPTIONIST), appointment=booked, cancelled_by="patient",
        reason="Flu",
    )  # fmt: skip
    after_cancelling = get_book_version(branch=desk.branch, day=TODAY)

    assert len({first, after_booking, after_cancelling}) == 3
    assert get_book_version(branch=desk.branch, day=TODAY) == after_cancelling
    assert get_book_version(branch=desk.branch, day=TOMORROW) == first  # another day: unchanged


def test_version_changes_when_an_appointment_moves_out_of_the_day(desk):
    moved = desk.book(desk.patient, 9)
    other = desk.book(PatientFactory(home_branch=desk.branch), 11)
    Appointment.objects.filter(pk=other.pk).update(updated_at=other.updated_at + timedelta(hours=1))
    before = get_book_version(branch=desk.branch, day=TODAY)

    Appointment.objects.filter(pk=moved.pk).update(
        starts_at=local(TOMORROW, 9), ends_at=local(TOMORROW, 9, 30),
        blocked_until=local(TOMORROW, 9, 40), updated_at=timezone.now(),
    )  # fmt: skip

    assert get_book_version(branch=desk.branch, day=TODAY) != before


# --- frozen production --------------------------------------------------------------------------
def test_scheduled_production_takes_the_plan_item_else_the_branch_price(desk):
    planned = desk.book(desk.patient, 9, procedure=desk.implant)
    accepted_item(desk.branch, desk.patient, desk.implant, desk.doctor, "18000000",
                  appointment=planned)  # fmt: skip
    desk.book(PatientFactory(home_branch=desk.branch), 10)  # the price: 500,000
    desk.book(PatientFactory(home_branch=desk.branch), 11, status=AppointmentStatus.CANCELLED)
    desk.book(PatientFactory(home_branch=desk.branch), 9, day=TOMORROW)

    assert compute_scheduled_production(branch=desk.branch, day=TODAY) == (
        Decimal("18500000"), 2,
    )  # fmt: skip


def test_a_day_is_frozen_once_and_never_recomputed(desk):
    DailyGoal.objects.create(branch=desk.branch, amount=Decimal("1000000"))
    desk.book(desk.patient, 9)
    first = freeze_day(branch=desk.branch, day=TODAY, now=NOW)
    desk.book(PatientFactory(home_branch=desk.branch), 10)

    again = freeze_day(branch=desk.branch, day=TODAY, now=NOW + timedelta(hours=1))

    assert again.pk == first.pk
    assert (again.scheduled_production, again.appointment_count, again.goal, again.frozen_at) == (
        Decimal("500000"), 1, Decimal("1000000"), NOW,
    )  # fmt: skip
    assert DaySnapshot.objects.count() == 1


def test_the_schedule_freezes_branches_past_their_freeze_time_only(desk, world):
    DailyGoal.objects.create(branch=world.branch_b, amount=Decimal("0"), freeze_at="11:00")
    at_ten = NOW  # 10:00 in Saigon (and Hanoi): past 06:00, before 11:00

    run = freeze_due_days(now=at_ten)
    again = freeze_due_days(now=at_ten + timedelta(minutes=15))

    frozen = set(DaySnapshot.objects.values_list("branch_id", "day"))
    assert (run.frozen, again.frozen) == (2, 0)  # branch A and the rival's branch
    assert frozen == {(desk.branch.pk, TODAY), (world.rival_branch.pk, TODAY)}


def test_before_six_in_the_morning_nothing_is_frozen(desk):
    run = freeze_due_days(now=local(TODAY, 5, 59))

    assert run.frozen == 0


# --- the morning meeting -------------------------------------------------------------------------
def _fill_morning(desk: Desk, world) -> dict[str, Appointment]:
    branch = desk.branch
    vip = PatientFactory(home_branch=branch, family_name="VIP", given_name="Tag")
    vip.tags.add(TagFactory(organization=world.acme, name="vip"))
    loyal = PatientFactory(home_branch=branch, family_name="Loyal", given_name="Group")
    PatientProfileFactory(patient=loyal, group=CustomerGroup.LOYAL)
    risky = PatientFactory(home_branch=branch, family_name="Risky", given_name="Often")
    for weeks in (3, 6, 9):
        desk.book(risky, 9, day=TODAY - timedelta(weeks=weeks), status=AppointmentStatus.NO_SHOW)
    desk.book(risky, 9, day=TODAY - timedelta(weeks=12), status=AppointmentStatus.COMPLETED,
              arrived_at=local(TODAY - timedelta(weeks=12), 9))  # fmt: skip
    birthday = PatientFactory(home_branch=branch, family_name="Birthday",
                              birth_date=date(1990, 3, 5), phone="0901234567")  # fmt: skip
    sister = PatientFactory(home_branch=branch, family_name="Sister", phone="0901234567")
    accepted_item(branch, sister, desk.implant, desk.doctor, "20000000")
    accepted_item(branch, birthday, desk.filling, desk.doctor, "500000")
    implant_patient = PatientFactory(home_branch=branch, family_name="Implant")
    rows = {
        "vip": desk.book(vip, 8, status=AppointmentStatus.CONFIRMED),
        "loyal": desk.book(loyal, 8, chair=1, status=AppointmentStatus.CONFIRMED),
        "risky": desk.book(risky, 9, booked_at=local(TODAY, 9) - timedelta(days=40)),
        "birthday": desk.book(birthday, 10, status=AppointmentStatus.CONFIRMED),
        "implant": desk.book(implant_patient, 11, procedure=desk.implant,
                             status=AppointmentStatus.CONFIRMED),
    }  # fmt: skip
    lab = Lab.objects.create(organization=world.acme, name="Smile Lab")
    LabCase.objects.create(
        branch=branch, patient=implant_patient, lab=lab, kind="implant_abutment",
        status="sent", due_on=TODAY - timedelta(days=1), appointment=rows["implant"],
        ordered_at=NOW - timedelta(days=10), sent_at=NOW - timedelta(days=9),
    )  # fmt: skip
    Invoice.objects.create(
        branch=branch, patient=birthday, number="A-1", currency="VND", issued_at=NOW,
        issued_on=YESTERDAY, due_on=YESTERDAY, total=Decimal("300000"),
        balance=Decimal("300000"),
    )  # fmt: skip
    return rows


def _yesterday(desk: Desk) -> None:
    branch = desk.branch
    newcomer = PatientFactory(home_branch=branch, family_name="New")
    desk.book(newcomer, 9, day=YESTERDAY, status=AppointmentStatus.COMPLETED,
              arrived_at=local(YESTERDAY, 9))  # fmt: skip
    accepted_item(branch, newcomer, desk.implant, desk.doctor, "20000000",
                  accepted_at=local(YESTERDAY, 10))  # fmt: skip
    desk.book(desk.patient, 10, day=YESTERDAY, status=AppointmentStatus.NO_SHOW)
    desk.book(PatientFactory(home_branch=branch), 11, day=YESTERDAY,
              status=AppointmentStatus.CANCELLED)  # fmt: skip
    PerformedProcedureFactory(branch=branch, patient=newcomer, procedure=desk.filling,
                              doctor=desk.doctor, performed_at=local(YESTERDAY, 9, 30))  # fmt: skip
    Payment.objects.create(
        branch=branch, patient=newcomer, method="cash", currency="VND",
        amount=Decimal("200000"), received_at=local(YESTERDAY, 10), received_on=YESTERDAY,
        unallocated=Decimal("200000"),
    )  # fmt: skip


def test_morning_meeting_shows_each_section(desk, world):
    rows = _fill_morning(desk, world)
    _yesterday(desk)
    DailyGoal.objects.create(branch=desk.branch, amount=Decimal("42000000"))
    freeze_day(branch=desk.branch, day=TODAY, now=NOW)

    with translation.override("en"):
        meeting = get_morning_meeting(branch=desk.branch, day=TODAY, now=NOW, with_money=True)

    def names(found: list) -> list[str]:
        return [row.appointment.patient.family_name for row in found]

    assert names(meeting.vips) == ["VIP", "Loyal"]
    assert names(meeting.complex_cases) == ["Implant"]
    [implant] = meeting.complex_cases
    assert [(f.lab_name, f.is_back, f.is_overdue) for f in implant.lab_flags] == [
        ("Smile Lab", False, True)
    ]
    assert implant.materials == ["implant-motor"]
    assert names(meeting.unconfirmed) == ["Risky"]
    [risky] = meeting.at_risk
    assert risky.appointment == rows["risky"]
    assert risky.risk.reasons == ("3 of 4 missed", "booked 40 days ahead")
    assert names(meeting.birthdays) == ["Birthday"]
    assert [(b.patient.family_name, b.amount) for b in meeting.balances or []] == [
        ("Birthday", Decimal("300000"))
    ]
    assert [(u.patient.family_name, u.relative_of.family_name if u.relative_of else None)
            for u in meeting.unscheduled] == [("Birthday", None), ("Sister", "Birthday")]  # fmt: skip
    assert [group.label for group in meeting.by_chair] == ["Chair 1", "Chair 2"]
    assert [(group.label, len(group.rows)) for group in meeting.by_doctor] == [
        ("An Trần", 4),
        ("Bình Lê", 1),
    ]
    y = meeting.yesterday
    assert (y.production, y.collections, y.arrivals, y.no_shows, y.cancellations,
            y.new_patients, y.conversions) == (
        Decimal("500000"), Decimal("200000"), 1, 1, 1, 1, 1,
    )  # fmt: skip
    snapshot = meeting.production.snapshot
    assert snapshot is not None
    assert (snapshot.scheduled_production, meeting.production.percent) == (
        Decimal("22000000"), 52,  # four fillings at 500,000 and an implant at 20,000,000
    )  # fmt: skip


def test_morning_meeting_hides_balances_from_readers_without_money(desk, world):
    _fill_morning(desk, world)

    meeting = get_morning_meeting(branch=desk.branch, day=TODAY, now=NOW, with_money=False)

    assert meeting.balances is None


def test_morning_meeting_reads_the_same_number_of_queries_however_busy(desk, world):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            get_morning_meeting(branch=desk.branch, day=TODAY, now=NOW, with_money=True)
        return len(queries)

    _fill_morning(desk, world)
    few = count()
    for hour in range(12, 19):
        for chair in (0, 1):
            patient = PatientFactory(home_branch=desk.branch, phone=f"09{hour}{chair}000")
            accepted_item(desk.branch, patient, desk.filling, desk.doctor, "500000")
            desk.book(patient, hour, chair=chair, procedure=desk.implant)

    assert count() == few


def test_morning_meeting_flags_lab_cases_not_back_in_the_next_days(desk, world):
    lab = Lab.objects.create(organization=world.acme, name="Smile Lab")

    def case_for(visit: Appointment, status: str, due_on: date) -> None:
        LabCase.objects.create(
            branch=desk.branch, patient=visit.patient, lab=lab, kind="crown", status=status,
            due_on=due_on, appointment=visit, ordered_at=NOW - timedelta(days=10),
            sent_at=None if status in ("ordered", "cancelled") else NOW - timedelta(days=9),
        )  # fmt: skip

    def visit(day: date, **fields: object) -> Appointment:
        return desk.book(PatientFactory(home_branch=desk.branch), 9, day=day,
                         procedure=desk.implant, **fields)  # fmt: skip

    today = visit(TODAY)
    in_three_days = visit(TODAY + timedelta(days=3))
    last_day = visit(TODAY + timedelta(days=LAB_LOOKAHEAD_DAYS))
    case_for(today, "sent", YESTERDAY)
    case_for(in_three_days, "ordered", TODAY + timedelta(days=2))
    case_for(last_day, "returned", TODAY + timedelta(days=6))
    case_for(visit(TODAY + timedelta(days=LAB_LOOKAHEAD_DAYS + 1)), "sent", TODAY)  # too far
    case_for(visit(TODAY + timedelta(days=2)), "received", TODAY)  # back
    case_for(visit(TODAY + timedelta(days=1), status=AppointmentStatus.CANCELLED), "sent", TODAY)
    case_for(visit(YESTERDAY), "sent", TODAY)  # already past
    case_for(visit(TODAY + timedelta(days=4)), "cancelled", TODAY)  # no case to wait for

    meeting = get_morning_meeting(branch=desk.branch, day=TODAY, now=NOW, with_money=False)

    assert meeting.lab_until == TODAY + timedelta(days=5)
    assert [
        (appointment.pk, [(f.lab_name, f.status, f.due_on, f.is_overdue) for f in flags])
        for appointment, flags in meeting.lab_ahead
    ] == [
        (today.pk, [("Smile Lab", "sent", YESTERDAY, True)]),
        (in_three_days.pk, [("Smile Lab", "ordered", TODAY + timedelta(days=2), False)]),
        (last_day.pk, [("Smile Lab", "returned", TODAY + timedelta(days=6), False)]),
    ]


# --- the evening meeting -------------------------------------------------------------------------
def test_evening_meeting_counts_the_day_against_the_morning(desk, world):
    branch = desk.branch
    kept = desk.book(
        desk.patient, 8, status=AppointmentStatus.COMPLETED, arrived_at=local(TODAY, 8)
    )
    desk.book(PatientFactory(home_branch=branch), 9, status=AppointmentStatus.NO_SHOW)
    late = desk.book(PatientFactory(home_branch=branch), 10, minutes=60,
                     status=AppointmentStatus.CANCELLED, is_late_cancellation=True)  # fmt: skip
    # Half of the late cancellation's hour was rebooked.
    desk.book(PatientFactory(home_branch=branch), 10, status=AppointmentStatus.COMPLETED,
              arrived_at=local(TODAY, 10), is_walk_in=True)  # fmt: skip
    CareTask.objects.create(
        organization=world.acme, branch=branch, patient=desk.patient,
        kind=TaskKind.POST_TREATMENT_DAY1, status=TaskStatus.DONE, due_at=NOW, next_attempt_at=NOW,
        max_attempts=3, cool_off_days=1, cause_key="a", closed_at=NOW,
    )  # fmt: skip
    CareTask.objects.create(
        organization=world.acme, branch=branch, patient=desk.patient,
        kind=TaskKind.POST_TREATMENT_DAY1, due_at=NOW, next_attempt_at=NOW, max_attempts=3,
        cool_off_days=1, cause_key="b",
    )  # fmt: skip
    desk.book(PatientFactory(home_branch=branch), 9, day=TOMORROW)  # booked, not confirmed
    DaySnapshot.objects.create(branch=branch, day=TODAY, frozen_at=NOW, currency="VND",
                               scheduled_production=Decimal("0"), appointment_count=3)  # fmt: skip

    meeting = get_evening_meeting(branch=branch, day=TODAY, now=NOW)

    assert meeting.snapshot is not None and meeting.snapshot.appointment_count == 3
    assert (meeting.booked_now, meeting.figures.arrivals, meeting.figures.no_shows) == (2, 2, 1)
    assert meeting.late_cancellations == [late]
    assert [w.patient_id for w in meeting.walk_ins] != [kept.patient_id]
    assert len(meeting.walk_ins) == 1
    assert [(g.appointment.status, g.starts_at, g.minutes) for g in meeting.gaps] == [
        (AppointmentStatus.NO_SHOW, local(TODAY, 9), 30),
        (AppointmentStatus.CANCELLED, local(TODAY, 10, 30), 30),
    ]
    assert meeting.unfilled_minutes == 60
    assert [(c.kind, c.done, c.left) for c in meeting.care] == [
        (TaskKind.POST_TREATMENT_DAY1, 1, 1)
    ]
    assert len(meeting.tomorrow_unconfirmed) == 1


# --- the no-shows report -------------------------------------------------------------------------
def test_no_show_report_gives_each_patients_record_and_the_fee_due(desk):
    from chairtime.frontdesk.models import NoShowFeeRule

    NoShowFeeRule.objects.create(branch=desk.branch, is_enabled=True,
                                 amount=Decimal("200000"), from_count=2)  # fmt: skip
    desk.book(desk.patient, 9, day=TODAY - timedelta(days=30), status=AppointmentStatus.NO_SHOW)
    desk.book(desk.patient, 9, day=TODAY - timedelta(days=400), status=AppointmentStatus.NO_SHOW)
    desk.book(desk.patient, 9, day=TODAY - timedelta(days=60), status=AppointmentStatus.COMPLETED,
              arrived_at=local(TODAY - timedelta(days=60), 9, 20))  # fmt: skip
    missed = desk.book(desk.patient, 9, status=AppointmentStatus.NO_SHOW)
    first_time = desk.book(PatientFactory(home_branch=desk.branch), 10,
                           status=AppointmentStatus.NO_SHOW)  # fmt: skip
    cancelled = desk.book(PatientFactory(home_branch=desk.branch), 11,
                          status=AppointmentStatus.CANCELLED, cancelled_by="patient",
                          cancel_reason="Travelling")  # fmt: skip

    report = get_no_show_report(branch=desk.branch, day=TODAY)

    by_id = {row.appointment.pk: row for row in report.rows}
    row = by_id[missed.pk]
    assert (row.record.appointments, row.record.no_shows, row.record.on_time_rate) == (4, 3, 0)
    assert (row.no_shows_in_year, row.fee_due) == (2, Decimal("200000"))
    assert (by_id[first_time.pk].no_shows_in_year, by_id[first_time.pk].fee_due) == (1, None)
    assert [r.appointment for r in report.cancellations] == [cancelled]
    assert by_id[cancelled.pk].fee_due is None
