"""The front desk's rules and the day's frozen figures (ADR 14): a branch's daily goal,
its no-show fee rule, the scheduled production frozen at the start of each day, and the
no-show fees charged."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.models import Branch

DEFAULT_FREEZE_AT = time(6, 0)


class DailyGoal(TimeStampedModel):
    """A branch's production goal per day, in the branch's currency, and the local time at
    which the day's scheduled production is frozen (06:00 unless changed)."""

    branch = models.OneToOneField(Branch, on_delete=models.CASCADE, related_name="daily_goal")
    amount = models.DecimalField(_("production goal per day"), max_digits=14, decimal_places=2)
    freeze_at = models.TimeField(_("freeze the day's production at"), default=DEFAULT_FREEZE_AT)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="daily_goal_amount_min"),
        ]

    def __str__(self) -> str:
        return f"{self.branch_id}: {self.amount}"


class DaySnapshot(models.Model):
    """A branch-day's scheduled production frozen once, at the start of the day: the
    expected fee of the appointments booked then (the linked plan items' amounts, else the
    branch's procedure price) and how many there were. Never recomputed."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="day_snapshots")
    day = models.DateField(_("day"))
    frozen_at = models.DateTimeField(_("frozen at"))
    currency = models.CharField(_("currency"), max_length=3)
    scheduled_production = models.DecimalField(
        _("scheduled production"), max_digits=14, decimal_places=2
    )
    appointment_count = models.PositiveIntegerField(_("appointments"))
    goal = models.DecimalField(
        _("goal"), max_digits=14, decimal_places=2, null=True, blank=True
    )  # the daily goal when frozen: a later change of goal does not rewrite the past

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["branch", "day"], name="day_snapshot_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.branch_id} {self.day}: {self.scheduled_production}"


class NoShowFeeRule(TimeStampedModel):
    """Whether a branch charges a fee for a missed appointment: the amount, and from which
    no-show in twelve months it applies (1 = every no-show)."""

    branch = models.OneToOneField(Branch, on_delete=models.CASCADE, related_name="no_show_fee_rule")
    is_enabled = models.BooleanField(_("charge a no-show fee"), default=False)
    amount = models.DecimalField(_("fee"), max_digits=14, decimal_places=2, default=Decimal("0"))
    from_count = models.PositiveSmallIntegerField(
        _("from the no-show number (in 12 months)"), default=1
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="no_show_fee_amount_min"),
            models.CheckConstraint(condition=Q(from_count__gte=1), name="no_show_fee_from_min"),
        ]

    def __str__(self) -> str:
        return f"{self.branch_id}: {self.amount} from #{self.from_count}"


class NoShowFee(models.Model):
    """The fee charged for one missed appointment: at most one per appointment (the
    database refuses a second), with the invoice that bills it."""

    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="no_show_fee"
    )
    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("fee"), max_digits=14, decimal_places=2)
    charged_at = models.DateTimeField(_("charged at"))
    charged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.appointment_id}: {self.amount}"
