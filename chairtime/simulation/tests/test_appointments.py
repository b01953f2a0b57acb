"""The simulator's rota and appointment book: who works when, and a history that is
possible (no double booking, within hours, qualified doctors) and has something to find
(no-shows that rise with lead time, late cancellations, a book that thins out ahead).

The branches are in Ho Chi Minh City, Madrid and New York; the history's five weeks
include the night Madrid leaves summer time (25 October 2026) and Spain's national day
(12 October), and "today" (1 November 2026) is the day New York leaves summer time."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import pytest
from django.db.models import Exists, F, OuterRef, Q

from chairtime.accounts.models import StaffProfile, User
from chairtime.clinical.models import Procedure
from chairtime.engine.checks import check_proposal
from chairtime.engine.types import Interval, Proposal
from chairtime.patients.models import Patient
from chairtime.scheduling.calendars import (
    ScheduleScope,
    assistant_key,
    chair_key,
    doctor_key,
    equipment_key,
    load_schedule,
    patient_key,
    window_around,
)
from chairtime.scheduling.choices import RELEASED_STATUSES, AppointmentStatus, CancelledBy
from chairtime.scheduling.models import (
    Appointment,
    DoctorProcedureDuration,
    Equipment,
    TimeOff,
    WorkingHours,
)
from chairtime.scheduling.selectors import SlotQuery, find_slots
from chairtime.scheduling.services import BookingRequest, book_appointment
from chairtime.simulation.bookings import no_show_probability
from chairtime.simulation.catalogue import CATALOGUE
from chairtime.simulation.demo import create_demo_logins
from chairtime.simulation.generator import SimulationConfig, SimulationResult, simulate
from chairtime.simulation.tests.conftest import simulated_once
from chairtime.tenancy.models import Membership, OpeningHours
from chairtime.tenancy.roles import Role

pytestmark = pytest.mark.django_db

S = AppointmentStatus
AS_OF = date(2026, 11, 1)
BOOK = SimulationConfig(
    seed=11, slug="book", organization_name="Book Dental", countries=("VN", "ES", "US"),
    branches=3, patients=900, min_chairs=3, max_chairs=5, batch_size=300, as_of=AS_OF,
    history_days=35, future_days=21,
)  # fmt: skip
# One busy branch over five months: enough missed appointments to measure rates with.
MEDIUM = SimulationConfig(
    seed=3, slug="medium", branches=1, patients=2_500, min_chairs=8, max_chairs=8,
    as_of=AS_OF, history_days=150, future_days=0,
)  # fmt: skip


book = simulated_once(BOOK)


def appointments_of(result: SimulationResult):
    return Appointment.objects.filter(branch__organization=result.organization)


def active(rows):
    return rows.exclude(status__in=RELEASED_STATUSES)


def now_in(branch) -> datetime:
    """The simulation's "now": the start of as_of in the branch's time zone."""
    return datetime.combine(AS_OF, clock(0), tzinfo=branch.zone)


def minutes(value: clock) -> int:
    return value.hour * 60 + value.minute


def local_span(appointment) -> tuple[date, int, int]:
    """(local day, minute it starts, minute its cleaning buffer ends)."""
    zone = appointment.branch.zone
    start = appointment.starts_at.astimezone(zone)
    end = appointment.blocked_until.astimezone(zone)
    assert end.date() == start.date(), appointment
    return start.date(), minutes(start.time()), minutes(end.time())


def hours_by(rows, *key_fields: str) -> dict[tuple, list[tuple[int, int]]]:
    spans: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    for row in rows:
        key = tuple(row[field] for field in key_fields)
        spans[key].append((minutes(row["from"]), minutes(row["until"])))
    return spans


def within(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in spans)


# --- staff, hours, leave, equipment ------------------------------------------------------
def test_every_category_of_the_catalogue_has_a_qualified_doctor_in_every_branch(book):
    categories = {entry.category for entry in CATALOGUE}
    for branch in book.branches:
        doctors = Membership.objects.filter(branch=branch, role=Role.DOCTOR).values("user")
        qualified = set()
        for own in StaffProfile.objects.filter(user__in=doctors).values_list(
            "procedure_categories", flat=True
        ):
            qualified.update(own)
        assert qualified >= categories, (branch.code, categories - qualified)


def test_doctors_are_qualified_by_specialty_and_nurses_for_everything(book):
    profiles = StaffProfile.objects.filter(
        user__memberships__branch__organization=book.organization
    )
    for profile in profiles.filter(user__memberships__role=Role.DOCTOR):
        assert "diagnostic" in profile.procedure_categories, profile
        if profile.specialty == "orthodontics":
            assert "orthodontic" in profile.procedure_categories
        if profile.specialty == "general":
            assert {"hygiene", "restorative", "endodontic"} <= set(profile.procedure_categories)
    nurse_categories = profiles.filter(user__memberships__role=Role.NURSE).values_list(
        "procedure_categories", flat=True
    )
    assert nurse_categories
    assert all(set(own) == {e.category for e in CATALOGUE} for own in nurse_categories)


def test_doctors_and_nurses_work_within_opening_hours_with_one_day_off(book):
    for branch in book.branches:
        opening = hours_by(
            OpeningHours.objects.filter(branch=branch).values(
                "weekday", **{"from": F("opens_at"), "until": F("closes_at")}
            ),
            "weekday",
        )
        clinicians = Membership.objects.filter(branch=branch, role__in=[Role.DOCTOR, Role.NURSE])
        worked = hours_by(
            WorkingHours.objects.filter(branch=branch).values(
                "staff", "weekday", **{"from": F("starts_at"), "until": F("ends_at")}
            ),
            "staff", "weekday",
        )  # fmt: skip
        for user_id in clinicians.values_list("user", flat=True):
            days = {weekday for staff, weekday in worked if staff == user_id}
            assert len(days) == len(opening) - 1, (branch.code, user_id, days)
            for weekday in days:
                for start, end in worked[user_id, weekday]:
                    assert within(opening[weekday,], start, end), (branch.code, weekday)


def test_some_shifts_are_split_days_and_the_evenings_are_covered(book):
    for branch in book.branches:
        rows = WorkingHours.objects.filter(branch=branch, weekday__lt=5)
        per_day = Counter(rows.values_list("staff", "weekday"))
        assert max(per_day.values()) == 2  # a split day: the lunch break between two rows
        assert rows.filter(ends_at=clock(20)).exists(), branch.code


def test_branches_close_on_public_holidays_and_staff_take_a_week_or_two_of_leave(book):
    spain = next(b for b in book.branches if b.country == "ES")
    national_day = TimeOff.objects.get(
        branch=spain, staff=None, starts_at=datetime.combine(date(2026, 10, 12), clock(0),
                                                              tzinfo=spain.zone),
    )  # fmt: skip
    assert national_day.kind == "holiday"
    assert national_day.ends_at - national_day.starts_at == timedelta(days=1)
    assert (
        not appointments_of(book)
        .filter(
            branch=spain, starts_at__gte=national_day.starts_at, starts_at__lt=national_day.ends_at
        )
        .exists()
    )
    us = next(b for b in book.branches if b.country == "US")
    independence = TimeOff.objects.filter(branch=us, staff=None, reason="Independence Day")
    # From the history's first year to the end of the booking horizon (six months ahead).
    assert [t.starts_at.astimezone(us.zone).date() for t in independence] == [
        date(2026, 7, 4), date(2027, 7, 4),
    ]  # fmt: skip
    for membership in Membership.objects.filter(
        branch__in=book.branches, role__in=[Role.DOCTOR, Role.NURSE]
    ):
        leave = TimeOff.objects.filter(staff=membership.user, kind="leave").order_by("starts_at")
        assert [t.starts_at.year for t in leave] == [2026, 2027], membership
        for block in leave:
            assert 5 <= (block.ends_at - block.starts_at).days <= 14, block


def test_every_branch_has_a_cbct_scanner_and_two_implant_motors_the_catalogue_needs(book):
    for branch in book.branches:
        equipment = dict(Equipment.objects.filter(branch=branch).values_list("code", "capacity"))
        assert equipment == {"cbct": 1, "implant-motor": 2}
    needs = dict(
        Procedure.objects.filter(organization=book.organization)
        .exclude(equipment_codes=[])
        .values_list("code", "equipment_codes")
    )
    assert needs == {"CBCT": ["cbct"], "IMPL": ["implant-motor"]}


def test_some_juniors_are_slower_and_some_principals_faster(book):
    overrides = DoctorProcedureDuration.objects.filter(
        doctor__memberships__branch__organization=book.organization
    ).select_related("procedure", "doctor__staff_profile")
    assert overrides.exists()
    for override in overrides:
        change = override.minutes - override.procedure.default_duration_minutes
        seniority = override.doctor.staff_profile.seniority
        assert change > 0 if seniority == "junior" else change < 0, (seniority, change)
        assert override.minutes % 5 == 0


# --- the appointment book is possible ----------------------------------------------------
@pytest.mark.parametrize(
    ("resource", "until"),
    [("doctor", "blocked_until"), ("assistant", "blocked_until"), ("chair", "blocked_until"),
     ("patient", "ends_at")],
)  # fmt: skip
def test_no_two_active_appointments_overlap_on_a_resource(book, resource, until):
    rows = active(appointments_of(book))
    others = active(Appointment.objects.exclude(pk=OuterRef("pk"))).filter(
        **{resource: OuterRef(resource), "starts_at__lt": OuterRef(until),
           f"{until}__gt": OuterRef("starts_at")},
    )  # fmt: skip

    overlapping = rows.filter(**{f"{resource}__isnull": False}).filter(Exists(others))

    assert rows.filter(**{f"{resource}__isnull": False}).count() > 100
    assert list(overlapping.values_list("pk", flat=True)) == []


def test_equipment_is_never_used_by_more_appointments_than_its_units(book):
    for equipment in Equipment.objects.filter(branch__in=book.branches):
        events = []
        for starts_at, blocked_until in active(equipment.appointments.all()).values_list(
            "starts_at", "blocked_until"
        ):
            events += [(starts_at, 1), (blocked_until, -1)]
        in_use, most = 0, 0
        for _, change in sorted(events):  # an end sorts before a start at the same instant
            in_use += change
            most = max(most, in_use)
        assert most <= equipment.capacity, equipment
        assert events, equipment  # CBCT scans and implants are booked


def test_every_appointment_lies_within_its_clinicians_hours_and_the_opening_hours(book):
    rows = appointments_of(book).select_related("branch")
    worked = hours_by(
        WorkingHours.objects.filter(branch__in=book.branches).values(
            "staff", "weekday", **{"from": F("starts_at"), "until": F("ends_at")}
        ),
        "staff", "weekday",
    )  # fmt: skip
    opening = hours_by(
        OpeningHours.objects.filter(branch__in=book.branches).values(
            "branch", "weekday", **{"from": F("opens_at"), "until": F("closes_at")}
        ),
        "branch", "weekday",
    )  # fmt: skip
    checked = Counter()
    for appointment in rows:
        day, start, end = local_span(appointment)
        weekday = day.weekday()
        assert within(opening[appointment.branch_id, weekday], start, end), appointment
        assert within(worked[appointment.doctor_id, weekday], start, end), appointment
        if appointment.assistant_id:
            assert within(worked[appointment.assistant_id, weekday], start, end), appointment
        checked[appointment.branch.country] += 1
    assert set(checked) == {"VN", "ES", "US"}


def test_nobody_is_booked_on_leave_or_on_a_holiday(book):
    rows = appointments_of(book)
    away = TimeOff.objects.filter(
        Q(staff=None) | Q(staff=OuterRef("doctor")) | Q(staff=OuterRef("assistant")),
        branch=OuterRef("branch"),
        starts_at__lt=OuterRef("blocked_until"),
        ends_at__gt=OuterRef("starts_at"),
    )

    assert list(rows.filter(Exists(away)).values_list("pk", flat=True)) == []


def test_every_appointment_is_with_a_qualified_doctor_and_the_help_and_equipment_it_needs(
    book,
):
    rows = appointments_of(book).select_related("procedure", "doctor__staff_profile")
    nurses = set(
        Membership.objects.filter(branch__in=book.branches, role=Role.NURSE).values_list(
            "user", flat=True
        )
    )
    for appointment in rows.prefetch_related("equipment"):
        procedure = appointment.procedure
        assert procedure.category in appointment.doctor.staff_profile.procedure_categories
        assert (appointment.assistant_id is not None) == procedure.needs_assistant, appointment
        if appointment.assistant_id is not None:
            assert appointment.assistant_id in nurses
        assert [e.code for e in appointment.equipment.all()] == procedure.equipment_codes


def test_the_scheduling_engine_accepts_every_future_appointment_as_it_stands(book):
    """The app's own rules (hours, leave, holidays, overlaps) agree with the simulator's."""
    future = active(appointments_of(book)).filter(starts_at__gte=datetime(2026, 11, 2, tzinfo=UTC))
    checked = 0
    for appointment in future.select_related("branch").prefetch_related("equipment")[::7]:
        keys = {doctor_key(appointment.doctor_id), chair_key(appointment.chair_id),
                patient_key(appointment.patient_id)}  # fmt: skip
        if appointment.assistant_id:
            keys.add(assistant_key(appointment.assistant_id))
        keys.update(equipment_key(e.pk) for e in appointment.equipment.all())
        proposal = Proposal(
            interval=Interval(appointment.starts_at, appointment.ends_at),
            blocked_until=appointment.blocked_until, resources=frozenset(keys),
            ignore_booking=appointment.pk,
        )  # fmt: skip
        scope = ScheduleScope(
            doctors=[appointment.doctor_id], chairs=[appointment.chair_id],
            assistants=[appointment.assistant_id] if appointment.assistant_id else [],
            patients=[appointment.patient_id],
        )  # fmt: skip
        schedule = load_schedule(
            appointment.branch, window_around(appointment.starts_at, appointment.blocked_until),
            scope,
        )  # fmt: skip
        problems = check_proposal(
            schedule, proposal, now=now_in(appointment.branch),
            horizon_end=appointment.starts_at + timedelta(days=1),
        )  # fmt: skip
        assert problems == [], (appointment, problems)
        checked += 1
    assert checked > 20


# --- the appointment book has something to find -------------------------------------------
def test_past_appointments_have_an_outcome_and_future_ones_are_booked_or_cancelled(book):
    for appointment in appointments_of(book).select_related("branch"):
        now = now_in(appointment.branch)
        assert appointment.created_at < now, appointment  # made before "now"
        if appointment.starts_at < now:
            assert appointment.status in {S.COMPLETED, S.NO_SHOW, S.CANCELLED}, appointment
        else:
            assert appointment.status in {S.BOOKED, S.CONFIRMED, S.CANCELLED}, appointment


def test_every_step_of_a_visit_is_timestamped_in_order(book):
    rows = appointments_of(book)
    completed = rows.filter(status=S.COMPLETED)
    assert completed.count() > 500
    late_arrivals = 0
    for a in completed:
        assert a.created_at < a.starts_at
        assert a.confirmed_at is None or a.created_at < a.confirmed_at < a.starts_at
        assert a.arrived_at <= a.seated_at < a.completed_at, a
        assert a.seated_at >= a.starts_at
        assert abs(a.arrived_at - a.starts_at) <= timedelta(minutes=45)
        late_arrivals += a.arrived_at > a.starts_at
        assert a.updated_at == a.completed_at
    assert 0.1 < late_arrivals / completed.count() < 0.5  # punctuality varies
    for a in rows.filter(status=S.NO_SHOW):
        assert a.no_show_at > a.starts_at and a.arrived_at is None, a
    for a in rows.filter(status=S.CANCELLED):
        assert a.created_at < a.cancelled_at < a.starts_at, a
        assert a.cancelled_by in CancelledBy.values and a.cancel_reason, a
    walk_ins = rows.filter(is_walk_in=True)
    assert walk_ins.exists()
    assert set(walk_ins.values_list("status", flat=True)) == {S.COMPLETED}


def test_late_cancellations_are_exactly_the_patients_under_24_hours_before(book):
    cancelled = appointments_of(book).filter(status=S.CANCELLED)
    seen = Counter()
    for a in cancelled:
        under_a_day = a.starts_at - a.cancelled_at < timedelta(hours=24)
        expected = a.cancelled_by == CancelledBy.PATIENT and under_a_day
        assert a.is_late_cancellation == expected, a
        seen[a.cancelled_by, a.is_late_cancellation] += 1
    assert seen[CancelledBy.PATIENT, True] and seen[CancelledBy.PATIENT, False], seen
    assert seen[CancelledBy.CLINIC, False], seen
    assert (
        not appointments_of(book)
        .exclude(status=S.CANCELLED)
        .filter(is_late_cancellation=True)
        .exists()
    )


def test_lead_times_range_from_the_same_day_to_recalls_half_a_year_ahead(book):
    leads = [
        (a.starts_at - a.created_at).days
        for a in appointments_of(book).only("starts_at", "created_at")
    ]
    share = {
        "same day": sum(lead == 0 for lead in leads) / len(leads),
        "within a week": sum(lead <= 7 for lead in leads) / len(leads),
        "a month or more": sum(lead >= 28 for lead in leads) / len(leads),
    }
    assert 0.1 < share["same day"] < 0.35, share
    assert 0.4 < share["within a week"] < 0.7, share
    assert 0.1 < share["a month or more"] < 0.35, share
    assert max(leads) >= 150  # a six-month recall booked at the last visit


def test_the_future_book_thins_out_further_ahead(book):
    future = appointments_of(book).filter(starts_at__gte=datetime(2026, 11, 1, tzinfo=UTC))
    weeks = Counter((a.starts_at.date() - AS_OF).days // 7 for a in future.only("starts_at"))
    assert weeks[0] > weeks[1] > weeks[2] > 0, weeks


def test_no_shows_rise_with_lead_time_and_with_earlier_no_shows():
    result = simulate(MEDIUM)
    due = (
        appointments_of(result)
        .filter(status__in=[S.COMPLETED, S.NO_SHOW])
        .order_by("starts_at")
        .values_list("patient", "starts_at", "created_at", "status")
    )
    by_lead: dict[str, list[bool]] = defaultdict(list)
    by_history: dict[bool, list[bool]] = defaultdict(list)
    missed_before: set[int] = set()
    for patient, starts_at, created_at, status in due:
        missed = status == S.NO_SHOW
        lead = starts_at - created_at
        if lead <= timedelta(days=1):
            by_lead["at most a day"].append(missed)
        elif lead >= timedelta(days=28):
            by_lead["28 days or more"].append(missed)
        by_history[patient in missed_before].append(missed)
        if missed:
            missed_before.add(patient)

    def rate(outcomes: list[bool]) -> float:
        return sum(outcomes) / len(outcomes)

    short, long = rate(by_lead["at most a day"]), rate(by_lead["28 days or more"])
    measured = (
        f"no-show rate {short:.1%} at lead ≤ 1 day (n={len(by_lead['at most a day'])}), "
        f"{long:.1%} at lead ≥ 28 days (n={len(by_lead['28 days or more'])})"
    )
    assert min(len(v) for v in by_lead.values()) > 500, measured
    assert long >= 2 * short, measured
    assert short < 0.05 and 0.1 < long < 0.3, measured
    repeat, first = rate(by_history[True]), rate(by_history[False])
    assert repeat > 1.3 * first, f"{repeat:.1%} after an earlier no-show, {first:.1%} otherwise"


def test_the_no_show_curve_matches_the_issue():
    assert round(no_show_probability(0), 3) == 0.02
    assert 0.07 < no_show_probability(14) < 0.1
    assert 0.15 < no_show_probability(45) < 0.2


def test_doctors_are_booked_for_most_but_not_all_of_their_working_time():
    result = simulate(dataclasses.replace(MEDIUM, history_days=28))
    branch = result.branches[0]
    doctors = list(Membership.objects.filter(branch=branch, role=Role.DOCTOR).values_list(
        "user", flat=True))  # fmt: skip
    first = AS_OF - timedelta(days=28)
    closed = TimeOff.objects.filter(branch=branch).values_list("staff", "starts_at", "ends_at")
    away = defaultdict(set)
    for staff, starts_at, ends_at in closed:
        day = starts_at.astimezone(branch.zone).date()
        while day < ends_at.astimezone(branch.zone).date():
            away[staff].add(day)
            day += timedelta(days=1)
    hours = defaultdict(int)
    for staff, weekday, start, end in WorkingHours.objects.filter(staff__in=doctors).values_list(
        "staff", "weekday", "starts_at", "ends_at"
    ):
        hours[staff, weekday] += minutes(end) - minutes(start)
    available = sum(
        hours[doctor, (first + timedelta(days=n)).weekday()]
        for doctor in doctors
        for n in range(28)
        if first + timedelta(days=n) not in away[None] | away[doctor]
    )
    booked = sum(
        (a.blocked_until - a.starts_at).total_seconds() / 60
        for a in appointments_of(result).filter(starts_at__lt=now_in(branch))
    )
    assert 0.6 < booked / available < 0.9, f"{booked / available:.1%} of doctors' time booked"


# --- the same seed, the same book; and the app can book on top of it ----------------------
def fingerprint(result: SimulationResult) -> list[tuple[object, ...]]:
    rows = appointments_of(result).order_by("starts_at", "chair__name", "doctor__username")
    return [
        (a.patient.number, a.procedure.code, a.doctor.username.removeprefix(result.organization.slug),
         a.chair.name, a.starts_at, a.status, a.created_at, a.cancelled_at, a.completed_at)
        for a in rows.select_related("patient", "procedure", "doctor", "chair")
    ]  # fmt: skip


def test_the_same_seed_makes_the_same_appointment_book(book):
    again = simulate(dataclasses.replace(BOOK, slug="book-again", organization_name="Again"))

    first, second = fingerprint(book), fingerprint(again)
    assert len(first) == book.appointments + book.waitlist.booked > 1000  # claims book too
    assert first == second


def test_without_history_or_future_days_there_is_no_appointment_book():
    result = simulate(dataclasses.replace(BOOK, history_days=0, future_days=0, slug="empty"))

    assert result.appointments == 0
    assert not appointments_of(result).exists()
    assert WorkingHours.objects.filter(branch__in=result.branches).exists()


def test_refuses_a_utilisation_outside_zero_to_one():
    with pytest.raises(ValueError, match="utilisation must be more than 0 and at most 1"):
        simulate(dataclasses.replace(BOOK, utilisation=1.5))


def test_the_demo_doctor_can_be_booked_on_top_of_the_simulated_book(book):
    create_demo_logins(book.organization)
    doctor = User.objects.get(username="doctor")
    branch = book.branches[0]
    procedure = Procedure.objects.get(organization=book.organization, code="IMPL")
    patient = Patient.objects.filter(home_branch=branch).order_by("pk").last()
    now = now_in(branch)

    slots = find_slots(
        branch=branch, query=SlotQuery(procedure=procedure, doctor=doctor, patient=patient),
        now=now,
    )  # fmt: skip
    slot = slots[0]
    booked = book_appointment(
        actor=User.objects.get(username="book-owner"), branch=branch, now=now,
        request=BookingRequest(
            patient=patient, procedure=procedure, doctor=doctor, chair=slot.chair,
            starts_at=slot.opening.interval.start, assistant=slot.assistant,
        ),
    )  # fmt: skip

    assert booked.pk > max(appointments_of(book).exclude(pk=booked.pk).values_list("pk", flat=True))
    assert [e.code for e in booked.equipment.all()] == ["implant-motor"]
    nurse = User.objects.get(username="nurse")
    assert WorkingHours.objects.filter(staff=nurse, branch=branch).count() == (
        OpeningHours.objects.filter(branch=branch).count()
    )
