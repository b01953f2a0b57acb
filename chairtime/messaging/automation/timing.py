"""When an automation rule's message is due: pure functions, `now` passed in.

Offsets in days keep the wall-clock time ("1 day before a 09:30 appointment" is 09:30 the
day before, also across a daylight-saving change); offsets in hours are exact.

**Reminders that overlap: the one closest to the appointment wins.** Each reminder rule
has a moment (the appointment's start less its offset). A reminder is *late* when its
moment had already passed when the appointment was booked, or passed more than `GRACE`
ago (generation was not running). Late reminders overlap the ones still ahead:

- while any reminder of the appointment is still ahead, every late one is dropped and
  those ahead go at their moments (a booking made 20 hours before gets only the 3-hour
  reminder, not a late 2-day one);
- when all are late, only the one closest to the appointment goes, at once, and only if
  at least `MIN_LEAD` remains before the appointment (nothing goes 20 minutes before);
- two rules with the same moment are one reminder (the rule made first).

Confirmation requests follow the same logic among themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chairtime.messaging.choices import OffsetUnit
from chairtime.messaging.policy import wall_instant

GRACE = timedelta(hours=1)
MIN_LEAD = timedelta(hours=1)


@dataclass(frozen=True)
class Offset:
    value: int
    unit: str  # OffsetUnit

    def before(self, moment: datetime, zone: ZoneInfo) -> datetime:
        if self.unit == OffsetUnit.HOURS:
            return moment - timedelta(hours=self.value)
        local = moment.astimezone(zone)
        return wall_instant(local.date() - timedelta(days=self.value), local.time(), zone)

    def after(self, moment: datetime, zone: ZoneInfo) -> datetime:
        if self.unit == OffsetUnit.HOURS:
            return moment + timedelta(hours=self.value)
        local = moment.astimezone(zone)
        return wall_instant(local.date() + timedelta(days=self.value), local.time(), zone)

    @property
    def longest(self) -> timedelta:
        """At most how long it spans (a day is 25 hours on a daylight-saving day)."""
        if self.unit == OffsetUnit.HOURS:
            return timedelta(hours=self.value)
        return timedelta(days=self.value, hours=1)


@dataclass(frozen=True)
class Timed:
    rule_id: int
    offset: Offset


def due_before_appointment(
    rules: Sequence[Timed],
    *,
    starts_at: datetime,
    booked_at: datetime,
    zone: ZoneInfo,
    now: datetime,
) -> list[tuple[int, datetime]]:
    """(rule id, when it is due) of the reminders an appointment gets, by the rule above.
    A late reminder that still goes is due `now`."""
    if not rules:
        return []
    moments: dict[datetime, int] = {}
    for rule in sorted(rules, key=lambda r: r.rule_id):
        moments.setdefault(rule.offset.before(starts_at, zone), rule.rule_id)
    cutoff = max(booked_at, now - GRACE)
    ahead = [(rule_id, moment) for moment, rule_id in moments.items() if moment >= cutoff]
    if ahead:
        return sorted(ahead, key=lambda pair: pair[1])
    if starts_at - now < MIN_LEAD:
        return []
    closest = max(moments)
    return [(moments[closest], now)]


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant of a local wall-clock time on a day (a greeting "on the day at 09:00")."""
    return wall_instant(day, at, zone)


def birthday_on(birth_date: date, year: int) -> date:
    """The day a birthday is kept in a year: 29 February becomes 28 February."""
    try:
        return birth_date.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def is_within(moment: datetime, *, now: datetime, horizon: timedelta) -> bool:
    """Due in the generation window: not after now + horizon."""
    return moment <= now + horizon
