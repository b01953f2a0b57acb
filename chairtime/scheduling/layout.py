"""The calendar grids: rows of 15 minutes, one column per chair, doctor or day, and each
appointment placed on grid lines computed here, so templates only print numbers.

The day grid steps through real time (UTC), not the wall clock: on the night clocks go
forward the missing hour has no rows, and on the night they go back the repeated hour
has two sets of rows, each labelled with its local time. The week grid is a wall-clock
grid (the same times of day side by side); clinics are closed at the small hours when
clocks change, so nothing lands on the hour that is missing or repeated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chairtime.scheduling.models import Appointment

ROW = timedelta(minutes=15)
ROW_MINUTES = 15
# When a day has no opening hours (closed, or none set) the grid still shows this span.
DEFAULT_DAY = (time(8), time(18))


@dataclass(frozen=True)
class Row:
    """One 15-minute line of the grid (number 1 is the first)."""

    number: int
    starts_at: datetime  # aware, local to the branch
    is_hour: bool

    @property
    def param(self) -> str:
        """The instant as a URL parameter: UTC, so a repeated hour is never ambiguous."""
        return self.starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True)
class Placed:
    """An appointment on the grid: first row, rows covered, and its lane when several
    overlap in one column (an overbooking)."""

    appointment: Appointment
    row: int
    span: int
    lane: int = 0


@dataclass
class Column:
    """One column of the grid: a chair, a doctor or a day."""

    key: int | str
    label: str
    colour: str = ""
    placed: list[Placed] = field(default_factory=list)
    lanes: int = 1


def opening_span(windows: Iterable[tuple[time, time]]) -> tuple[time, time] | None:
    """From the earliest opening to the latest closing of the given windows."""
    spans = list(windows)
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


def _floor_minutes(moment: time) -> int:
    minutes = moment.hour * 60 + moment.minute
    return minutes - minutes % ROW_MINUTES


def day_rows(
    *,
    day: date,
    zone: ZoneInfo,
    span: tuple[time, time] | None,
    appointments: Sequence[Appointment],
) -> list[Row]:
    """The day's rows: the opening hours (or DEFAULT_DAY), widened so that every
    appointment of the day is inside the grid."""
    opens, closes = span or DEFAULT_DAY
    day_start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    first = _local_instant(day, _floor_minutes(opens), zone)
    last = datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)
    for appointment in appointments:
        first = min(first, max(appointment.starts_at, day_start))
        last = max(last, min(appointment.ends_at, day_end))
    first = _floor_to_row(first)
    rows: list[Row] = []
    moment = first
    while moment < last:
        local = moment.astimezone(zone)
        rows.append(Row(len(rows) + 1, local, local.minute == 0))
        moment += ROW  # in UTC: real time, whatever the wall clock does
    return rows


def _local_instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    wall = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def _floor_to_row(moment: datetime) -> datetime:
    """Down to a quarter hour (every time zone's offset is a multiple of 15 minutes)."""
    moment = moment.astimezone(UTC)
    return moment.replace(
        minute=moment.minute - moment.minute % ROW_MINUTES, second=0, microsecond=0
    )


def place_by_instant(appointment: Appointment, rows: Sequence[Row]) -> Placed:
    """Rows an appointment covers on a day grid, counted in real time from the first row."""
    first = rows[0].starts_at.astimezone(UTC)
    offset = (appointment.starts_at - first) / ROW
    row = max(0, math.floor(offset))
    end = (appointment.ends_at - first) / ROW
    span = max(1, math.ceil(end) - row)
    return Placed(appointment, row + 1, min(span, len(rows) - row))


def week_rows(*, span: tuple[time, time] | None, times: Iterable[tuple[time, time]]) -> list[time]:
    """Wall-clock times of day, every 15 minutes, from the earliest opening (or start of
    an appointment) to the latest closing (or end of an appointment)."""
    opens, closes = span or DEFAULT_DAY
    start, end = _floor_minutes(opens), closes.hour * 60 + closes.minute
    for starts, ends in times:
        start = min(start, _floor_minutes(starts))
        end = max(end, (ends.hour * 60 + ends.minute) if ends > starts else 24 * 60)
    end = max(end, start + ROW_MINUTES)
    return [time(m // 60, m % 60) for m in range(start, end, ROW_MINUTES)]


def place_by_wall_clock(appointment: Appointment, zone: ZoneInfo, rows: Sequence[time]) -> Placed:
    """Rows an appointment covers on a week grid, counted by local time of day."""
    starts = appointment.starts_at.astimezone(zone)
    ends = appointment.ends_at.astimezone(zone)
    first = rows[0].hour * 60 + rows[0].minute
    start_minutes = starts.hour * 60 + starts.minute
    end_minutes = (ends.hour * 60 + ends.minute) if ends.date() == starts.date() else 24 * 60
    row = max(0, (start_minutes - first) // ROW_MINUTES)
    span = max(1, math.ceil((end_minutes - first) / ROW_MINUTES) - row)
    return Placed(appointment, row + 1, min(span, len(rows) - row))


def fill_columns(
    columns: Sequence[Column],
    appointments: Iterable[Appointment],
    key_of: Callable[[Appointment], int | str],
    place: Callable[[Appointment], Placed],
) -> None:
    """Put each appointment in its column, then give overlapping ones side-by-side lanes."""
    by_key = {column.key: column for column in columns}
    for appointment in appointments:
        column = by_key.get(key_of(appointment))
        if column is not None:
            column.placed.append(place(appointment))
    for column in columns:
        column.placed, column.lanes = _lanes(column.placed)


def _lanes(placed: list[Placed]) -> tuple[list[Placed], int]:
    """Greedy interval partitioning: each appointment takes the first lane free at its row."""
    lane_ends: list[int] = []  # the row after the last appointment in each lane
    result = []
    for item in sorted(placed, key=lambda p: (p.row, -p.span, p.appointment.pk)):
        lane = next((i for i, end in enumerate(lane_ends) if end <= item.row), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(0)
        lane_ends[lane] = item.row + item.span
        result.append(Placed(item.appointment, item.row, item.span, lane))
    return result, max(1, len(lane_ends))
