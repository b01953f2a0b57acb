"""Who may do what, and when: the simulator's qualifications, working hours, leave, public
holidays, equipment and doctors' own durations.

`make_rota()` writes them as rows and returns them as the in-memory `BranchRota` the
booking step (bookings.py) places appointments with. A day there is a bitmap of 5-minute
slots in the branch's wall-clock time: bit n is the slot starting n × 5 minutes after
local midnight, so "is this interval free" is one AND, and working hours, which are
wall-clock times, need no conversion at all.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any
from zoneinfo import ZoneInfo

from chairtime.accounts.models import Seniority, Specialty
from chairtime.clinical.models import Procedure, ProcedureCategory
from chairtime.scheduling.choices import TimeOffKind
from chairtime.scheduling.models import (
    Chair,
    DoctorProcedureDuration,
    Equipment,
    TimeOff,
    WorkingHours,
)
from chairtime.simulation.bulk import insert_rows
from chairtime.simulation.catalogue import EQUIPMENT
from chairtime.simulation.countries import public_holidays
from chairtime.tenancy.models import Branch, OpeningHours

SLOT_MINUTES = 5
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES

# What each specialty does; `cover_categories` adds whatever a branch would otherwise lack.
SPECIALTY_CATEGORIES: dict[str, tuple[str, ...]] = {
    Specialty.GENERAL: ("diagnostic", "hygiene", "restorative", "endodontic", "paediatric",
                        "surgery"),
    Specialty.ORTHODONTICS: ("orthodontic", "diagnostic"),
    Specialty.ENDODONTICS: ("endodontic", "restorative", "diagnostic"),
    Specialty.PERIODONTICS: ("periodontic", "hygiene", "surgery", "diagnostic"),
    Specialty.PROSTHODONTICS: ("prosthetic", "restorative", "cosmetic", "diagnostic"),
    Specialty.ORAL_SURGERY: ("surgery", "implant", "diagnostic"),
    Specialty.IMPLANTOLOGY: ("implant", "surgery", "prosthetic", "diagnostic"),
    Specialty.PAEDIATRIC: ("paediatric", "hygiene", "restorative", "diagnostic"),
    Specialty.COSMETIC: ("cosmetic", "restorative", "prosthetic", "hygiene", "diagnostic"),
    Specialty.HYGIENE: ("hygiene", "periodontic", "diagnostic"),
}  # fmt: skip

# Shifts as wall-clock windows (minutes after midnight), cut to the branch's opening hours:
# an early shift is a split day with the lunch break the branch closes for.
SHIFTS: dict[tuple[str, str], tuple[int, int]] = {
    ("weekday", "early"): (8 * 60, 17 * 60), ("weekday", "late"): (10 * 60 + 30, 20 * 60),
    ("saturday", "early"): (8 * 60, 13 * 60), ("saturday", "late"): (12 * 60, 17 * 60),
    ("sunday", "early"): (8 * 60, 12 * 60), ("sunday", "late"): (8 * 60, 12 * 60),
}  # fmt: skip
PATTERNS = ("early", "late", "alternating")  # alternating: early on even weekdays
SHORTEST_SHIFT = 60  # minutes; a shorter piece of a shift is not worked
LEAVE_DAYS = (5, 7, 7, 9, 12, 14)  # a week or two, weekends included


@dataclass
class Clinician:
    """A doctor or nurse as the booking step sees them."""

    id: int
    categories: frozenset[str]
    weekly: dict[int, int]  # weekday → mask of working slots
    away: set[date] = field(default_factory=set)  # leave and training days


@dataclass
class BranchRota:
    branch: Branch
    zone: ZoneInfo
    opening: dict[int, int]  # weekday → mask of open slots
    closed: set[date]  # public holidays
    chairs: list[int]
    doctors: list[Clinician]
    nurses: list[Clinician]
    receptionists: list[int]
    equipment: dict[str, tuple[int, int]]  # code → (equipment id, units)
    consultants: list[int] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)


@dataclass
class StaffPlan:
    """The branch staff `_make_staff` made, by role, with each clinician's qualifications."""

    doctors: list[int] = field(default_factory=list)
    nurses: list[int] = field(default_factory=list)
    receptionists: list[int] = field(default_factory=list)
    consultants: list[int] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)
    others: list[int] = field(default_factory=list)  # every non-doctor, nurses included
    categories: dict[int, list[str]] = field(default_factory=dict)
    seniority: dict[int, str] = field(default_factory=dict)


# --- qualifications ----------------------------------------------------------------------
def categories_for(specialty: str) -> list[str]:
    return list(SPECIALTY_CATEGORIES.get(specialty, SPECIALTY_CATEGORIES[Specialty.GENERAL]))


