"""check_proposal: every reason a booking cannot be made, in a fixed order."""

from __future__ import annotations

import pytest

from chairtime.engine.checks import check_proposal
from chairtime.engine.types import Interval, Problem, ProblemCode, Proposal

from .builders import (
    MINUTE,
    at,
    booking,
    chair,
    doctor,
    equipment,
    patient,
    resource,
    schedule,
    weekly,
)

SAIGON = "Asia/Ho_Chi_Minh"
MONDAY = "2027-01-04"
C = ProblemCode


def local(clock: str, day: str = MONDAY):
    return at(SAIGON, f"{day} {clock}")


NOW = local("06:00")
HORIZON = local("00:00", "2027-03-01")


def clinic(*extra, bookings=(), chair_hours=("08:00", "17:00"), closed=()):
    resources = [
        resource(doctor(1), weekly("08:00", "17:00"), closed=closed),
        resource(chair(1), weekly(*chair_hours)),
        resource(equipment(9), capacity=2, always_available=True),
        *extra,
    ]
    return schedule(SAIGON, resources, list(bookings))


def proposal(start: str, minutes: int = 60, buffer: int = 10, *keys, ignore=None, day=MONDAY):
    begins = local(start, day)
    ends = begins + minutes * MINUTE
    return Proposal(
        interval=Interval(begins, ends),
        blocked_until=ends + buffer * MINUTE,
        resources=frozenset(keys or (doctor(1), chair(1), patient(3))),
        ignore_booking=ignore,
    )


def check(branch, wanted, now=NOW):
    return check_proposal(branch, wanted, now=now, horizon_end=HORIZON)


def test_a_free_time_within_hours_has_no_problems():
    assert check(clinic(), proposal("09:00")) == []


def test_past_and_beyond_the_horizon():
    assert check(clinic(), proposal("09:00"), now=local("09:01")) == [Problem(C.IN_PAST)]
    assert check(clinic(), proposal("09:00", day="2027-03-02")) == [Problem(C.BEYOND_HORIZON)]


def test_unknown_resources_come_after_timing_in_key_order():
    # Keys sort by kind name (assistant, chair, doctor, equipment, patient), then id.
    wanted = proposal("09:00", 60, 10, doctor(4), chair(5), doctor(1), chair(1), doctor(2))
    assert check(clinic(), wanted, now=local("10:00")) == [
        Problem(C.IN_PAST),
        Problem(C.UNKNOWN_RESOURCE, chair(5)),
        Problem(C.UNKNOWN_RESOURCE, doctor(2)),
        Problem(C.UNKNOWN_RESOURCE, doctor(4)),
    ]


def test_the_doctor_may_finish_at_closing_while_the_chair_is_cleaned_after():
    # 16:00-17:00 with cleaning until 17:10: fine for the doctor, not for a chair closing at 17:00.
    assert check(clinic(), proposal("16:00")) == [Problem(C.OUTSIDE_HOURS, chair(1))]
    assert check(clinic(chair_hours=("08:00", "17:10")), proposal("16:00")) == []
    assert check(clinic(), proposal("16:30")) == [
        Problem(C.OUTSIDE_HOURS, chair(1)),
        Problem(C.OUTSIDE_HOURS, doctor(1)),
    ]


def test_leave_is_closed_time_for_the_procedure():
    leave = (Interval(local("12:00"), local("13:00")),)
    assert check(clinic(closed=leave), proposal("11:30")) == [Problem(C.CLOSED, doctor(1))]
    # The doctor's leave may begin during the buffer, as the doctor's hours may end there.
    assert check(clinic(closed=leave), proposal("11:00")) == []


def test_overlap_names_each_booking_in_start_order():
    bookings = [
        booking(21, local("10:00"), 30, 10, doctor(1)),
        booking(20, local("09:15"), 30, 10, chair(1), doctor(2)),
    ]
    assert check(clinic(bookings=bookings), proposal("09:00", 90)) == [
        Problem(C.OVERLAP, chair(1), 20),
        Problem(C.OVERLAP, doctor(1), 21),
    ]
    both = [*bookings, booking(19, local("08:00"), 70, 0, doctor(1))]
    assert check(clinic(bookings=both), proposal("09:00", 90))[1:] == [
        Problem(C.OVERLAP, doctor(1), 19),
        Problem(C.OVERLAP, doctor(1), 21),
    ]


