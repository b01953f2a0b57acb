"""From the database to the engine: one branch's resources and bookings as a Schedule.

The engine knows nothing of Django; this module is the only translator. It loads only
the window a question is about (plus a margin), so a six-month search reads the book a
few weeks at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chairtime.engine.types import (
    Booking,
    Interval,
    Resource,
    ResourceKey,
    Schedule,
    WeeklyWindow,
    assistant_key,
    chair_key,
    doctor_key,
    equipment_key,
    patient_key,
)
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.scheduling.models import (
    Appointment,
    Chair,
    ChairHours,
    Equipment,
    TimeOff,
    WorkingHours,
)
from chairtime.tenancy.models import Branch, OpeningHours

# A booking that starts before the window can still reach into it.
MARGIN = timedelta(hours=12)


@dataclass(frozen=True)
class ScheduleScope:
    """Which resources a question involves (None: all of the branch's)."""

    doctors: Iterable[int] | None = None
    assistants: Iterable[int] | None = None
    chairs: Iterable[int] | None = None
    patients: Iterable[int] = ()


def load_schedule(branch: Branch, window: Interval, scope: ScheduleScope | None = None) -> Schedule:
    """The branch's calendars and active bookings that meet `window`."""
    scope = scope or ScheduleScope()
    closed_branch, closed_staff = _time_off(branch, window)
    resources: dict[ResourceKey, Resource] = {}
    _add_staff(resources, branch, scope.doctors, scope.assistants, closed_branch, closed_staff)
    _add_chairs(resources, branch, scope.chairs, closed_branch)
    for equipment in Equipment.objects.filter(branch=branch):
        key = equipment_key(equipment.pk)
        resources[key] = Resource(
            key=key, weekly=_branch_hours(branch), closed=closed_branch,
            capacity=equipment.capacity, label=equipment.name,
        )  # fmt: skip
    for patient_id in scope.patients:
        key = patient_key(patient_id)
        resources[key] = Resource(key=key, always_available=True)
    bookings = tuple(_bookings(branch, window))
    return Schedule(time_zone=branch.time_zone, resources=resources, bookings=bookings)


def _time_off(
    branch: Branch, window: Interval
) -> tuple[tuple[Interval, ...], dict[int, tuple[Interval, ...]]]:
    branch_wide: list[Interval] = []
    personal: dict[int, list[Interval]] = defaultdict(list)
    rows = TimeOff.objects.filter(
        branch=branch, starts_at__lt=window.end, ends_at__gt=window.start
    ).values_list("staff_id", "starts_at", "ends_at")
    for staff_id, starts_at, ends_at in rows:
        interval = Interval(starts_at, ends_at)
        (personal[staff_id] if staff_id else branch_wide).append(interval)
    return tuple(branch_wide), {k: tuple(v) for k, v in personal.items()}


def _weekly(rows: Iterable[tuple[int, int, object, object]]) -> dict[int, list[WeeklyWindow]]:
    by_owner: dict[int, list[WeeklyWindow]] = defaultdict(list)
    for owner, weekday, starts_at, ends_at in rows:
        by_owner[owner].append(WeeklyWindow(weekday, starts_at, ends_at))  # type: ignore[arg-type]
    return by_owner


def _add_staff(
    resources: dict[ResourceKey, Resource],
    branch: Branch,
    doctors: Iterable[int] | None,
    assistants: Iterable[int] | None,
    closed_branch: tuple[Interval, ...],
    closed_staff: dict[int, tuple[Interval, ...]],
) -> None:
    """Doctors and assistants are whoever has working hours in the branch in that role."""
    hours = _weekly(
        WorkingHours.objects.filter(branch=branch).values_list(
            "staff_id", "weekday", "starts_at", "ends_at"
        )
    )
    for ids, make_key in ((doctors, doctor_key), (assistants, assistant_key)):
        for staff_id in hours if ids is None else ids:
            key = make_key(staff_id)
            resources[key] = Resource(
                key=key, weekly=tuple(hours.get(staff_id, ())),
                closed=closed_branch + closed_staff.get(staff_id, ()),
            )  # fmt: skip


def _branch_hours(branch: Branch) -> tuple[WeeklyWindow, ...]:
    rows = OpeningHours.objects.filter(branch=branch).values_list(
        "weekday", "opens_at", "closes_at"
    )
    return tuple(WeeklyWindow(weekday, opens, closes) for weekday, opens, closes in rows)


def _add_chairs(
    resources: dict[ResourceKey, Resource],
    branch: Branch,
    chair_ids: Iterable[int] | None,
    closed_branch: tuple[Interval, ...],
) -> None:
    chairs = Chair.objects.filter(branch=branch, is_active=True)
    if chair_ids is not None:
        chairs = chairs.filter(pk__in=list(chair_ids))
    own_hours = _weekly(
        ChairHours.objects.filter(chair__in=chairs).values_list(
            "chair_id", "weekday", "starts_at", "ends_at"
        )
    )
    branch_hours = _branch_hours(branch)
    for chair_id, name in chairs.values_list("pk", "name"):
        key = chair_key(chair_id)
        weekly = tuple(own_hours[chair_id]) if chair_id in own_hours else branch_hours
        resources[key] = Resource(key=key, weekly=weekly, closed=closed_branch, label=name)


def _bookings(branch: Branch, window: Interval) -> Iterable[Booking]:
    rows = (
        Appointment.objects.filter(
            branch=branch,
            starts_at__lt=window.end,
            blocked_until__gt=window.start - MARGIN,
        )
        .exclude(status__in=RELEASED_STATUSES)  # overbooked ones still hold their time
        .values_list(
            "pk", "starts_at", "ends_at", "blocked_until", "doctor_id", "assistant_id",
            "chair_id", "patient_id",
        )
    )  # fmt: skip
    equipment: dict[int, list[int]] = defaultdict(list)
    through = Appointment.equipment.through.objects.filter(
        appointment__branch=branch,
        appointment__starts_at__lt=window.end,
        appointment__blocked_until__gt=window.start - MARGIN,
    ).values_list("appointment_id", "equipment_id")
    for appointment_id, equipment_id in through:
        equipment[appointment_id].append(equipment_id)
    for pk, starts_at, ends_at, blocked_until, doctor, assistant, chair, patient in rows:
        keys = {doctor_key(doctor), chair_key(chair), patient_key(patient)}
        if assistant:
            keys.add(assistant_key(assistant))
        keys.update(equipment_key(e) for e in equipment.get(pk, ()))
        yield Booking(
            id=pk, interval=Interval(starts_at, blocked_until), procedure_end=ends_at,
            resources=frozenset(keys),
        )  # fmt: skip


def window_around(start: datetime, end: datetime) -> Interval:
    return Interval(start - MARGIN, end + MARGIN)