def cover_categories(categories: Sequence[list[str]], needed: Iterable[str]) -> None:
    """Make every needed category someone's: a category nobody has goes (in place) to the
    doctor with the fewest, the way a small clinic's dentist does a bit of everything."""
    if not categories:
        return
    for category in needed:
        if not any(category in own for own in categories):
            min(categories, key=len).append(category)


# --- the rota ----------------------------------------------------------------------------
def make_rota(
    rng: random.Random,
    branches: list[Branch],
    staff: dict[int, StaffPlan],
    first_day: date,
    last_day: date,
) -> dict[int, BranchRota]:
    """Working hours, leave, holidays, equipment and durations for every branch, written
    as rows; leave and holidays cover [first_day, last_day]."""
    opening = _opening_segments(branches)
    chairs: dict[int, list[int]] = {b.pk: [] for b in branches}
    for chair_id, branch_id in Chair.objects.filter(branch__in=branches).values_list(
        "pk", "branch_id"
    ):
        chairs[branch_id].append(chair_id)
    years = range(first_day.year, last_day.year + 1)
    hours_rows: list[tuple[Any, ...]] = []
    time_off_rows: list[tuple[Any, ...]] = []
    rotas = {}
    for branch in branches:
        zone, plan = ZoneInfo(branch.time_zone), staff[branch.pk]
        segments = opening[branch.pk]
        doctors = _clinicians(rng, branch, plan.doctors, plan, segments, hours_rows)
        nurses = _clinicians(rng, branch, plan.nurses, plan, segments, hours_rows)
        for clinician in doctors + nurses:
            _leave(rng, branch, zone, clinician, years, time_off_rows)
        closed = _holidays(branch, zone, years, time_off_rows)
        rotas[branch.pk] = BranchRota(
            branch=branch, zone=zone, chairs=chairs[branch.pk], closed=closed,
            opening={day: _mask(pieces) for day, pieces in segments.items()},
            doctors=doctors, nurses=nurses, receptionists=list(plan.receptionists),
            equipment={}, consultants=list(plan.consultants), managers=list(plan.managers),
        )  # fmt: skip
    insert_rows(WorkingHours, ("branch", "staff", "weekday", "starts_at", "ends_at"), hours_rows)
    insert_rows(
        TimeOff,
        ("branch", "staff", "kind", "starts_at", "ends_at", "reason", "created_at", "updated_at"),
        time_off_rows,
    )
    _make_equipment(branches, rotas)
    return rotas


def _opening_segments(branches: list[Branch]) -> dict[int, dict[int, list[tuple[int, int]]]]:
    """Per branch, weekday → the open (from, until) minutes, in order."""
    segments: dict[int, dict[int, list[tuple[int, int]]]] = {b.pk: {} for b in branches}
    rows = OpeningHours.objects.filter(branch__in=branches).order_by("weekday", "opens_at")
    for branch_id, weekday, opens, closes in rows.values_list(
        "branch_id", "weekday", "opens_at", "closes_at"
    ):
        segments[branch_id].setdefault(weekday, []).append((_minutes(opens), _minutes(closes)))
    return segments


def _clinicians(
    rng: random.Random,
    branch: Branch,
    ids: list[int],
    plan: StaffPlan,
    segments: dict[int, list[tuple[int, int]]],
    rows: list[tuple[Any, ...]],
) -> list[Clinician]:
    """Shifts in turn (early, late, alternating) and days off in turn, so that every open
    day has someone and the evenings are covered as soon as there are two people."""
    patterns = list(PATTERNS)
    rng.shuffle(patterns)
    days = sorted(segments)
    rng.shuffle(days)
    if 6 in days:  # Sunday is only a morning: it is the first day off to give
        days.remove(6)
        days.insert(0, 6)
    clinicians = []
    for index, staff_id in enumerate(ids):
        day_off = days[index % len(days)] if len(days) > 1 else None
        weekly = week_of_shifts(segments, patterns[index % len(patterns)], day_off)
        for weekday, pieces in weekly.items():
            rows.extend(
                (branch.pk, staff_id, weekday, _clock(start), _clock(end)) for start, end in pieces
            )
        clinicians.append(
            Clinician(
                id=staff_id,
                categories=frozenset(plan.categories.get(staff_id, ProcedureCategory.values)),
                weekly={weekday: _mask(pieces) for weekday, pieces in weekly.items()},
            )
        )
    return clinicians


def week_of_shifts(
    segments: dict[int, list[tuple[int, int]]], pattern: str, day_off: int | None
) -> dict[int, list[tuple[int, int]]]:
    """Weekday → the (from, until) minutes worked: the shift's window cut to the opening
    hours, so working hours always lie within them."""
    week = {}
    for weekday, open_pieces in segments.items():
        if weekday == day_off:
            continue
        kind = "weekday" if weekday < 5 else ("saturday" if weekday == 5 else "sunday")
        shift = pattern if pattern != "alternating" else ("early", "late")[weekday % 2]
        start, end = SHIFTS[kind, shift]
        pieces = [(max(o, start), min(c, end)) for o, c in open_pieces]
        pieces = [(a, b) for a, b in pieces if b - a >= SHORTEST_SHIFT]
        if pieces:
            week[weekday] = pieces
    return week


