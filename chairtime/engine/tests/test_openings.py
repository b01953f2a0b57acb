"""The slot finder on small hand-made branches, with the exact openings expected."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chairtime.engine.openings import find_openings
from chairtime.engine.types import Interval, TimePreference

from .builders import (
    MINUTE,
    assistant,
    at,
    booking,
    chair,
    doctor,
    equipment,
    hm,
    patient,
    request,
    resource,
    schedule,
    wall,
    weekly,
)

SAIGON, MADRID, NEW_YORK = "Asia/Ho_Chi_Minh", "Europe/Madrid", "America/New_York"
MONDAY = "2027-01-04"  # Saigon has no daylight saving; this week is a plain week


def clinic(*extra, bookings=(), doctor_hours=("08:00", "17:00"), chair_hours=("08:00", "17:00")):
    """Doctors 1 and 2, chairs 1 and 2, weekdays, in Saigon."""
    resources = [
        resource(doctor(1), weekly(*doctor_hours)),
        resource(doctor(2), weekly(*doctor_hours)),
        resource(chair(1), weekly(*chair_hours)),
        resource(chair(2), weekly(*chair_hours)),
        *extra,
    ]
    return schedule(SAIGON, resources, list(bookings))


def local(text: str):
    return at(SAIGON, text)


def starts(openings, zone=SAIGON):
    return [wall(zone, o.interval.start)[11:] for o in openings]


def summary(openings, zone=SAIGON):
    return [(wall(zone, o.interval.start), o.doctor, o.chair) for o in openings]


def test_an_empty_day_offers_the_grid_from_opening_time():
    now = local(f"{MONDAY} 06:00")
    openings = find_openings(clinic(), request(now, limit=3), now=now)
    assert summary(openings) == [
        (f"{MONDAY} 08:00", 1, 1),
        (f"{MONDAY} 08:15", 1, 1),
        (f"{MONDAY} 08:30", 1, 1),
    ]
    first = openings[0]
    assert first.interval == Interval(local(f"{MONDAY} 08:00"), local(f"{MONDAY} 09:00"))
    assert first.blocked_until == local(f"{MONDAY} 09:10")
    assert (first.assistant, first.equipment) == (None, ())


def test_same_start_ranks_the_preferred_doctor_first_then_the_lower_chair():
    now = local(f"{MONDAY} 06:00")
    wanted = request(now, doctors=(2, 1), chairs=(2, 1), limit=5)
    assert summary(find_openings(clinic(), wanted, now=now)) == [
        (f"{MONDAY} 08:00", 2, 1),
        (f"{MONDAY} 08:00", 2, 2),
        (f"{MONDAY} 08:00", 1, 1),
        (f"{MONDAY} 08:00", 1, 2),
        (f"{MONDAY} 08:15", 2, 1),
    ]


def test_booked_time_and_its_buffer_are_skipped():
    now = local(f"{MONDAY} 06:00")
    booked = clinic(bookings=[booking(1, local(f"{MONDAY} 08:00"), 60, 10, doctor(1), chair(2))])
    # Doctor 1 is held until 09:10; the next grid point is 09:15.
    assert starts(find_openings(booked, request(now, limit=2), now=now)) == ["09:15", "09:30"]


def test_a_start_must_leave_room_for_the_buffer_before_the_next_booking():
    now = local(f"{MONDAY} 06:00")
    booked = clinic(bookings=[booking(1, local(f"{MONDAY} 09:30"), 30, 10, chair(1), doctor(2))])
    # 08:15 would end its buffer at 09:25; 08:30 would run into 09:30.
    assert starts(find_openings(booked, request(now, limit=4), now=now)) == [
        "08:00",
        "08:15",
        "10:15",
        "10:30",
    ]


def test_starts_are_on_the_grid_from_midnight_and_not_before_now():
    now = local(f"{MONDAY} 10:07")
    assert starts(find_openings(clinic(), request(now, limit=2), now=now)) == ["10:15", "10:30"]
    every_20 = request(now, limit=2, step=20 * MINUTE)
    assert starts(find_openings(clinic(), every_20, now=now)) == ["10:20", "10:40"]


def test_earliest_later_than_now_wins():
    now = local(f"{MONDAY} 06:00")
    wanted = request(local(f"{MONDAY} 14:00"), limit=1)
    assert starts(find_openings(clinic(), wanted, now=now)) == ["14:00"]


def test_nothing_starts_after_latest_the_horizon():
    now = local(f"{MONDAY} 06:00")
    wanted = request(now, latest=local(f"{MONDAY} 08:30"))
    assert starts(find_openings(clinic(), wanted, now=now)) == ["08:00", "08:15", "08:30"]


def test_the_buffer_may_pass_the_doctors_hours_but_not_the_chairs():
    now = local(f"{MONDAY} 15:30")
    today = {"latest": local(f"{MONDAY} 23:59"), "limit": 9}
    # Chairs open until 17:10: the 16:00 procedure ends at 17:00 as the doctor leaves,
    # and the chair is cleaned until 17:10.
    late_chairs = clinic(chair_hours=("08:00", "17:10"))
    assert starts(find_openings(late_chairs, request(now, **today), now=now)) == [
        "15:30",
        "15:45",
        "16:00",
    ]
    # Chairs close at 17:00 with the doctor: the last start is 15:45 (cleaned by 16:55).
    assert starts(find_openings(clinic(), request(now, **today), now=now)) == [
        "15:30",
        "15:45",
    ]


def test_a_doctors_own_duration_counts():
    now = local(f"{MONDAY} 16:00")
    wanted = request(now, latest=local(f"{MONDAY} 23:59"), durations={1: 30 * MINUTE})
    openings = find_openings(clinic(), wanted, now=now)
    assert starts(openings) == ["16:00", "16:15"]  # 16:15 + 30 + 10 = 16:55
    assert openings[0].interval.end - openings[0].interval.start == 30 * MINUTE


def test_a_leave_day_is_skipped():
    leave = Interval(local("2027-01-05 00:00"), local("2027-01-06 00:00"))  # Tuesday
    branch = schedule(
        SAIGON,
        [
            resource(doctor(1), weekly("08:00", "17:00"), closed=(leave,)),
            resource(chair(1), weekly("08:00", "17:00")),
        ],
    )
    now = local(f"{MONDAY} 16:00")
    # Monday 16:00 would be cleaned after the chair closes; Tuesday is leave.
    openings = find_openings(branch, request(now, limit=2), now=now)
    assert [wall(SAIGON, o.interval.start) for o in openings] == [
        "2027-01-06 08:00",
        "2027-01-06 08:15",
    ]


def test_a_branch_holiday_closes_every_chair():
    holiday = Interval(local("2027-01-05 00:00"), local("2027-01-06 00:00"))
    branch = clinic(
        resource(chair(1), weekly("08:00", "17:00"), closed=(holiday,)),
        resource(chair(2), weekly("08:00", "17:00"), closed=(holiday,)),
    )  # replaces the plain chairs
    now = local("2027-01-05 06:00")
    assert summary(find_openings(branch, request(now, limit=1), now=now)) == [
        ("2027-01-06 08:00", 1, 1)
    ]


def test_shared_equipment_takes_as_many_bookings_as_its_capacity():
    now = local(f"{MONDAY} 06:00")
    motors = resource(equipment(9), weekly("08:00", "17:00"), capacity=2)
    one = booking(1, local(f"{MONDAY} 08:00"), 60, 10, doctor(2), chair(2), equipment(9))
    wanted = request(now, limit=1, equipment=(9,))
    opening = find_openings(clinic(motors, bookings=[one]), wanted, now=now)[0]
    assert (wall(SAIGON, opening.interval.start), opening.equipment) == (f"{MONDAY} 08:00", (9,))
    other = booking(2, local(f"{MONDAY} 08:30"), 30, 0, equipment(9))
    full = find_openings(clinic(motors, bookings=[one, other]), wanted, now=now)
    assert starts(full) == ["09:00"]  # the second motor is back at 09:00, the first at 09:10


def test_missing_equipment_means_no_openings():
    now = local(f"{MONDAY} 06:00")
    assert find_openings(clinic(), request(now, equipment=(9,)), now=now) == []


def test_the_first_free_assistant_in_order_is_chosen():
    now = local(f"{MONDAY} 06:00")
    nurses = [
        resource(assistant(5), weekly("08:00", "17:00")),
        resource(assistant(6), weekly("08:00", "17:00")),
    ]
    busy = booking(1, local(f"{MONDAY} 08:00"), 30, 0, assistant(5), doctor(2), chair(2))
    wanted = request(now, limit=3, assistants=(5, 6))
    openings = find_openings(clinic(*nurses, bookings=[busy]), wanted, now=now)
    assert [(wall(SAIGON, o.interval.start)[11:], o.assistant) for o in openings] == [
        ("08:00", 6),
        ("08:15", 6),
        ("08:30", 5),
    ]


def test_the_patient_is_held_for_procedures_not_buffers():
    now = local(f"{MONDAY} 06:00")
    before = booking(1, local(f"{MONDAY} 08:00"), 60, 15, patient(3), doctor(2), chair(2))
    after = booking(2, local(f"{MONDAY} 10:05"), 30, 10, patient(3), doctor(2), chair(2))
    wanted = request(now, limit=2, patient=3)
    # 09:00 while chair 2 is still cleaned; the procedure ends at 10:00 and the patient
    # walks to chair 2 while chair 1 is cleaned.
    assert starts(find_openings(clinic(bookings=[before, after]), wanted, now=now)) == [
        "09:00",
        "10:45",
    ]


def test_preferences_keep_the_whole_procedure_inside_one_window():
    now = local(f"{MONDAY} 06:00")
    evenings = TimePreference(frozenset(range(5)), hm("17:00"), hm("20:00"))
    late = clinic(doctor_hours=("08:00", "20:00"), chair_hours=("08:00", "20:30"))
    openings = find_openings(late, request(now, limit=10, preferences=(evenings,)), now=now)
    assert [wall(SAIGON, o.interval.start) for o in openings] == [
        *(f"{MONDAY} {clock}" for clock in ("17:00", "17:15", "17:30", "17:45", "18:00")),
        *(f"{MONDAY} {clock}" for clock in ("18:15", "18:30", "18:45", "19:00")),
        "2027-01-05 17:00",
    ]  # 19:00 ends at 20:00, the window's end; its buffer is within the chair's hours
    # Two touching windows are not one: a 90-minute procedure fits neither.
    halves = (
        TimePreference(frozenset({0}), hm("17:00"), hm("18:00")),
        TimePreference(frozenset({0}), hm("18:00"), hm("19:00")),
    )
    long = request(now, days=0, duration=90 * MINUTE, preferences=halves)
    assert find_openings(late, long, now=now) == []


def test_preferences_for_other_weekdays_skip_the_day():
    now = local(f"{MONDAY} 06:00")
    wednesdays = TimePreference(frozenset({2}), hm("09:00"), hm("12:00"))
    openings = find_openings(clinic(), request(now, limit=1, preferences=(wednesdays,)), now=now)
    assert summary(openings) == [("2027-01-06 09:00", 1, 1)]


def test_ignoring_the_booking_being_moved():
    now = local(f"{MONDAY} 06:00")
    moving = booking(7, local(f"{MONDAY} 08:00"), 60, 10, doctor(1), chair(1))
    openings = find_openings(
        clinic(bookings=[moving]), request(now, limit=1), now=now, ignore_booking=7
    )
    assert starts(openings) == ["08:00"]


def test_unknown_doctors_and_chairs_are_left_out():
    now = local(f"{MONDAY} 06:00")
    wanted = request(now, doctors=(99, 2), chairs=(98, 2), limit=1)
    assert summary(find_openings(clinic(), wanted, now=now)) == [(f"{MONDAY} 08:00", 2, 2)]


def test_a_request_without_sense_is_refused_by_field():
    now = local(f"{MONDAY} 06:00")
    with pytest.raises(ValueError, match="step"):
        find_openings(clinic(), request(now, step=timedelta(0)), now=now)
    with pytest.raises(ValueError, match="now"):
        find_openings(clinic(), request(now), now=now.replace(tzinfo=None))


# --- daylight saving --------------------------------------------------------------------
def night_clinic(zone: str, day: int, start: str, end: str):
    """Doctor 1 and chair 1 open on one weekday's small hours, when the clocks change."""
    hours = weekly(start, end, (day,))
    return schedule(zone, [resource(doctor(1), hours), resource(chair(1), hours)])


