"""When a resource can be booked: weekly wall-clock hours turned into UTC instants, minus
leave and holidays (`closed`), minus what its bookings already hold.

Wall clock becomes UTC here and nowhere else, one window end at a time, so a window on a
daylight-saving day is as long as the clocks make it: 00:00-12:00 is 11 real hours on a
spring-forward day and 13 on a fall-back day (08:00-17:00 stays 9, as the clocks change
at night). The rules for wall-clock times that do not exist once (see `instant_at`):

- skipped (spring forward, 02:30 in Madrid on the last Sunday of March): the first
  instant that exists after it, the moment the clocks jump (03:00 CEST);
- repeated (fall back, 02:30 twice on the last Sunday of October): the first of the two
  (fold=0), for a window's start and its end alike.

A window whose end is not after its start runs past midnight into the next day
(20:00-02:00; 00:00-00:00 is the whole day).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from chairtime.engine.bookings import booking_index, bookings_of, held_interval
from chairtime.engine.intervals import Intervals, at_least, clip, merge, subtract
from chairtime.engine.types import (
    Booking,
    Interval,
    Resource,
    ResourceKey,
    ResourceKind,
    Schedule,
    WeeklyWindow,
)

ONE_DAY = timedelta(days=1)
MIDNIGHT = time(0)

# Whose hours and leave need cover only the procedure. A doctor may finish a procedure at
# the end of the day: the cleaning buffer is the assistant's work, in the chair, so the
# chair's and the assistant's hours must cover it too. A patient has no hours.
WORKS_FOR_PROCEDURE_ONLY = frozenset({ResourceKind.DOCTOR, ResourceKind.PATIENT})


def works_during_buffer(kind: ResourceKind) -> bool:
    return kind not in WORKS_FOR_PROCEDURE_ONLY


def works_until(kind: ResourceKind, procedure_end: datetime, blocked_until: datetime) -> datetime:
    """Until when a booking needs a resource of this kind at work (within its hours and
    not on leave)."""
    return blocked_until if works_during_buffer(kind) else procedure_end


def resource_for(schedule: Schedule, key: ResourceKey) -> Resource | None:
    """The schedule's resource for `key`. A patient the schedule does not list is still
    bookable (patients have no hours; their other bookings still count): the appointment
    book need not list every patient of the branch to ask about one of them."""
    resource = schedule.resources.get(key)
    if resource is None and key.kind is ResourceKind.PATIENT:
        return Resource(key=key, always_available=True)
    return resource


# --- wall clock to UTC -------------------------------------------------------------------
def instant_at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant when the clocks in `zone` show `clock` on `day`: the first of two
    when the clocks go back, the moment they jump when they skip it."""
    wall = datetime.combine(day, clock, tzinfo=zone).replace(fold=0)
    skipped = wall.replace(fold=1)
    # PEP 495: in a gap fold=0 uses the offset before the jump, fold=1 the one after.
    if _offset(wall) < _offset(skipped):
        return _offset_change(skipped.astimezone(UTC), wall.astimezone(UTC), zone)
    return wall.astimezone(UTC)


def _offset(instant: datetime) -> timedelta:
    offset = instant.utcoffset()
    assert offset is not None  # always aware here
    return offset


def _offset_change(low: datetime, high: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (low, high] whose UTC offset in `zone` is high's, when the
    offset changes once in between (zoneinfo does not expose its transitions)."""
    target = _offset(high.astimezone(zone))
    below, above = 0, int((high - low).total_seconds())
    while above - below > 1:
        middle = (below + above) // 2
        if _offset((low + timedelta(seconds=middle)).astimezone(zone)) == target:
            above = middle
        else:
            below = middle
    return low + timedelta(seconds=above)


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def day_span(day: date, zone: ZoneInfo) -> Interval:
    """The local day as UTC instants: 23, 24 or 25 hours long."""
    return Interval(instant_at(day, MIDNIGHT, zone), instant_at(day + ONE_DAY, MIDNIGHT, zone))


@lru_cache(maxsize=8192)
def wall_interval(day: date, start: time, end: time, zone: ZoneInfo) -> Interval | None:
    """From `start` on `day` to `end` (the next day if not after `start`), in UTC; None
    when the clocks skip all of it. Cached: every doctor and chair of a branch tends to
    share the same few windows, and a search asks for each of them day after day."""
    end_day = day if end > start else day + ONE_DAY
    opens, closes = instant_at(day, start, zone), instant_at(end_day, end, zone)
    return Interval(opens, closes) if opens < closes else None


# --- hours, availability, free time ------------------------------------------------------
def weekly_hours(windows: tuple[WeeklyWindow, ...], zone: ZoneInfo, span: Interval) -> Intervals:
    """The weekly windows' instants within `span` (normalised)."""
    if not windows:
        return ()
    day = local_date(span.start, zone) - ONE_DAY  # yesterday's window may run past midnight
    last = local_date(span.end, zone)
    pieces: list[Interval] = []
    while day <= last:
        weekday = day.weekday()
        for window in windows:
            if window.weekday == weekday:
                piece = wall_interval(day, window.start, window.end, zone)
                if piece is not None:
                    pieces.append(piece)
        day += ONE_DAY
    return clip(merge(pieces), span)


def open_time(resource: Resource, zone: ZoneInfo, span: Interval, closed: Intervals) -> Intervals:
    """Its hours within `span` (all of it if always available) minus `closed` (merged)."""
    if resource.always_available:
        hours: Intervals = (span,)
    else:
        hours = weekly_hours(resource.weekly, zone, span)
    return subtract(hours, clip(closed, span))


def availability(resource: Resource, zone: ZoneInfo, span: Interval) -> Intervals:
    """When the resource is at work within `span`, whatever it is booked for."""
    return open_time(resource, zone, span, merge(resource.closed))


def busy_time(resource: Resource, bookings: list[Booking]) -> Intervals:
    """When the resource is full: held by `capacity` of these bookings (its own) at once."""
    kind = resource.key.kind
    held = [interval for b in bookings if (interval := held_interval(b, kind)) is not None]
    return at_least(held, resource.capacity)


def free_intervals(
    schedule: Schedule, key: ResourceKey, window: Interval, *, ignore_booking: int | None = None
) -> Intervals:
    """When the resource is at work and not full, within `window`: its availability minus
    the time its bookings hold (`ignore_booking`: the appointment being moved). A resource
    the schedule does not know is never free."""
    resource = resource_for(schedule, key)
    if resource is None:
        return ()
    nearby = booking_index(schedule).meeting(window)
    own = bookings_of(nearby, [key], ignore_booking)[key]
    zone = ZoneInfo(schedule.time_zone)
    return subtract(availability(resource, zone, window), busy_time(resource, own))


def clock_pieces(day: date, zone: ZoneInfo) -> list[tuple[Interval, datetime]]:
    """The local day cut where the clocks change, each piece with the instant at which
    its clock would have shown midnight. A grid "every 15 minutes from midnight" is wall
    clock: 08:00, 08:15 ... on every day, the daylight-saving ones included."""
    span = day_span(day, zone)
    first = _offset(span.start.astimezone(zone))
    last = _offset((span.end - timedelta(microseconds=1)).astimezone(zone))
    midnight = datetime.combine(day, MIDNIGHT, tzinfo=UTC)
    if first == last:
        return [(span, midnight - first)]
    change = _offset_change(span.start, span.end - timedelta(microseconds=1), zone)
    return [
        (Interval(span.start, change), midnight - first),
        (Interval(change, span.end), midnight - last),
    ]