def _leave(
    rng: random.Random,
    branch: Branch,
    zone: ZoneInfo,
    clinician: Clinician,
    years: range,
    rows: list[tuple[Any, ...]],
) -> None:
    """A week or two of leave a year, and now and then a training day."""
    for year in years:
        days = rng.choice(LEAVE_DAYS)
        first = date(year, 1, 1) + timedelta(days=rng.randint(0, 364 - days))
        rows.append(_time_off(branch, zone, clinician.id, TimeOffKind.LEAVE, first, days,
                              "Annual leave"))  # fmt: skip
        clinician.away.update(first + timedelta(days=n) for n in range(days))
        if rng.random() < 0.3:
            training = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
            if training not in clinician.away:
                rows.append(_time_off(branch, zone, clinician.id, TimeOffKind.TRAINING,
                                      training, 1, "Training course"))  # fmt: skip
                clinician.away.add(training)


def _holidays(
    branch: Branch, zone: ZoneInfo, years: range, rows: list[tuple[Any, ...]]
) -> set[date]:
    closed: set[date] = set()
    for year in years:
        for holiday in public_holidays(branch.country, year):
            days = [holiday.first_day + timedelta(days=n) for n in range(holiday.days)]
            days = [day for day in days if day not in closed]  # holidays can meet (CN in May)
            if days:
                rows.append(_time_off(branch, zone, None, TimeOffKind.HOLIDAY, days[0], len(days),
                                      holiday.name))  # fmt: skip
                closed.update(days)
    return closed


def _time_off(
    branch: Branch,
    zone: ZoneInfo,
    staff_id: int | None,
    kind: str,
    first: date,
    days: int,
    reason: str,
) -> tuple[Any, ...]:
    """Whole local days, from midnight to midnight; written two months ahead."""
    starts_at = datetime.combine(first, clock(0), tzinfo=zone)
    ends_at = datetime.combine(first + timedelta(days=days), clock(0), tzinfo=zone)
    noted_at = starts_at - timedelta(days=60)
    return (branch.pk, staff_id, kind, starts_at, ends_at, reason, noted_at, noted_at)


def _make_equipment(branches: list[Branch], rotas: dict[int, BranchRota]) -> None:
    made = Equipment.objects.bulk_create(
        Equipment(branch=branch, code=e.code, name=e.name, capacity=e.capacity)
        for branch in branches
        for e in EQUIPMENT
    )
    for equipment in made:
        rotas[equipment.branch_id].equipment[equipment.code] = (equipment.pk, equipment.capacity)


def make_durations(
    rng: random.Random, staff: dict[int, StaffPlan], procedures: list[Procedure]
) -> dict[tuple[int, int], int]:
    """A few doctors' own durations: juniors slower at long procedures, principals faster.
    Returns (doctor, procedure) → minutes."""
    durations: dict[tuple[int, int], int] = {}
    for plan in staff.values():
        for doctor in plan.doctors:
            seniority = plan.seniority.get(doctor)
            long_ones = [
                p for p in procedures
                if p.default_duration_minutes >= 40 and p.category in plan.categories[doctor]
            ]  # fmt: skip
            if seniority == Seniority.SENIOR or not long_ones or rng.random() < 0.4:
                continue
            for procedure in rng.sample(long_ones, min(len(long_ones), rng.randint(1, 2))):
                change = rng.choice((10, 15)) if seniority == Seniority.JUNIOR else -10
                durations[doctor, procedure.pk] = procedure.default_duration_minutes + change
    DoctorProcedureDuration.objects.bulk_create(
        DoctorProcedureDuration(doctor_id=doctor, procedure_id=procedure, minutes=minutes)
        for (doctor, procedure), minutes in durations.items()
    )
    return durations


# --- slots -------------------------------------------------------------------------------
def _minutes(value: clock) -> int:
    return value.hour * 60 + value.minute


def _clock(minutes: int) -> clock:
    return clock(minutes // 60, minutes % 60)


def slot_range(start_minute: int, end_minute: int) -> int:
    """The mask of the slots from one wall-clock minute to another."""
    first, last = start_minute // SLOT_MINUTES, -(-end_minute // SLOT_MINUTES)
    return ((1 << (last - first)) - 1) << first


def _mask(pieces: Iterable[tuple[int, int]]) -> int:
    mask = 0
    for start, end in pieces:
        mask |= slot_range(start, end)
    return mask
