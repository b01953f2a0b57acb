"""Weekly hours become UTC instants, daylight-saving days included; free time is what
the bookings leave."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chairtime.engine.availability import (
    availability,
    clock_pieces,
    day_span,
    free_intervals,
    instant_at,
)
from chairtime.engine.types import Interval

from .builders import (
    at,
    booking,
    chair,
    doctor,
    equipment,
    hm,
    patient,
    resource,
    schedule,
    wall,
    weekly,
)

MADRID, NEW_YORK, SAIGON = "Europe/Madrid", "America/New_York", "Asia/Ho_Chi_Minh"
HOUR = timedelta(hours=1)
# (zone, spring-forward Sunday, fall-back Sunday) in 2024
DST_DAYS = [
    (MADRID, date(2024, 3, 31), date(2024, 10, 27)),
    (NEW_YORK, date(2024, 3, 10), date(2024, 11, 3)),
]


def hours_on(zone: str, day: date, start: str, end: str) -> tuple[Interval, ...]:
    """One resource open `start`-`end` every day, asked about `day` only."""
    every_day = resource(doctor(1), weekly(start, end, range(7)))
    return availability(every_day, ZoneInfo(zone), day_span(day, ZoneInfo(zone)))


def real_hours(intervals: tuple[Interval, ...]) -> float:
    return sum((i.end - i.start for i in intervals), timedelta(0)) / HOUR


def test_a_skipped_time_becomes_the_moment_the_clocks_jump():
    zone = ZoneInfo(MADRID)
    assert instant_at(date(2024, 3, 31), hm("02:30"), zone) == datetime(2024, 3, 31, 1, tzinfo=UTC)
    assert instant_at(date(2024, 3, 31), hm("02:00"), zone) == datetime(2024, 3, 31, 1, tzinfo=UTC)
    assert instant_at(date(2024, 3, 31), hm("03:00"), zone) == datetime(2024, 3, 31, 1, tzinfo=UTC)
    new_york = ZoneInfo(NEW_YORK)
    assert instant_at(date(2024, 3, 10), hm("02:15"), new_york) == datetime(
        2024, 3, 10, 7, tzinfo=UTC
    )


def test_a_repeated_time_is_its_first_occurrence():
    assert instant_at(date(2024, 10, 27), hm("02:30"), ZoneInfo(MADRID)) == datetime(
        2024, 10, 27, 0, 30, tzinfo=UTC
    )
    assert instant_at(date(2024, 11, 3), hm("01:30"), ZoneInfo(NEW_YORK)) == datetime(
        2024, 11, 3, 5, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(("zone", "spring", "autumn"), DST_DAYS)
def test_local_days_last_23_and_25_hours(zone, spring, autumn):
    assert (
        day_span(spring, ZoneInfo(zone)).end - day_span(spring, ZoneInfo(zone)).start == 23 * HOUR
    )
    assert (
        day_span(autumn, ZoneInfo(zone)).end - day_span(autumn, ZoneInfo(zone)).start == 25 * HOUR
    )


@pytest.mark.parametrize(("zone", "spring", "autumn"), DST_DAYS)
def test_a_window_across_the_change_is_as_long_as_the_clocks_make_it(zone, spring, autumn):
    assert real_hours(hours_on(zone, spring, "00:00", "12:00")) == 11
    assert real_hours(hours_on(zone, autumn, "00:00", "12:00")) == 13
    # The clocks change at night: a working day keeps its nine hours.
    assert real_hours(hours_on(zone, spring, "08:00", "17:00")) == 9
    assert real_hours(hours_on(zone, autumn, "08:00", "17:00")) == 9
    assert hours_on(zone, autumn, "08:00", "17:00") == (
        Interval(at(zone, f"{autumn} 08:00"), at(zone, f"{autumn} 17:00")),
    )


def test_a_window_starting_in_the_skipped_hour_starts_when_the_clocks_jump():
    hours = hours_on(MADRID, date(2024, 3, 31), "02:30", "06:00")
    assert [(wall(MADRID, i.start), wall(MADRID, i.end)) for i in hours] == [
        ("2024-03-31 03:00", "2024-03-31 06:00")
    ]
    assert hours_on(MADRID, date(2024, 3, 31), "02:15", "02:45") == ()  # all of it skipped


def test_a_window_ending_in_the_repeated_hour_ends_at_its_first_occurrence():
    hours = hours_on(NEW_YORK, date(2024, 11, 3), "00:00", "01:30")
    assert hours == (
        Interval(datetime(2024, 11, 3, 4, tzinfo=UTC), datetime(2024, 11, 3, 5, 30, tzinfo=UTC)),
    )


def test_a_window_ending_before_it_starts_runs_past_midnight():
    zone = ZoneInfo(SAIGON)
    night = resource(doctor(1), weekly("20:00", "02:00", (0,)))  # Monday night
    week = Interval(at(SAIGON, "2027-01-04 00:00"), at(SAIGON, "2027-01-11 00:00"))
    assert availability(night, zone, week) == (
        Interval(at(SAIGON, "2027-01-04 20:00"), at(SAIGON, "2027-01-05 02:00")),
    )
    # Asked about Tuesday alone, the part after midnight is still there.
    tuesday = day_span(date(2027, 1, 5), zone)
    assert availability(night, zone, tuesday) == (
        Interval(tuesday.start, at(SAIGON, "2027-01-05 02:00")),
    )


def test_adjacent_windows_are_one_stretch_and_closed_time_is_cut_out():
    zone = ZoneInfo(SAIGON)
    split = (*weekly("08:00", "12:00", (0,)), *weekly("12:00", "17:00", (0,)))
    leave = Interval(at(SAIGON, "2027-01-04 10:00"), at(SAIGON, "2027-01-04 11:00"))
    who = resource(doctor(1), split, closed=(leave,))
    monday = day_span(date(2027, 1, 4), zone)
    assert availability(who, zone, monday) == (
        Interval(at(SAIGON, "2027-01-04 08:00"), leave.start),
        Interval(leave.end, at(SAIGON, "2027-01-04 17:00")),
    )


def test_always_available_is_the_whole_window_minus_closed():
    zone = ZoneInfo(SAIGON)
    away = Interval(at(SAIGON, "2027-01-04 09:00"), at(SAIGON, "2027-01-04 10:00"))
    someone = resource(patient(1), always_available=True, closed=(away,))
    window = Interval(at(SAIGON, "2027-01-04 08:00"), at(SAIGON, "2027-01-04 12:00"))
    assert availability(someone, zone, window) == (
        Interval(window.start, away.start),
        Interval(away.end, window.end),
    )


def test_free_intervals_leave_out_bookings_and_their_buffers():
    monday = Interval(at(SAIGON, "2027-01-04 00:00"), at(SAIGON, "2027-01-05 00:00"))
    book = schedule(
        SAIGON,
        [resource(chair(1), weekly("08:00", "17:00"))],
        [
            booking(1, at(SAIGON, "2027-01-04 09:00"), 60, 10, chair(1), doctor(1)),
            booking(2, at(SAIGON, "2027-01-04 13:00"), 30, 0, chair(1), doctor(2)),
            booking(3, at(SAIGON, "2027-01-04 13:00"), 30, 0, chair(2), doctor(2)),
        ],
    )
    assert free_intervals(book, chair(1), monday) == (
        Interval(at(SAIGON, "2027-01-04 08:00"), at(SAIGON, "2027-01-04 09:00")),
        Interval(at(SAIGON, "2027-01-04 10:10"), at(SAIGON, "2027-01-04 13:00")),
        Interval(at(SAIGON, "2027-01-04 13:30"), at(SAIGON, "2027-01-04 17:00")),
    )
    assert free_intervals(book, chair(1), monday, ignore_booking=1) == (
        Interval(at(SAIGON, "2027-01-04 08:00"), at(SAIGON, "2027-01-04 13:00")),
        Interval(at(SAIGON, "2027-01-04 13:30"), at(SAIGON, "2027-01-04 17:00")),
    )


def test_free_intervals_of_shared_equipment_count_capacity():
    window = Interval(at(SAIGON, "2027-01-04 08:00"), at(SAIGON, "2027-01-04 12:00"))
    motors = resource(equipment(1), capacity=2, always_available=True)
    book = schedule(
        SAIGON,
        [motors],
        [
            booking(1, at(SAIGON, "2027-01-04 08:30"), 60, 10, equipment(1)),
            booking(2, at(SAIGON, "2027-01-04 09:00"), 60, 10, equipment(1)),
            booking(3, at(SAIGON, "2027-01-04 11:00"), 30, 0, equipment(1)),
        ],
    )
    # Full only while bookings 1 and 2 both hold it: 09:00 to 09:40.
    assert free_intervals(book, equipment(1), window) == (
        Interval(window.start, at(SAIGON, "2027-01-04 09:00")),
        Interval(at(SAIGON, "2027-01-04 09:40"), window.end),
    )


def test_a_patient_is_held_for_the_procedure_only():
    window = Interval(at(SAIGON, "2027-01-04 08:00"), at(SAIGON, "2027-01-04 12:00"))
    book = schedule(SAIGON, [], [booking(1, at(SAIGON, "2027-01-04 09:00"), 60, 15, patient(7))])
    assert free_intervals(book, patient(7), window) == (
        Interval(window.start, at(SAIGON, "2027-01-04 09:00")),
        Interval(at(SAIGON, "2027-01-04 10:00"), window.end),
    )


def test_an_unknown_resource_is_never_free():
    window = Interval(at(SAIGON, "2027-01-04 08:00"), at(SAIGON, "2027-01-04 12:00"))
    assert free_intervals(schedule(SAIGON, []), chair(9), window) == ()


def test_the_grid_is_counted_on_the_wall_clock_on_a_daylight_saving_day():
    before, after = clock_pieces(date(2024, 3, 31), ZoneInfo(MADRID))
    assert before[0].end == after[0].start == datetime(2024, 3, 31, 1, tzinfo=UTC)
    assert wall(MADRID, before[1]) == "2024-03-31 00:00"  # CET midnight
    assert after[1] == datetime(2024, 3, 30, 22, tzinfo=UTC)  # where CEST clocks read 00:00
    (whole,) = clock_pieces(date(2024, 4, 1), ZoneInfo(MADRID))
    assert whole[1] == whole[0].start
