"""The simulated front desk (issue 7): a daily production goal per branch, the frozen
scheduled production of the past weeks, and a no-show fee rule switched on in some
branches. Plain rows (ADR 5): no audit events, no services.

A past day's snapshot is what the book held at 06:00 that day: appointments booked by
then that were not yet released (no-shows count: they were still expected; a
cancellation counts when it came after 06:00), priced as the selectors price them (the
linked plan items, else the branch's price).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Protocol

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chairtime.core.money import ZERO, quantize
from chairtime.frontdesk.models import DEFAULT_FREEZE_AT, DailyGoal, DaySnapshot, NoShowFeeRule
from chairtime.frontdesk.selectors import expected_fee
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.scheduling.selectors import day_bounds
from chairtime.tenancy.models import Branch, Organization

SNAPSHOT_DAYS = 30  # past days frozen
FEE_RULE_SHARE = 0.4  # branches charging a no-show fee
GOAL_STRETCH = Decimal("1.15")  # the goal: 15% above the average booked day


class _Config(Protocol):  # the field of generator.SimulationConfig used here
    @property
    def seed(self) -> int: ...


@dataclass
class FrontDeskResult:
    goals: int = 0
    snapshots: int = 0
    fee_rules: int = 0  # enabled
    seconds: float = 0.0


def _frozen_days(branch: Branch, today: date) -> dict[date, tuple[Decimal, int, datetime]]:
    """Each past day's production and count as the book held it at the freeze time."""
    first = today - timedelta(days=SNAPSHOT_DAYS)
    start, end = day_bounds(branch, first).start, day_bounds(branch, today).start
    rows = (
        Appointment.objects.filter(branch=branch, starts_at__gte=start, starts_at__lt=end)
        .filter(
            ~Q(status=AppointmentStatus.CANCELLED) | Q(cancelled_at__isnull=True)
            | Q(cancelled_at__gte=start)
        )
        .annotate(fee=expected_fee())
        .values_list("starts_at", "created_at", "status", "cancelled_at", "fee")
    )  # fmt: skip
    days: dict[date, tuple[Decimal, int, datetime]] = {}
    for starts_at, created_at, status, cancelled_at, fee in rows:
        day = timezone.localdate(starts_at, branch.zone)
        frozen_at = datetime.combine(day, DEFAULT_FREEZE_AT, tzinfo=branch.zone)
        if created_at > frozen_at:
            continue
        if status == AppointmentStatus.CANCELLED and (
            cancelled_at is None or cancelled_at <= frozen_at
        ):
            continue
        total, count, _at = days.get(day, (ZERO, 0, frozen_at))
        days[day] = (total + fee, count + 1, frozen_at)
    return days


def _goal(branch: Branch, days: dict[date, tuple[Decimal, int, datetime]]) -> Decimal:
    """15% above the average frozen day, rounded up to a round figure of the currency."""
    if not days:
        return ZERO
    average = sum((total for total, _count, _at in days.values()), ZERO) / len(days)
    step = Decimal("100000") if branch.currency in {"VND", "KRW", "IDR"} else Decimal("100")
    return quantize((average * GOAL_STRETCH / step).to_integral_value(ROUND_CEILING) * step,
                    branch.currency)  # fmt: skip


def simulate_frontdesk(
    config: _Config, organization: Organization, branches: Sequence[Branch],
    rng: random.Random, now: datetime,
) -> FrontDeskResult:  # fmt: skip
    """Goals, the past weeks' snapshots and fee rules of an organisation whose book and
    money are made."""
    started = time.perf_counter()
    result = FrontDeskResult()
    with transaction.atomic():
        for branch in branches:
            today = timezone.localdate(now, branch.zone)
            days = _frozen_days(branch, today)
            goal = _goal(branch, days)
            DailyGoal.objects.update_or_create(branch=branch, defaults={"amount": goal})
            result.goals += 1
            DaySnapshot.objects.filter(branch=branch, day__in=list(days)).delete()
            DaySnapshot.objects.bulk_create(
                DaySnapshot(
                    branch=branch, day=day, frozen_at=frozen_at, currency=branch.currency,
                    scheduled_production=total, appointment_count=count, goal=goal,
                )
                for day, (total, count, frozen_at) in sorted(days.items())
            )  # fmt: skip
            result.snapshots += len(days)
            if rng.random() < FEE_RULE_SHARE:
                fee = goal / 100 if goal else Decimal("10")
                NoShowFeeRule.objects.update_or_create(
                    branch=branch,
                    defaults={"is_enabled": True, "amount": quantize(fee, branch.currency),
                              "from_count": rng.choice((1, 2, 2, 3))},
                )  # fmt: skip
                result.fee_rules += 1
    result.seconds = time.perf_counter() - started
    return result
