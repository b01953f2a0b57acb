"""The slot finder: the next places a procedure fits, earliest first.

An opening needs, for its whole blocked time [start, start + duration + buffer), every
resource it takes not held by another booking: the doctor, a chair, one of the
assistants (if any), a unit of each piece of equipment; the patient only for the
procedure (`bookings.py`). It needs them at work (`availability.py`): the chair, the
assistant and the equipment for the whole blocked time (the chair is cleaned in the
buffer), the doctor for the procedure only (cleaning is not the doctor's work, so a
procedure may end as the doctor's day ends). `check_proposal` applies the same rules, so
every opening found passes the check.

Ranking: the earliest start first; at the same start the doctor earlier in
`request.doctors` (the patient's preferred doctor first), then the lower chair id.

How it stays fast on a full six-month book: it walks the branch's local days in order
and stops after the first day that completes `limit` openings. For each day it reads only
that day's bookings from the index, works out each resource's free time once, turns it
into start ranges (the instants at which the booking fits), intersects those, and only
then reads grid points. No candidate start is ever checked against the bookings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from chairtime.engine.availability import (
    ONE_DAY,
    busy_time,
    clock_pieces,
    day_span,
    local_date,
    open_time,
    resource_for,
    wall_interval,
    works_during_buffer,
)
from chairtime.engine.bookings import booking_index, bookings_of, is_held_during_buffer
from chairtime.engine.intervals import (
    Intervals,
    StartRange,
    in_ranges,
    intersect_ranges,
    merge,
    start_ranges,
    subtract,
    union_ranges,
)
from chairtime.engine.types import (
    Booking,
    Interval,
    Opening,
    Resource,
    ResourceKey,
    ResourceKind,
    Schedule,
    SlotRequest,
)

INSTANT = timedelta(microseconds=1)  # the finest step: "before the day ends"


def find_openings(
    schedule: Schedule, request: SlotRequest, *, now: datetime, ignore_booking: int | None = None
) -> list[Opening]:
    """At most `request.limit` openings, ranked, each a distinct (doctor, chair, start).

    Starts lie on the `step` grid counted from local midnight, not before `now` or
    `request.earliest`, not after `request.latest`; with `preferences`, the whole
    procedure lies within one of them. `ignore_booking`: the appointment being moved,
    whose own time counts as free.
    """
    _check_request(request, now)
    search = _Search(schedule, request, now, ignore_booking)
    openings: list[Opening] = []
    for day in search.days():
        openings.extend(search.openings_on(day, request.limit - len(openings)))
        if len(openings) >= request.limit:
            break
    return openings


def _check_request(request: SlotRequest, now: datetime) -> None:
    """Refuse a request that has no sensible answer, naming the field."""
    for name, value in (("now", now), ("earliest", request.earliest), ("latest", request.latest)):
        if value.tzinfo is None:
            raise ValueError(f"{name}: give an aware datetime")
    lengths = [("duration", request.duration), ("step", request.step)]
    lengths += [(f"durations[{doctor}]", d) for doctor, d in request.durations.items()]
    for name, length in lengths:
        if length <= timedelta(0):
            raise ValueError(f"{name}: must be longer than zero")
    if request.buffer < timedelta(0):
        raise ValueError("buffer: must not be negative")


@dataclass(frozen=True)
class _Doctor:
    """A candidate doctor with their own duration and blocked length for this procedure."""

    key: ResourceKey
    rank: int  # place in the patient's order of preference
    duration: timedelta
    blocked: timedelta  # duration plus the cleaning buffer


class _Search:
    """What one request needs, worked out once: its resources, their closed time, the
    bounds; then one `_Day` at a time."""

    def __init__(
        self, schedule: Schedule, request: SlotRequest, now: datetime, ignore: int | None
    ) -> None:
        self.request = request
        self.zone = ZoneInfo(schedule.time_zone)
        self.earliest = max(now, request.earliest)
        self.index = booking_index(schedule)
        self.ignore = ignore
        self.resources: dict[ResourceKey, Resource] = {}
        self.doctors = self._doctors(schedule)
        self.chairs = self._known(schedule, ResourceKind.CHAIR, sorted(set(request.chairs)))
        self.assistants = self._known(schedule, ResourceKind.ASSISTANT, request.assistants)
        self.equipment = self._known(schedule, ResourceKind.EQUIPMENT, request.equipment)
        patient = () if request.patient is None else (request.patient,)
        self.patients = self._known(schedule, ResourceKind.PATIENT, patient)  # none or one
        self.closed = {key: merge(r.closed) for key, r in self.resources.items()}
        self.is_possible = bool(
            self.doctors
            and self.chairs
            and (self.assistants or not request.assistants)
            and len(self.equipment) == len(set(request.equipment))
            and request.limit > 0
        )
        self.longest = max((d.blocked for d in self.doctors), default=timedelta(0))

    def _known(
        self, schedule: Schedule, kind: ResourceKind, ids: Iterable[int]
    ) -> list[ResourceKey]:
        """The keys, in order and without repeats, of the resources the schedule knows."""
        keys = []
        for key in (ResourceKey(kind, i) for i in dict.fromkeys(ids)):
            resource = resource_for(schedule, key)
            if resource is not None:
                self.resources[key] = resource
                keys.append(key)
        return keys

    def _doctors(self, schedule: Schedule) -> list[_Doctor]:
        request = self.request
        doctors = []
        keys = self._known(schedule, ResourceKind.DOCTOR, request.doctors)
        for rank, key in enumerate(keys):
            duration = request.durations.get(key.id, request.duration)
            doctors.append(_Doctor(key, rank, duration, duration + request.buffer))
        return doctors

    def days(self) -> Iterator[date]:
        if not self.is_possible or self.earliest > self.request.latest:
            return
        day = local_date(self.earliest, self.zone)
        last = local_date(self.request.latest, self.zone)
        while day <= last:
            yield day
            day += ONE_DAY

    def openings_on(self, day: date, wanted: int) -> list[Opening]:
        """The day's best `wanted` openings."""
        found = _Day.prepare(self, day)
        return [] if found is None else found.openings(wanted)

    def procedure_windows(self, day: date, span: Interval) -> list[Interval]:
        """Where the procedure may lie on `day`: within one preferred time, or anywhere
        (it may run past midnight)."""
        if not self.request.preferences:
            return [Interval(span.start, span.end + self.longest)]
        windows = []
        for preference in self.request.preferences:
            if day.weekday() in preference.weekdays:
                window = wall_interval(day, preference.start, preference.end, self.zone)
                if window is not None:
                    windows.append(window)
        return windows