def test_buffers_meeting_are_a_buffer_problem_ours_or_theirs():
    theirs = booking(30, local("08:00"), 60, 10, chair(1), doctor(2))
    assert check(clinic(bookings=[theirs]), proposal("09:00")) == [Problem(C.BUFFER, chair(1), 30)]
    later = booking(31, local("10:05"), 30, 0, doctor(1))
    assert check(clinic(bookings=[later]), proposal("09:00")) == [Problem(C.BUFFER, doctor(1), 31)]
    # Touching is fine.
    assert check(clinic(bookings=[theirs]), proposal("09:10")) == []


def test_overlaps_come_before_buffers_on_a_resource():
    bookings = [
        booking(40, local("08:00"), 60, 10, chair(1), doctor(2)),
        booking(41, local("09:30"), 30, 10, chair(1), doctor(2)),
    ]
    assert check(clinic(bookings=bookings), proposal("09:05")) == [
        Problem(C.OVERLAP, chair(1), 41),
        Problem(C.BUFFER, chair(1), 40),
    ]


def test_the_patient_is_held_only_during_procedures():
    elsewhere = booking(50, local("08:00"), 60, 15, patient(3), doctor(2), chair(2))
    assert check(clinic(bookings=[elsewhere]), proposal("09:00")) == []
    assert check(clinic(bookings=[elsewhere]), proposal("08:50")) == [
        Problem(C.OVERLAP, patient(3), 50)
    ]
    next_one = booking(51, local("10:05"), 30, 10, patient(3), doctor(2), chair(2))
    assert check(clinic(bookings=[elsewhere, next_one]), proposal("09:00")) == []


def test_shared_equipment_refuses_only_beyond_its_capacity():
    first = booking(60, local("09:00"), 60, 10, equipment(9), doctor(2), chair(2))
    second = booking(61, local("09:30"), 60, 10, equipment(9), doctor(3), chair(3))
    wanted = proposal("10:00", 60, 10, doctor(1), chair(1), equipment(9))
    assert check(clinic(bookings=[first]), wanted) == []
    assert check(clinic(bookings=[first, second]), wanted) == [Problem(C.CAPACITY, equipment(9))]
    assert check(clinic(bookings=[first, second]), proposal("10:10", 60, 10, equipment(9))) == []


def test_the_booking_being_moved_is_ignored():
    moving = booking(70, local("09:00"), 60, 10, doctor(1), chair(1))
    assert check(clinic(bookings=[moving]), proposal("09:30")) != []
    assert check(clinic(bookings=[moving]), proposal("09:30", ignore=70)) == []


def test_every_reason_at_once_in_order():
    bookings = [booking(80, local("16:00"), 30, 10, doctor(1), chair(1), equipment(9))]
    leave = (Interval(local("16:30"), local("18:00")),)
    wanted = proposal("16:15", 60, 10, doctor(1), chair(1), doctor(8), equipment(9), patient(3))
    assert check(clinic(bookings=bookings, closed=leave), wanted, now=local("17:00")) == [
        Problem(C.IN_PAST),
        Problem(C.UNKNOWN_RESOURCE, doctor(8)),
        Problem(C.OUTSIDE_HOURS, chair(1)),
        Problem(C.OVERLAP, chair(1), 80),
        Problem(C.OUTSIDE_HOURS, doctor(1)),
        Problem(C.CLOSED, doctor(1)),
        Problem(C.OVERLAP, doctor(1), 80),
    ]


def test_a_buffer_ending_before_the_procedure_is_refused():
    broken = Proposal(
        interval=Interval(local("09:00"), local("10:00")),
        blocked_until=local("09:50"),
        resources=frozenset({doctor(1)}),
    )
    with pytest.raises(ValueError, match="blocked_until"):
        check(clinic(), broken)


def test_patients_are_known_without_being_listed():
    assert check(clinic(), proposal("09:00", 60, 0, patient(12345), doctor(1), chair(1))) == []
