"""The engine's vocabulary: frozen values in, frozen values out. No Django here.

All instants are aware datetimes (the engine works in UTC internally); weekly hours are
wall-clock times in the branch's time zone, turned into instants at the edge
(`availability.py`), which is where daylight-saving days are handled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum


class ResourceKind(StrEnum):
    DOCTOR = "doctor"
    ASSISTANT = "assistant"
    CHAIR = "chair"
    EQUIPMENT = "equipment"
    PATIENT = "patient"


@dataclass(frozen=True, order=True)
class Interval:
    """[start, end): start included, end excluded. Both aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval needs aware datetimes")
        if not self.start < self.end:
            raise ValueError("Interval must end after it starts")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


@dataclass(frozen=True, order=True)
class ResourceKey:
    kind: ResourceKind
    id: int


def doctor_key(user_id: int) -> ResourceKey:
    return ResourceKey(ResourceKind.DOCTOR, user_id)


def assistant_key(user_id: int) -> ResourceKey:
    return ResourceKey(ResourceKind.ASSISTANT, user_id)


def chair_key(chair_id: int) -> ResourceKey:
    return ResourceKey(ResourceKind.CHAIR, chair_id)


def equipment_key(equipment_id: int) -> ResourceKey:
    return ResourceKey(ResourceKind.EQUIPMENT, equipment_id)


def patient_key(patient_id: int) -> ResourceKey:
    return ResourceKey(ResourceKind.PATIENT, patient_id)


@dataclass(frozen=True)
class WeeklyWindow:
    """Open from `start` to `end` (wall clock, branch time zone) on `weekday` (0 = Monday)."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class Resource:
    """Something a booking occupies: a doctor, assistant, chair, piece of equipment, patient.

    `weekly` are its working or opening hours; `closed` are instants it is away (leave,
    holidays) whatever the weekly hours say. A patient has no hours: `always_available`.
    `capacity` > 1 only for equipment (two implant motors: two bookings at once).
    """

    key: ResourceKey
    weekly: tuple[WeeklyWindow, ...] = ()
    closed: tuple[Interval, ...] = ()
    capacity: int = 1
    always_available: bool = False
    label: str = ""


@dataclass(frozen=True)
class Booking:
    """An existing appointment as the engine sees it: the time it blocks (procedure plus
    cleaning buffer) and every resource it holds."""

    id: int
    interval: Interval  # start of the procedure to the end of its cleaning buffer
    procedure_end: datetime  # where the buffer begins
    resources: frozenset[ResourceKey]
    label: str = ""


@dataclass(frozen=True)
class Schedule:
    """Everything the engine needs about one branch: its zone, resources and bookings."""

    time_zone: str  # IANA name, e.g. "Asia/Ho_Chi_Minh"
    resources: Mapping[ResourceKey, Resource]
    bookings: tuple[Booking, ...]


@dataclass(frozen=True)
class TimePreference:
    """When the patient can come: these weekdays, between these wall-clock times."""

    weekdays: frozenset[int]
    start: time
    end: time


@dataclass(frozen=True)
class SlotRequest:
    """ "Next openings for this procedure": who may do it, where, when.

    `doctors` are the candidates in order of preference (the patient's preferred doctor
    first); `durations` gives a doctor's own duration where it differs from `duration`.
    An opening needs one doctor, one chair, one assistant if `assistants` is not empty,
    one unit of each `equipment`, and the patient free.
    """

    duration: timedelta
    buffer: timedelta
    doctors: tuple[int, ...]
    chairs: tuple[int, ...]
    earliest: datetime
    latest: datetime  # the booking horizon: nothing may start after it
    assistants: tuple[int, ...] = ()
    equipment: tuple[int, ...] = ()
    patient: int | None = None
    durations: Mapping[int, timedelta] = field(default_factory=dict)
    preferences: tuple[TimePreference, ...] = ()  # any one of them; empty = any time
    step: timedelta = timedelta(minutes=15)
    limit: int = 10


@dataclass(frozen=True)
class Opening:
    """A place a booking fits: the procedure's interval, where its buffer ends, who and where."""

    interval: Interval
    blocked_until: datetime
    doctor: int
    chair: int
    assistant: int | None = None
    equipment: tuple[int, ...] = ()


@dataclass(frozen=True)
class Proposal:
    """A booking someone wants to make (or move to): checked by `check_proposal`."""

    interval: Interval  # the procedure
    blocked_until: datetime  # interval.end + cleaning buffer
    resources: frozenset[ResourceKey]
    ignore_booking: int | None = None  # the appointment being moved, when rescheduling


class ProblemCode(StrEnum):
    IN_PAST = "in_past"
    BEYOND_HORIZON = "beyond_horizon"
    OUTSIDE_HOURS = "outside_hours"
    CLOSED = "closed"  # leave or holiday
    OVERLAP = "overlap"  # the procedure itself meets another booking
    BUFFER = "buffer"  # only a cleaning buffer (ours or theirs) meets another booking
    CAPACITY = "capacity"  # equipment already used by `capacity` bookings
    UNKNOWN_RESOURCE = "unknown_resource"


@dataclass(frozen=True)
class Problem:
    """Why a proposal is invalid: what, on which resource, against which booking."""

    code: ProblemCode
    resource: ResourceKey | None = None
    booking_id: int | None = None