class _Day:
    """One local day of a search: free time per resource, start ranges, grid points.

    Every start considered lies in [first, last]; every resource's time is worked out
    only within `reach`, which holds the blocked time of every such start.
    """

    def __init__(
        self,
        search: _Search,
        day: date,
        bounds: StartRange,
        windows: list[Interval],
        reach: Interval,
    ) -> None:
        self.search = search
        self.day = day
        self.bounds = bounds
        self.windows = windows
        self.reach = reach
        self._booked: dict[ResourceKey, list[Booking]] | None = None
        self._busy: dict[ResourceKey, Intervals] = {}
        self._starts: dict[tuple[ResourceKey, timedelta, timedelta], list[StartRange]] = {}
        self._allowed: dict[timedelta, list[StartRange]] = {}

    @classmethod
    def prepare(cls, search: _Search, day: date) -> _Day | None:
        """The day, or None when no start can lie in it."""
        span = day_span(day, search.zone)
        first = max(search.earliest, span.start)
        last = min(search.request.latest, span.end - INSTANT)
        windows = search.procedure_windows(day, span)
        if first > last or not windows:
            return None
        reach_start = max(first, min(w.start for w in windows))
        reach_last = min(last, max(w.end for w in windows))
        if reach_start > reach_last:
            return None
        reach = Interval(reach_start, reach_last + search.longest)
        return cls(search, day, (first, last), windows, reach)

    # --- per resource ---------------------------------------------------------------
    def booked(self, key: ResourceKey) -> list[Booking]:
        """The resource's bookings that meet the day's reach; read on first need, so a
        day on which the doctor does not work never reads the book."""
        if self._booked is None:
            search = self.search
            nearby = search.index.meeting(self.reach)
            self._booked = bookings_of(nearby, search.resources.keys(), search.ignore)
        return self._booked[key]

    def busy(self, key: ResourceKey) -> Intervals:
        if key not in self._busy:
            self._busy[key] = busy_time(self.search.resources[key], self.booked(key))
        return self._busy[key]

    def starts(self, key: ResourceKey, duration: timedelta, blocked: timedelta) -> list[StartRange]:
        """When a booking of these lengths can start as far as this resource goes: at
        work for as long as it is needed, not full for as long as it is held."""
        cache_key = (key, duration, blocked)
        if cache_key not in self._starts:
            self._starts[cache_key] = self._resource_starts(key, duration, blocked)
        return self._starts[cache_key]

    def _resource_starts(
        self, key: ResourceKey, duration: timedelta, blocked: timedelta
    ) -> list[StartRange]:
        search = self.search
        needed = blocked if works_during_buffer(key.kind) else duration
        held = blocked if is_held_during_buffer(key.kind) else duration
        at_work = open_time(search.resources[key], search.zone, self.reach, search.closed[key])
        if not at_work:
            return []
        if needed == held:
            return start_ranges(subtract(at_work, self.busy(key)), held)
        not_held = subtract((self.reach,), self.busy(key))
        return intersect_ranges(start_ranges(at_work, needed), start_ranges(not_held, held))

    # --- combining ------------------------------------------------------------------
    def allowed(self, duration: timedelta) -> list[StartRange]:
        """Starts within the day's bounds that keep the procedure inside one window."""
        if duration not in self._allowed:
            fitting = union_ranges(
                (w.start, w.end - duration) for w in self.windows if w.end - w.start >= duration
            )
            self._allowed[duration] = intersect_ranges(fitting, [self.bounds])
        return self._allowed[duration]

    def doctor_starts(self, doctor: _Doctor) -> list[StartRange]:
        """Starts at which the doctor, the patient, the equipment and an assistant fit:
        everything but the chair."""
        search = self.search
        duration, blocked = doctor.duration, doctor.blocked
        ranges = self.allowed(duration)
        for key in (doctor.key, *search.patients, *search.equipment):
            if not ranges:
                return ranges
            ranges = intersect_ranges(ranges, self.starts(key, duration, blocked))
        if search.assistants and ranges:
            anyone = union_ranges(
                r for key in search.assistants for r in self.starts(key, duration, blocked)
            )
            ranges = intersect_ranges(ranges, anyone)
        return ranges

    def openings(self, wanted: int) -> list[Opening]:
        """The best `wanted` of the day: each doctor-chair pair gives its first `wanted`."""
        pieces = clock_pieces(self.day, self.search.zone)
        ranked: list[tuple[datetime, int, int]] = []
        for doctor in self.search.doctors:
            ranges = self.doctor_starts(doctor)
            if not ranges:
                continue
            for chair in self.search.chairs:
                chair_ranges = self.starts(chair, doctor.duration, doctor.blocked)
                both = intersect_ranges(ranges, chair_ranges)
                for start in grid_points(both, pieces, self.search.request.step, wanted):
                    ranked.append((start, doctor.rank, chair.id))
        ranked.sort()
        return [self.opening(start, rank, chair) for start, rank, chair in ranked[:wanted]]

    def opening(self, start: datetime, rank: int, chair: int) -> Opening:
        doctor = self.search.doctors[rank]
        return Opening(
            interval=Interval(start, start + doctor.duration),
            blocked_until=start + doctor.blocked,
            doctor=doctor.key.id,
            chair=chair,
            assistant=self.assistant_at(start, doctor),
            equipment=tuple(key.id for key in self.search.equipment),
        )

    def assistant_at(self, start: datetime, doctor: _Doctor) -> int | None:
        """The first assistant, in the request's order, free for this start."""
        for key in self.search.assistants:
            if in_ranges(self.starts(key, doctor.duration, doctor.blocked), start):
                return key.id
        return None


def grid_points(
    ranges: list[StartRange],
    pieces: list[tuple[Interval, datetime]],
    step: timedelta,
    limit: int,
) -> list[datetime]:
    """The first `limit` grid instants inside the ranges. `pieces` are the day cut where
    its clocks change, each with the instant its clock shows midnight, from which the
    grid is counted."""
    points: list[datetime] = []
    for low, high in ranges:
        for piece, midnight in pieces:
            first = max(low, piece.start)
            last = min(high, piece.end - INSTANT)
            point = midnight - ((midnight - first) // step) * step  # first grid point >= first
            while point <= last:
                points.append(point)
                if len(points) >= limit:
                    return points
                point += step
    return points
