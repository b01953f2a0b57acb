"""Interval algebra, on hours of one day (a UTC clock is enough here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chairtime.engine.intervals import (
    at_least,
    clip,
    covers,
    in_ranges,
    intersect,
    intersect_ranges,
    meets,
    merge,
    start_ranges,
    subtract,
    union_ranges,
)
from chairtime.engine.types import Interval


def h(hour: float) -> datetime:
    return datetime(2027, 1, 4, tzinfo=UTC) + timedelta(hours=hour)


def i(start: float, end: float) -> Interval:
    return Interval(h(start), h(end))


def test_merge_sorts_and_joins_overlapping_and_touching_intervals():
    assert merge([i(13, 14), i(9, 10), i(10, 11), i(9.5, 10.5), i(15, 16)]) == (
        i(9, 11),
        i(13, 14),
        i(15, 16),
    )


def test_merge_keeps_an_interval_inside_another_once():
    assert merge([i(9, 17), i(10, 11)]) == (i(9, 17),)


def test_subtract_cuts_holes_and_edges():
    assert subtract((i(8, 12), i(13, 17)), (i(7, 9), i(10, 11), i(11.5, 13.5), i(16, 18))) == (
        i(9, 10),
        i(11, 11.5),
        i(13.5, 16),
    )


def test_subtract_nothing_returns_the_same_intervals():
    base = (i(8, 12),)
    assert subtract(base, ()) == base
    assert subtract(base, (i(12, 13),)) == base  # touching is not overlapping


def test_subtract_a_cut_spanning_several_intervals():
    assert subtract((i(8, 9), i(10, 11), i(12, 13)), (i(8.5, 12.5),)) == (i(8, 8.5), i(12.5, 13))


def test_intersect_keeps_the_time_in_both():
    assert intersect((i(8, 12), i(13, 17)), (i(11, 14), i(16, 20))) == (
        i(11, 12),
        i(13, 14),
        i(16, 17),
    )
    assert intersect((i(8, 9),), (i(9, 10),)) == ()


def test_clip_to_a_window():
    assert clip((i(6, 9), i(10, 11), i(12, 20)), i(8, 13)) == (i(8, 9), i(10, 11), i(12, 13))
    assert clip((i(6, 7),), i(8, 13)) == ()


def test_covers_needs_one_interval_holding_the_whole_span():
    hours = (i(8, 12), i(13, 17))
    assert covers(hours, i(8, 12))
    assert covers(hours, i(13.5, 14))
    assert not covers(hours, i(11, 14))
    assert not covers(hours, i(7, 8.5))
    assert not covers((), i(8, 9))


def test_meets_is_overlap_not_touching():
    busy = (i(9, 10), i(12, 13))
    assert meets(busy, i(9.5, 11))
    assert meets(busy, i(8, 20))
    assert not meets(busy, i(10, 12))
    assert not meets(busy, i(13, 14))


def test_at_least_finds_where_capacity_is_used_up():
    held = [i(8, 10), i(9, 11), i(10, 12), i(14, 15)]
    assert at_least(held, 2) == (i(9, 11),)
    assert at_least(held, 3) == ()
    assert at_least(held, 1) == (i(8, 12), i(14, 15))


def test_at_least_touching_bookings_do_not_stack():
    assert at_least([i(8, 9), i(9, 10)], 2) == ()
    assert at_least([i(8, 10), i(8, 10), i(10, 11), i(10, 11)], 2) == (i(8, 11),)


def test_start_ranges_are_where_a_length_fits():
    free = (i(8, 9), i(10, 12), i(13, 13.5))
    assert start_ranges(free, timedelta(hours=1)) == [(h(8), h(8)), (h(10), h(11))]


def test_range_intersection_union_and_membership():
    first = [(h(8), h(10)), (h(12), h(14))]
    second = [(h(9), h(12)), (h(13), h(13))]
    assert intersect_ranges(first, second) == [(h(9), h(10)), (h(12), h(12)), (h(13), h(13))]
    assert union_ranges([(h(12), h(14)), (h(8), h(10)), (h(10), h(11))]) == [
        (h(8), h(11)),
        (h(12), h(14)),
    ]
    assert in_ranges(first, h(10))
    assert in_ranges(first, h(12))
    assert not in_ranges(first, h(11))
    assert not in_ranges(first, h(15))
