"""The flags on appointments whose case is not back (the contract with the front desk's
meetings), the unready appointments of a window, overdue cases per lab, the case list."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chairtime.labs.selectors import (
    CaseFilters,
    CaseFlag,
    flags_for_appointments,
    list_cases,
    overdue_per_lab,
    unready_appointments,
)
from tests.factories import PatientFactory

from .helpers import TODAY, appointment, local, make_case, make_lab

pytestmark = pytest.mark.django_db


@pytest.fixture
def labs(world):
    return make_lab(world.acme, "Smile Lab"), make_lab(world.acme, "Bright Lab")


def test_flags_say_what_is_back_and_what_is_late_in_one_query(world, labs):
    smile, bright = labs
    patient = PatientFactory(home_branch=world.branch_a)
    first = appointment(world.branch_a, patient, local(TODAY, 9))
    second = appointment(world.branch_a, patient, local(TODAY, 11))
    bare = appointment(world.branch_a, patient, local(TODAY, 14))
    late = make_case(
        world.branch_a, patient, smile, status="sent", due_on=date(2030, 3, 4), appointment=first
    )
    back = make_case(
        world.branch_a,
        patient,
        bright,
        status="received",
        due_on=date(2030, 3, 1),
        appointment=first,
    )
    make_case(world.branch_a, patient, smile, status="cancelled", appointment=first)
    due = make_case(
        world.branch_a,
        patient,
        bright,
        status="ordered",
        kind="aligner",
        due_on=TODAY,
        appointment=second,
    )

    with CaptureQueriesContext(connection) as queries:
        flags = flags_for_appointments([first.pk, second.pk, bare.pk], today=TODAY)

    assert len(queries) == 1
    assert flags == {
        first.pk: [
            CaseFlag(
                back.pk,
                "Bright Lab",
                "Crown",
                "received",
                "Received",
                date(2030, 3, 1),
                True,
                False,
            ),
            CaseFlag(
                late.pk,
                "Smile Lab",
                "Crown",
                "sent",
                "Sent to the lab",
                date(2030, 3, 4),
                False,
                True,
            ),
        ],
        second.pk: [
            CaseFlag(due.pk, "Bright Lab", "Aligner", "ordered", "Ordered", TODAY, False, False)
        ],
    }
    assert flags_for_appointments([], today=TODAY) == {}


def test_unready_appointments_are_those_of_the_window_with_a_case_not_back(world, labs):
    smile, _bright = labs
    patient = PatientFactory(home_branch=world.branch_a)
    waiting = appointment(world.branch_a, patient, local(TODAY + timedelta(days=1), 9))
    ready = appointment(world.branch_a, patient, local(TODAY + timedelta(days=1), 10))
    cancelled = appointment(
        world.branch_a, patient, local(TODAY + timedelta(days=1), 11), status="cancelled"
    )
    later = appointment(world.branch_a, patient, local(TODAY + timedelta(days=5), 9))
    other_branch = appointment(
        world.branch_b,
        PatientFactory(home_branch=world.branch_b),
        local(TODAY + timedelta(days=1), 9),
    )
    for visit in (waiting, cancelled, later, other_branch):
        make_case(visit.branch, visit.patient, smile, status="sent", appointment=visit)
    make_case(world.branch_a, patient, smile, status="quality_checked", appointment=ready)
    make_case(world.branch_a, patient, smile, status="quality_checked", appointment=waiting)

    found = unready_appointments(
        world.branch_a, start=local(TODAY), end=local(TODAY + timedelta(days=3)), today=TODAY
    )

    assert [(a.pk, [f.is_back for f in flags]) for a, flags in found] == [
        (waiting.pk, [False, True])
    ]


def test_overdue_per_lab_counts_and_lists_the_branchs_late_cases(world, labs):
    smile, bright = labs
    patient = PatientFactory(home_branch=world.branch_a)
    old = make_case(world.branch_a, patient, smile, status="sent", due_on=date(2030, 2, 20))
    newer = make_case(world.branch_a, patient, smile, status="returned", due_on=date(2030, 3, 4))
    make_case(world.branch_a, patient, smile, status="sent", due_on=TODAY)  # due today: not late
    make_case(world.branch_a, patient, smile, status="received", due_on=date(2030, 3, 1))  # back
    make_case(world.branch_b, patient, bright, status="sent", due_on=date(2030, 3, 1))  # elsewhere
    only = make_case(world.branch_a, patient, bright, status="ordered", due_on=date(2030, 3, 1))

    rows = overdue_per_lab(branch=world.branch_a, today=TODAY)

    assert [(r.lab.name, r.count, [c.pk for c in r.cases]) for r in rows] == [
        ("Smile Lab", 2, [old.pk, newer.pk]),
        ("Bright Lab", 1, [only.pk]),
    ]


def test_case_list_filters_by_status_lab_and_overdue(world, labs):
    smile, bright = labs
    patient = PatientFactory(home_branch=world.branch_a)
    late = make_case(world.branch_a, patient, smile, status="sent", due_on=date(2030, 3, 1))
    soon = make_case(world.branch_a, patient, bright, status="sent", due_on=date(2030, 3, 9))
    back = make_case(world.branch_a, patient, smile, status="received", due_on=date(2030, 3, 2))
    make_case(world.branch_b, patient, smile, status="sent", due_on=date(2030, 3, 1))

    def ids(**filters):
        return [
            c.pk
            for c in list_cases(branch=world.branch_a, filters=CaseFilters(**filters), today=TODAY)
        ]

    assert ids() == [late.pk, back.pk, soon.pk]
    assert ids(status="sent") == [late.pk, soon.pk]
    assert ids(lab_id=bright.pk) == [soon.pk]
    assert ids(is_overdue=True) == [late.pk]
