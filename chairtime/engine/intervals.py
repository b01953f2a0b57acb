"""Interval algebra: merge, subtract, intersect, clip, on sorted tuples of `Interval`.

Most functions take *normalised* tuples: sorted by start, no two intervals overlapping or
touching (what `merge` returns). That shape lets every question be answered by bisection
and every combination by one forward walk, so no operation compares every interval of one
side with every interval of the other.

The last section works on start ranges: the closed ranges of instants at which something
of a given length may start. A slot search combines the start ranges of every resource a
booking needs, then reads the grid points that remain.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from operator import attrgetter, itemgetter

from chairtime.engine.types import Interval

Intervals = tuple[Interval, ...]
StartRange = tuple[datetime, datetime]  # earliest and latest start, both included

_start = attrgetter("start")
_end = attrgetter("end")
_range_end = itemgetter(1)


# --- normalised tuples -------------------------------------------------------------------
def merge(intervals: Iterable[Interval]) -> Intervals:
    """Sort and join overlapping or touching intervals: [9, 10) and [10, 11) are [9, 11),
    because free time that continues across a boundary is one stretch of free time."""
    merged: list[Interval] = []
    for interval in sorted(intervals, key=_start):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)


def subtract(base: Intervals, cut: Intervals) -> Intervals:
    """What of `base` is left once `cut` is taken away (both normalised)."""
    left: list[Interval] = []
    for interval in base:
        left.extend(_subtract_one(interval, cut))
    return tuple(left)


def _subtract_one(interval: Interval, cut: Intervals) -> list[Interval]:
    """One interval minus the cuts: bisect to the first cut that reaches into it."""
    left: list[Interval] = []
    start = interval.start
    index = bisect_right(cut, start, key=_end)
    while index < len(cut) and cut[index].start < interval.end:
        if start < cut[index].start:
            left.append(Interval(start, cut[index].start))
        start = max(start, cut[index].end)
        index += 1
    if start == interval.start:
        return [interval]  # untouched: keep the same object, build nothing
    if start < interval.end:
        left.append(Interval(start, interval.end))
    return left


def intersect(first: Intervals, second: Intervals) -> Intervals:
    """The time in both (normalised in, normalised out). Walks the shorter tuple and
    bisects into the longer, so a day's few hours against a year of holidays stays cheap."""
    if len(first) > len(second):
        first, second = second, first
    both: list[Interval] = []
    for interval in first:
        both.extend(clip(second, interval))
    return tuple(both)


def clip(intervals: Intervals, window: Interval) -> Intervals:
    """The part of normalised `intervals` inside `window`."""
    low = bisect_right(intervals, window.start, key=_end)
    high = bisect_left(intervals, window.end, key=_start)
    inside = list(intervals[low:high])
    if inside and inside[0].start < window.start:
        inside[0] = Interval(window.start, inside[0].end)
    if inside and inside[-1].end > window.end:
        inside[-1] = Interval(inside[-1].start, window.end)
    return tuple(inside)


def covers(intervals: Intervals, span: Interval) -> bool:
    """Whether one interval of normalised `intervals` holds all of `span`."""
    index = bisect_right(intervals, span.start, key=_start) - 1
    return index >= 0 and intervals[index].contains(span)


def meets(intervals: Intervals, span: Interval) -> bool:
    """Whether any interval of normalised `intervals` overlaps `span`."""
    index = bisect_right(intervals, span.start, key=_end)
    return index < len(intervals) and intervals[index].start < span.end


def at_least(intervals: Iterable[Interval], depth: int) -> Intervals:
    """Where at least `depth` of the (possibly overlapping) intervals overlap: the time a
    resource with capacity `depth` is full. Depth 1 is `merge`."""
    if depth <= 1:
        return merge(intervals)
    events = sorted(
        [(i.start, 1) for i in intervals] + [(i.end, -1) for i in intervals],
        key=itemgetter(0, 1),  # at one instant ends (-1) come first: touching is not overlapping
    )
    full: list[Interval] = []
    count = 0
    opened: datetime | None = None
    for instant, step in events:
        count += step
        if count >= depth and opened is None:
            opened = instant
        elif count < depth and opened is not None:
            if opened < instant:
                full.append(Interval(opened, instant))
            opened = None
    return merge(full)


# --- start ranges ------------------------------------------------------------------------
def start_ranges(free: Intervals, length: timedelta) -> list[StartRange]:
    """The instants at which something `length` long can start and stay inside `free`."""
    return [(i.start, i.end - length) for i in free if i.end - i.start >= length]


def intersect_ranges(first: Sequence[StartRange], second: Sequence[StartRange]) -> list[StartRange]:
    """Starts allowed by both (each sorted and disjoint): one forward walk over both."""
    both: list[StartRange] = []
    i = j = 0
    while i < len(first) and j < len(second):
        low = max(first[i][0], second[j][0])
        high = min(first[i][1], second[j][1])
        if low <= high:
            both.append((low, high))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return both


def union_ranges(ranges: Iterable[StartRange]) -> list[StartRange]:
    """Starts allowed by any of them (one of several assistants, one of several preferred
    times), sorted and disjoint."""
    joined: list[StartRange] = []
    for low, high in sorted(ranges):
        if joined and low <= joined[-1][1]:
            if high > joined[-1][1]:
                joined[-1] = (joined[-1][0], high)
        else:
            joined.append((low, high))
    return joined


def in_ranges(ranges: Sequence[StartRange], instant: datetime) -> bool:
    """Whether `instant` is an allowed start (ranges sorted and disjoint)."""
    index = bisect_left(ranges, instant, key=_range_end)
    return index < len(ranges) and ranges[index][0] <= instant
