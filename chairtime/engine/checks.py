"""Whether a booking someone wants to make (or move) is allowed, and every reason it is not.

The rules are the slot finder's (`openings.py`), checked one proposal at a time, so an
opening the finder offers always passes: each resource must be at work for as long as
the booking needs it (the doctor and the patient for the procedure, everything else until
the end of the cleaning buffer) and not held by another booking meanwhile (the patient
only during procedures, everything else including buffers).

The order of the problems is fixed, so a page or a test can rely on it: IN_PAST,
BEYOND_HORIZON, UNKNOWN_RESOURCE (in key order), then resource by resource in key order:
OUTSIDE_HOURS, CLOSED, OVERLAP and BUFFER (each naming a booking, in booking start
order), CAPACITY.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from chairtime.engine.availability import resource_for, weekly_hours, works_until
from chairtime.engine.bookings import (
    booking_index,
    bookings_of,
    held_interval,
    held_until,
    procedure_of,
)
from chairtime.engine.intervals import at_least, covers, meets, merge
from chairtime.engine.types import (
    Booking,
    Interval,
    Problem,
    ProblemCode,
    Proposal,
    Resource,
    Schedule,
)


def check_proposal(
    schedule: Schedule, proposal: Proposal, *, now: datetime, horizon_end: datetime
) -> list[Problem]:
    """Every reason the proposal cannot be booked, in a fixed order; [] when it can."""
    if proposal.blocked_until < proposal.interval.end:
        raise ValueError("blocked_until: must not be before the procedure ends")
    problems = _timing_problems(proposal, now, horizon_end)
    known: list[Resource] = []
    for key in sorted(proposal.resources):
        resource = resource_for(schedule, key)
        if resource is None:
            problems.append(Problem(ProblemCode.UNKNOWN_RESOURCE, key))
        else:
            known.append(resource)
    blocked = Interval(proposal.interval.start, proposal.blocked_until)
    nearby = booking_index(schedule).meeting(blocked)
    held = bookings_of(nearby, [r.key for r in known], proposal.ignore_booking)
    zone = ZoneInfo(schedule.time_zone)
    for resource in known:
        problems.extend(_hours_problems(resource, proposal, zone))
        problems.extend(_booking_problems(resource, proposal, held[resource.key]))
    return problems


def _timing_problems(proposal: Proposal, now: datetime, horizon_end: datetime) -> list[Problem]:
    problems = []
    if proposal.interval.start < now:
        problems.append(Problem(ProblemCode.IN_PAST))
    if proposal.interval.start > horizon_end:
        problems.append(Problem(ProblemCode.BEYOND_HORIZON))
    return problems


def _hours_problems(resource: Resource, proposal: Proposal, zone: ZoneInfo) -> list[Problem]:
    """At work for as long as the booking needs it: within its hours, not on leave."""
    key = resource.key
    end = works_until(key.kind, proposal.interval.end, proposal.blocked_until)
    needed = Interval(proposal.interval.start, end)
    problems = []
    if not resource.always_available and not covers(
        weekly_hours(resource.weekly, zone, needed), needed
    ):
        problems.append(Problem(ProblemCode.OUTSIDE_HOURS, key))
    if meets(merge(resource.closed), needed):
        problems.append(Problem(ProblemCode.CLOSED, key))
    return problems


def _booking_problems(
    resource: Resource, proposal: Proposal, bookings: list[Booking]
) -> list[Problem]:
    """Other bookings holding the resource while the proposal would: with capacity for
    one, each named (OVERLAP when procedures meet, else BUFFER); with more, CAPACITY
    when that many already hold it at some instant."""
    key = resource.key
    ours = Interval(
        proposal.interval.start,
        held_until(key.kind, proposal.interval.end, proposal.blocked_until),
    )
    meeting = [
        (booking, theirs)
        for booking in sorted(bookings, key=_booking_order)
        if (theirs := held_interval(booking, key.kind)) is not None and theirs.overlaps(ours)
    ]
    if resource.capacity > 1:
        full = at_least([theirs for _, theirs in meeting], resource.capacity)
        return [Problem(ProblemCode.CAPACITY, key)] if meets(full, ours) else []
    overlaps = [b for b, _ in meeting if _procedures_meet(b, proposal)]
    buffers = [b for b, _ in meeting if not _procedures_meet(b, proposal)]
    return [Problem(ProblemCode.OVERLAP, key, b.id) for b in overlaps] + [
        Problem(ProblemCode.BUFFER, key, b.id) for b in buffers
    ]


def _booking_order(booking: Booking) -> tuple[datetime, int]:
    return booking.interval.start, booking.id


def _procedures_meet(booking: Booking, proposal: Proposal) -> bool:
    procedure = procedure_of(booking)
    return procedure is not None and procedure.overlaps(proposal.interval)
