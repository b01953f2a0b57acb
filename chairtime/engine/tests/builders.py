"""Terse builders for hand-made schedules: local wall-clock strings in, engine values out."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chairtime.engine.types import (
    Booking,
    Interval,
    Resource,
    ResourceKey,
    Schedule,
    SlotRequest,
    WeeklyWindow,
    assistant_key,
    chair_key,
    doctor_key,
    equipment_key,
    patient_key,
)

MINUTE = timedelta(minutes=1)
WEEKDAYS = range(5)


def at(zone: str, wall: str, fold: int = 0) -> datetime:
    """'2024-03-31 08:00' on the clocks of `zone`, as a UTC instant."""
    naive = datetime.fromisoformat(wall)
    return naive.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def wall(zone: str, instant: datetime) -> str:
    """The instant as the clocks of `zone` show it: '2024-03-31 08:00'."""
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def hm(text: str) -> time:
    return time.fromisoformat(text)


def weekly(
    start: str, end: str, days: range | tuple[int, ...] = WEEKDAYS
) -> tuple[WeeklyWindow, ...]:
    return tuple(WeeklyWindow(day, hm(start), hm(end)) for day in days)


# Short names for the keys, so hand-made schedules read like the calendar they describe.
doctor, chair, assistant = doctor_key, chair_key, assistant_key
equipment, patient = equipment_key, patient_key


def resource(key: ResourceKey, weekly_hours: tuple[WeeklyWindow, ...] = (), **fields) -> Resource:
    return Resource(key=key, weekly=weekly_hours, **fields)


def booking(id: int, start: datetime, minutes: int, buffer: int, *keys: ResourceKey) -> Booking:
    procedure_end = start + minutes * MINUTE
    return Booking(
        id=id,
        interval=Interval(start, procedure_end + buffer * MINUTE),
        procedure_end=procedure_end,
        resources=frozenset(keys),
    )


def schedule(zone: str, resources: list[Resource], bookings: list[Booking] = ()) -> Schedule:  # type: ignore[assignment]
    return Schedule(
        time_zone=zone, resources={r.key: r for r in resources}, bookings=tuple(bookings)
    )


def request(earliest: datetime, days: int = 14, **fields) -> SlotRequest:
    """One doctor (1), one chair (1), 60 minutes plus a 10-minute buffer, unless told."""
    values = {
        "duration": 60 * MINUTE,
        "buffer": 10 * MINUTE,
        "doctors": (1,),
        "chairs": (1,),
        "earliest": earliest,
        "latest": earliest + timedelta(days=days),
    }
    values.update(fields)
    return SlotRequest(**values)