def test_spring_forward_in_madrid_skips_the_missing_hour():
    branch = night_clinic(MADRID, 6, "01:00", "05:00")  # Sunday 31 March 2024
    now = at(MADRID, "2024-03-30 12:00")
    wanted = request(now, days=2, limit=20, step=30 * MINUTE, buffer=timedelta(0))
    openings = find_openings(branch, wanted, now=now)
    assert starts(openings, MADRID) == ["01:00", "01:30", "03:00", "03:30", "04:00"]
    # 01:30 CET plus an hour is 03:30 CEST: real time, not wall-clock arithmetic.
    assert wall(MADRID, openings[1].interval.end) == "2024-03-31 03:30"


def test_spring_forward_window_starting_in_the_gap_opens_when_the_clocks_jump():
    branch = night_clinic(MADRID, 6, "02:30", "05:00")
    now = at(MADRID, "2024-03-30 12:00")
    wanted = request(now, days=2, limit=20, step=30 * MINUTE, buffer=timedelta(0))
    assert starts(find_openings(branch, wanted, now=now), MADRID) == ["03:00", "03:30", "04:00"]


def test_spring_forward_grid_counts_wall_clock_from_midnight():
    branch = night_clinic(MADRID, 6, "00:00", "06:00")
    now = at(MADRID, "2024-03-30 12:00")
    wanted = request(
        now, days=2, limit=20, step=45 * MINUTE, duration=30 * MINUTE, buffer=timedelta(0)
    )
    assert starts(find_openings(branch, wanted, now=now), MADRID) == [
        "00:00", "00:45", "01:30", "03:00", "03:45", "04:30", "05:15",
    ]  # fmt: skip


