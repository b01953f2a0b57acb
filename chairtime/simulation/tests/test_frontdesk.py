"""The simulator's front desk step: a goal per branch, the past weeks frozen as the book
stood at 06:00 each day, fee rules in some branches; a second run changes nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from django.utils import timezone

from chairtime.frontdesk.models import DailyGoal, DaySnapshot, NoShowFeeRule
from chairtime.scheduling.models import Appointment
from chairtime.simulation.care import simulated_now
from chairtime.simulation.frontdesk import SNAPSHOT_DAYS, simulate_frontdesk
from chairtime.simulation.generator import SimulationConfig
from chairtime.simulation.tests.conftest import simulated_once

pytestmark = pytest.mark.django_db

DESK = SimulationConfig(
    seed=5, slug="desk", organization_name="Desk Dental", countries=("VN", "ES"), branches=3,
    patients=500, min_chairs=3, max_chairs=3, batch_size=300, as_of=date(2026, 11, 1),
    history_days=60, future_days=7, front_desk=False,  # the tests run the step themselves
)  # fmt: skip
desk = simulated_once(DESK)


def test_goals_snapshots_and_fee_rules(desk):
    made = desk
    now = simulated_now(DESK, made.branches[0])

    result = simulate_frontdesk(DESK, made.organization, made.branches, random.Random(5), now)
    again = simulate_frontdesk(DESK, made.organization, made.branches, random.Random(5), now)

    assert result.goals == DailyGoal.objects.count() == 3
    assert all(goal.amount > 0 for goal in DailyGoal.objects.all())
    assert result.snapshots == again.snapshots == DaySnapshot.objects.count()
    assert result.fee_rules == NoShowFeeRule.objects.filter(is_enabled=True).count()
    for branch in made.branches:
        today = timezone.localdate(now, branch.zone)
        days = set(DaySnapshot.objects.filter(branch=branch).values_list("day", flat=True))
        assert days <= {today - timedelta(days=n) for n in range(1, SNAPSHOT_DAYS + 1)}
        assert len(days) >= 20  # the branch opens most days


def test_a_past_day_is_frozen_as_the_book_stood_at_six(world):
    from chairtime.frontdesk.tests.helpers import NOW, TODAY, local
    from tests.factories import AppointmentFactory, ChairFactory

    branch = world.branch_a
    day = TODAY - timedelta(days=2)
    chair = ChairFactory(branch=branch)

    def booked(hour: int, *, at: int | None = None, **fields: object) -> None:
        """Booked at `at` o'clock that day, or (None) the day before."""
        row = AppointmentFactory(branch=branch, chair=chair, starts_at=local(day, hour), **fields)
        created = local(day - timedelta(days=1), 12) if at is None else local(day, at)
        Appointment.objects.filter(pk=row.pk).update(created_at=created)

    booked(9)  # booked the day before: counted
    booked(10, status="no_show")  # still expected at 06:00: counted
    booked(11, status="cancelled", cancelled_at=local(day, 8))  # cancelled later: counted
    booked(12, status="cancelled", cancelled_at=local(day, 5))  # before 06:00: not
    booked(13, at=10, is_walk_in=True)  # booked at 10:00: not

    simulate_frontdesk(DESK, world.acme, [branch], random.Random(1), NOW)

    snapshot = DaySnapshot.objects.get(branch=branch, day=day)
    assert snapshot.appointment_count == 3
    assert snapshot.frozen_at == local(day, 6)
