"""The arithmetic of care tasks, pure: no database, no clock (`now` and `today` come in).

Defaults of the rules, when a task falls due, what one call does to a task (attempts,
cool-off, closing), which recall date is the one that matters, when an absence calls for
reactivation, and when a recall has lapsed. Everything here is tested without a database.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chairtime.care.choices import AssignTo, OffsetUnit, Outcome, TaskKind, TaskStatus

K = TaskKind


@dataclass(frozen=True)
class RuleValues:
    """A rule's settings (the defaults, or an organisation's row)."""

    is_enabled: bool
    offset: int
    categories: tuple[str, ...]
    assign_to: str
    assign_role: str
    max_attempts: int
    cool_off_days: int
    hand_over_after_days: int = 60


def _rule(offset: int, assign_to: str = AssignTo.ROLE, role: str = "receptionist", *,
          categories: tuple[str, ...] = (), attempts: int = 3, cool_off: int = 2,
          enabled: bool = True) -> RuleValues:  # fmt: skip
    return RuleValues(enabled, offset, categories, assign_to, role, attempts, cool_off)


# The defaults every organisation starts with. Painful or surgical work gets a call the
# next day from the doctor who did it; big work a check-up call a week later from the front
# desk; confirmations only for the long, costly visits (orthodontic, implant, prosthetic).
DEFAULT_RULES: dict[str, RuleValues] = {
    K.POST_TREATMENT_DAY1: _rule(
        1, AssignTo.DOCTOR, cool_off=1,
        categories=("surgery", "implant", "endodontic", "periodontic"),
    ),
    K.POST_TREATMENT_DAY7: _rule(
        7, categories=("implant", "prosthetic", "orthodontic", "surgery", "cosmetic")
    ),
    K.TREATMENT_CONTINUATION: _rule(7, AssignTo.CONSULTANT, "consultant", cool_off=3),
    K.RECALL_DUE: _rule(14, cool_off=3),
    K.REACTIVATION_6M: _rule(6, cool_off=7),
    K.REACTIVATION_12M: _rule(12, cool_off=7),
    K.CONFIRMATION_CALL: _rule(
        4, attempts=2, cool_off=0, categories=("orthodontic", "implant", "prosthetic")
    ),
    K.COMPLAINT_FOLLOW_UP: _rule(1, role="branch_manager", cool_off=1),
    K.BIRTHDAY: _rule(0, attempts=1, cool_off=0),
    # A patient who missed a visit is called the same day, two hours after the no-show.
    K.NO_SHOW_FOLLOW_UP: _rule(2, cool_off=1),
}  # fmt: skip
assert set(DEFAULT_RULES) == set(TaskKind.values)

# What a rule's offset counts, per kind.
OFFSET_UNITS: dict[str, str] = {
    K.POST_TREATMENT_DAY1: OffsetUnit.DAYS,  # after the treatment
    K.POST_TREATMENT_DAY7: OffsetUnit.DAYS,  # after the treatment
    K.TREATMENT_CONTINUATION: OffsetUnit.DAYS,  # after the acceptance, nothing booked
    K.RECALL_DUE: OffsetUnit.DAYS,  # before the recall date
    K.REACTIVATION_6M: OffsetUnit.MONTHS,  # since the last visit
    K.REACTIVATION_12M: OffsetUnit.MONTHS,  # since the last visit
    K.CONFIRMATION_CALL: OffsetUnit.HOURS,  # before the appointment
    K.COMPLAINT_FOLLOW_UP: OffsetUnit.DAYS,  # after the complaint was received
    K.BIRTHDAY: OffsetUnit.DAYS,  # before the birthday
    K.NO_SHOW_FOLLOW_UP: OffsetUnit.HOURS,  # after the appointment was marked a no-show
}
assert set(OFFSET_UNITS) == set(TaskKind.values)

# Kinds whose rule names procedure categories (the others apply to every patient).
KINDS_WITH_CATEGORIES = frozenset(
    {K.POST_TREATMENT_DAY1, K.POST_TREATMENT_DAY7, K.CONFIRMATION_CALL}
)

# The smallest and largest value of each setting; the offset's range depends on its unit.
OFFSET_LIMITS: dict[str, tuple[int, int]] = {
    OffsetUnit.HOURS: (1, 72),
    OffsetUnit.DAYS: (0, 365),
    OffsetUnit.MONTHS: (1, 60),
}
LIMITS: dict[str, tuple[int, int]] = {
    "max_attempts": (1, 10),
    "cool_off_days": (0, 60),
    "hand_over_after_days": (1, 365),
}
NOTE_MAX = 500


# --- times -----------------------------------------------------------------------------------
def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The start of `day` in the zone, as an aware instant. Tasks about a day (day 1 after a
    treatment, a recall, a birthday) fall due then: "due now" all that day, overdue after."""
    return datetime.combine(day, time(), tzinfo=zone)


