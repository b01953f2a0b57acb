"""The simulator's lab step: labs with their turnarounds, a case for each appointment that
needs one, most back on time, about one in ten late, a few remakes, and every status
consistent with the simulated now (past visits had their work back)."""

from __future__ import annotations

import random
from datetime import date

import pytest

from chairtime.labs.choices import BACK_STATUSES, LabCaseStatus
from chairtime.labs.models import Lab, LabCase
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.scheduling.models import Appointment
from chairtime.simulation.care import simulated_now
from chairtime.simulation.generator import SimulationConfig
from chairtime.simulation.labs import simulate_labs
from chairtime.simulation.tests.conftest import simulated_once

pytestmark = pytest.mark.django_db

LABS = SimulationConfig(
    seed=7, slug="labs", organization_name="Lab Dental", countries=("VN",), branches=1,
    patients=600, min_chairs=4, max_chairs=4, batch_size=300, as_of=date(2026, 11, 1),
    history_days=120, future_days=21, front_desk=False,  # the tests run the step themselves
)  # fmt: skip
made_once = simulated_once(LABS)


@pytest.fixture
def simulated(made_once):  # type: ignore[no-untyped-def]
    made = made_once
    now = simulated_now(LABS, made.branches[0])
    return made, simulate_labs(LABS, made.organization, made.branches, random.Random(7), now), now


def test_labs_publish_turnarounds_of_five_to_ten_days(simulated):
    made, result, _now = simulated
    labs = list(Lab.objects.filter(organization=made.organization))

    assert result.labs == len(labs) in (2, 3)
    assert all(5 <= lab.default_turnaround_days <= 10 for lab in labs)


def test_every_appointment_needing_lab_work_has_one_case(simulated):
    made, result, _now = simulated
    needing = Appointment.objects.filter(
        branch__organization=made.organization, procedure__needs_lab_case=True
    ).exclude(status__in=RELEASED_STATUSES)

    assert result.cases == LabCase.objects.count() == needing.count() > 50
    assert set(LabCase.objects.values_list("appointment_id", flat=True)) == set(
        needing.values_list("pk", flat=True)
    )


def test_most_come_back_on_time_about_one_in_ten_late_a_few_remade(simulated):
    _made, result, _now = simulated

    assert 0.03 <= result.late / result.cases <= 0.2
    assert result.remakes == LabCase.objects.filter(remake_count=1).count()
    assert result.back == LabCase.objects.filter(status__in=BACK_STATUSES).count() > result.pending
    assert result.pending == LabCase.objects.exclude(status__in=BACK_STATUSES).count() > 0


def test_statuses_follow_the_simulated_now(simulated):
    _made, _result, now = simulated
    for case in LabCase.objects.select_related("appointment"):
        assert case.appointment is not None
        assert case.ordered_at <= now
        steps = [
            t for t in (case.sent_at, case.received_at, case.checked_at, case.returned_at) if t
        ]
        assert all(case.ordered_at < t <= now for t in steps)
        if case.appointment.starts_at <= now:  # the visit happened: its work was back
            assert case.status in BACK_STATUSES, case.pk
            assert case.received_at is not None and case.received_at < case.appointment.starts_at
        if case.status == LabCaseStatus.ORDERED:
            assert case.sent_at is None
        assert case.due_on is not None and case.due_on >= case.ordered_at.date()
