"""Which bookings meet a window, found by bisection instead of a scan of the whole book.

Grouping every booking by resource up front costs more than a whole slot search (a
booking holds three or four resources, and hashing a `ResourceKey` is a Python call), so
the index only sorts the book by start. A search then asks for one day's bookings at a
time and groups just those.

Which part of a booking holds which resource is decided here too (`held_until`), so the
slot search and the proposal check cannot disagree about it.
"""

from __future__ import annotations

import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import islice
from operator import le, sub

from chairtime.engine.types import Booking, Interval, ResourceKey, ResourceKind, Schedule

# Held for the procedure only: the patient leaves while the chair is cleaned (the same
# rule as the database's no-overlap constraint). Everyone and everything else is held
# until the end of the cleaning buffer.
HELD_FOR_PROCEDURE_ONLY = frozenset({ResourceKind.PATIENT})


def is_held_during_buffer(kind: ResourceKind) -> bool:
    return kind not in HELD_FOR_PROCEDURE_ONLY


def held_until(kind: ResourceKind, procedure_end: datetime, blocked_until: datetime) -> datetime:
    """Until when a booking holds a resource of this kind."""
    return blocked_until if is_held_during_buffer(kind) else procedure_end


def procedure_of(booking: Booking) -> Interval | None:
    """The booking's procedure (None if it has none: a block of buffer only)."""
    end = min(booking.procedure_end, booking.interval.end)
    return Interval(booking.interval.start, end) if booking.interval.start < end else None


def held_interval(booking: Booking, kind: ResourceKind) -> Interval | None:
    """The time `booking` holds a resource of this kind."""
    if is_held_during_buffer(kind):
        return booking.interval
    return procedure_of(booking)


class BookingIndex:
    """A schedule's bookings sorted by start, and the longest one's length: the bookings
    meeting a window are those starting less than that length before it, one bisection
    away. Built with a few passes that stay in C where they can: on a six-month book
    (13,000 bookings) building it costs more than the slot search that uses it."""

    def __init__(self, bookings: Iterable[Booking]) -> None:
        ordered = list(bookings)
        # Read in the caller's order: the objects lie in memory in the order they were made.
        starts = [b.interval.start for b in ordered]
        ends = [b.interval.end for b in ordered]
        self._longest = max(map(sub, ends, starts), default=timedelta(0))
        if not all(map(le, starts, islice(starts, 1, None))):
            order = sorted(range(len(starts)), key=starts.__getitem__)
            ordered = [ordered[i] for i in order]
            starts = [starts[i] for i in order]
        self._bookings = ordered
        self._starts = starts

    def meeting(self, window: Interval) -> list[Booking]:
        """Bookings whose blocked time overlaps `window`, in start order."""
        low = bisect_right(self._starts, window.start - self._longest)
        high = bisect_left(self._starts, window.end)
        return [b for b in self._bookings[low:high] if b.interval.end > window.start]


_INDEXES: dict[int, BookingIndex] = {}


def booking_index(schedule: Schedule) -> BookingIndex:
    """The schedule's index, built on first use and dropped when the schedule is: a page
    that asks one schedule many questions (a check per proposal, the free time of every
    chair) sorts the book once. Keyed by identity because a Schedule holds a dict and so
    cannot be hashed; a schedule's bookings are a tuple of frozen values, so the index
    cannot go stale."""
    key = id(schedule)
    index = _INDEXES.get(key)
    if index is None:
        index = BookingIndex(schedule.bookings)
        _INDEXES[key] = index
        weakref.finalize(schedule, _INDEXES.pop, key, None)
    return index


def bookings_of(
    bookings: Iterable[Booking], keys: Iterable[ResourceKey], ignore_booking: int | None = None
) -> dict[ResourceKey, list[Booking]]:
    """Group bookings by the wanted resources they hold (a day's worth, not the book).
    The set intersection reuses the hashes a frozenset keeps, so only the keys that
    match are hashed again (a `ResourceKey`'s hash is Python code)."""
    wanted: dict[ResourceKey, list[Booking]] = {key: [] for key in keys}
    lookup = frozenset(wanted)
    for booking in bookings:
        if booking.id != ignore_booking:
            for key in booking.resources & lookup:
                wanted[key].append(booking)
    return wanted