def local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier when negative), or the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def birthday_in(year: int, birth_date: date) -> date:
    """The birthday in that year; 29 February falls on the 28th in other years."""
    if birth_date.month == 2 and birth_date.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birth_date.replace(year=year)


# --- one call ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AfterCall:
    """A task after one call: its counters, status and when to call next."""

    attempts: int
    status: str
    outcome: str
    next_attempt_at: datetime
    is_closed: bool


def next_call_at(now: datetime, cool_off_days: int, zone: ZoneInfo) -> datetime:
    """After an unanswered call: the start of the branch's day `cool_off_days` later (so the
    task is back on that day's list), or right away when there is no cool-off."""
    if cool_off_days <= 0:
        return now
    return local_midnight(now.astimezone(zone).date() + timedelta(days=cool_off_days), zone)


def after_call(
    *, outcome: str, attempts: int, max_attempts: int, cool_off_days: int, now: datetime,
    zone: ZoneInfo, next_attempt_at: datetime,
) -> AfterCall:  # fmt: skip
    """What a call with `outcome` does to an open task that had `attempts` calls so far.

    Reached, booked, declined, wrong number, asked not to be contacted: done. No answer:
    try again after the cool-off, unless that was the last attempt allowed (done, no answer).
    """
    made = attempts + 1
    if outcome == Outcome.NO_ANSWER and made < max_attempts:
        later = next_call_at(now, cool_off_days, zone)
        return AfterCall(made, TaskStatus.OPEN, outcome, later, is_closed=False)
    return AfterCall(made, TaskStatus.DONE, outcome, next_attempt_at, is_closed=True)


# --- recall and absence ----------------------------------------------------------------------
def relevant_recall_due(done: Iterable[tuple[int, date]]) -> date | None:
    """The patient's one recall date: the earliest that still matters.

    `done` holds, per recall interval (months), the day the patient last had a procedure
    with that interval. Each gives a due date (that day + the interval). A due date that
    fell on or before the patient's latest recall visit was answered by that visit and no
    longer matters: a monthly orthodontic check from two years ago does not keep a patient
    who comes for a cleaning every six months "overdue". The latest visit's own due dates
    are always later than it, so a patient with any recall procedure has a date.
    """
    rows = [(months, day) for months, day in done if months > 0]
    if not rows:
        return None
    latest = max(day for _months, day in rows)
    due = [add_months(day, months) for months, day in rows]
    return min(day for day in due if day > latest)


def reactivation_kind(last_visit_on: date, today: date, six: int = 6, twelve: int = 12) -> str:
    """Which reactivation an absence calls for: 12 months, 6 months, or none ("")."""
    if last_visit_on <= add_months(today, -twelve):
        return str(K.REACTIVATION_12M)
    if last_visit_on <= add_months(today, -six):
        return str(K.REACTIVATION_6M)
    return ""


def is_recall_lapsed(
    *, due_on: date, today: date, hand_over_after_days: int, attempts: int, max_attempts: int
) -> bool:
    """A recall is handed to reactivation once it is more than `hand_over_after_days` past
    due and every attempt allowed was made."""
    return due_on < today - timedelta(days=hand_over_after_days) and attempts >= max_attempts