def test_fall_back_in_madrid_offers_the_repeated_hour_twice():
    branch = night_clinic(MADRID, 6, "01:00", "04:00")  # Sunday 27 October 2024
    now = at(MADRID, "2024-10-26 12:00")
    wanted = request(now, days=2, limit=20, step=30 * MINUTE, buffer=timedelta(0))
    openings = find_openings(branch, wanted, now=now)
    assert starts(openings, MADRID) == [
        "01:00",
        "01:30",
        "02:00",
        "02:30",
        "02:00",
        "02:30",
        "03:00",
    ]
    assert openings[4].interval.start == at(MADRID, "2024-10-27 02:00", fold=1)
    assert openings[-1].interval.end == at(MADRID, "2024-10-27 04:00")  # four real hours in all


def test_spring_forward_in_new_york_with_a_working_day():
    hours = weekly("08:00", "17:00", (6,))  # Sunday 10 March 2024
    branch = schedule(NEW_YORK, [resource(doctor(1), hours), resource(chair(1), hours)])
    now = at(NEW_YORK, "2024-03-09 12:00")
    openings = find_openings(branch, request(now, days=2, limit=40), now=now)
    assert starts(openings, NEW_YORK)[0] == "08:00"
    assert starts(openings, NEW_YORK)[-1] == "15:45"
    assert len(openings) == 32  # 08:00 to 15:45 every 15 minutes: nine real hours


def test_fall_back_in_new_york_offers_both_half_past_ones():
    branch = night_clinic(NEW_YORK, 6, "00:00", "03:00")  # Sunday 3 November 2024
    now = at(NEW_YORK, "2024-11-02 12:00")
    wanted = request(
        now, days=2, limit=20, step=30 * MINUTE, duration=30 * MINUTE, buffer=timedelta(0)
    )
    openings = find_openings(branch, wanted, now=now)
    assert starts(openings, NEW_YORK) == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "01:00",
        "01:30",
        "02:00",
        "02:30",
    ]
