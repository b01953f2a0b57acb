"""Writes of the front desk (ADR 14): the daily goal and the no-show fee rule, the day's
frozen production, and charging a no-show fee. Each audits in its own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.billing.services import charge_fee
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.core.money import parse_amount
from chairtime.frontdesk.models import (
    DEFAULT_FREEZE_AT,
    DailyGoal,
    DaySnapshot,
    NoShowFee,
    NoShowFeeRule,
)
from chairtime.frontdesk.selectors import (
    compute_scheduled_production,
    count_no_shows_in_year,
    fee_applies,
    today_of,
)
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

MAX_FROM_COUNT = 50


def _require(actor: User, branch: Branch, capability: Capability) -> None:
    """Forbidden looks like missing."""
    if not get_branch_access(actor, branch.pk).can(capability):
        raise NotFound


# --- the branch's rules -------------------------------------------------------------------
@transaction.atomic
def set_daily_goal(
    *, actor: User, branch: Branch, amount: Decimal | str, freeze_at: time | None = None
) -> DailyGoal:
    """Set the branch's production goal per day (branch currency; 0 means no goal) and the
    local time its day's production is frozen. Needs desk.configure."""
    _require(actor, branch, Capability.DESK_CONFIGURE)
    value = parse_amount(amount, branch.currency, "amount", allow_zero=True)
    goal = DailyGoal.objects.select_for_update().filter(branch=branch).first()
    before = {"amount": goal.amount, "freeze_at": goal.freeze_at} if goal else {}
    if goal is None:
        goal = DailyGoal(branch=branch)
    goal.amount = value
    goal.freeze_at = freeze_at or goal.freeze_at or DEFAULT_FREEZE_AT
    goal.updated_by = actor
    goal.save()
    record_event(
        actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, target=goal,
        branch_id=branch.pk, organization_id=branch.organization_id,
        summary=f"daily goal {value} {branch.currency}",
        changes=diff(before, {"amount": goal.amount, "freeze_at": goal.freeze_at}),
    )  # fmt: skip
    return goal


@transaction.atomic
def set_no_show_fee_rule(
    *,
    actor: User,
    branch: Branch,
    is_enabled: bool,
    amount: Decimal | str,
    from_count: int,
) -> NoShowFeeRule:
    """Set whether the branch charges a no-show fee, how much, and from which no-show in
    twelve months. Needs desk.configure."""
    _require(actor, branch, Capability.DESK_CONFIGURE)
    value = parse_amount(amount, branch.currency, "amount", allow_zero=not is_enabled)
    if not 1 <= from_count <= MAX_FROM_COUNT:
        raise InvalidInput.on(
            "from_count",
            _("Give a number from 1 to %(most)s.") % {"most": MAX_FROM_COUNT},
        )
    rule = NoShowFeeRule.objects.select_for_update().filter(branch=branch).first()
    fields = ("is_enabled", "amount", "from_count")
    before = {name: getattr(rule, name) for name in fields} if rule else {}
    rule = rule or NoShowFeeRule(branch=branch)
    rule.is_enabled, rule.amount, rule.from_count = is_enabled, value, from_count
    rule.updated_by = actor
    rule.save()
    record_event(
        actor=actor, action=AuditAction.UPDATE if before else AuditAction.CREATE, target=rule,
        branch_id=branch.pk, organization_id=branch.organization_id,
        summary=f"no-show fee {'on' if is_enabled else 'off'} {value} {branch.currency}",
        changes=diff(before, {name: getattr(rule, name) for name in fields}),
    )  # fmt: skip
    return rule


# --- frozen production --------------------------------------------------------------------
def freeze_day(*, branch: Branch, day: date, now: datetime | None = None) -> DaySnapshot:
    """The branch-day's snapshot, made now if missing. Made once: a second call (or a
    concurrent one: the unique constraint decides) returns the first, never recomputed."""
    existing = DaySnapshot.objects.filter(branch=branch, day=day).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    production, count = compute_scheduled_production(branch=branch, day=day)
    goal = DailyGoal.objects.filter(branch=branch).values_list("amount", flat=True).first()
    try:
        with transaction.atomic():
            snapshot = DaySnapshot.objects.create(
                branch=branch, day=day, frozen_at=now, currency=branch.currency,
                scheduled_production=production, appointment_count=count, goal=goal,
            )  # fmt: skip
            record_event(
                actor=None, action=AuditAction.CREATE, target=snapshot, branch_id=branch.pk,
                organization_id=branch.organization_id,
                summary=f"{day.isoformat()} frozen: {production} {branch.currency}, {count}",
            )  # fmt: skip
    except IntegrityError:  # frozen meanwhile by another worker or request
        return DaySnapshot.objects.get(branch=branch, day=day)
    return snapshot


@dataclass(frozen=True)
class FreezeRun:
    branches: int
    frozen: int


def freeze_due_days(*, now: datetime | None = None) -> FreezeRun:
    """Freeze today's production for every active branch whose local time has passed its
    freeze time (06:00 by default) and has no snapshot for today yet."""
    now = now or timezone.now()
    freeze_times = dict(DailyGoal.objects.values_list("branch_id", "freeze_at"))
    frozen = 0
    branches = list(Branch.objects.filter(is_active=True).order_by("pk"))
    for branch in branches:
        local = timezone.localtime(now, branch.zone)
        if local.time() < freeze_times.get(branch.pk, DEFAULT_FREEZE_AT):
            continue
        if DaySnapshot.objects.filter(branch=branch, day=local.date()).exists():
            continue
        freeze_day(branch=branch, day=local.date(), now=now)
        frozen += 1
    return FreezeRun(branches=len(branches), frozen=frozen)


# --- no-show fees ---------------------------------------------------------------------------
@transaction.atomic
def charge_no_show_fee(
    *, actor: User, appointment: Appointment, now: datetime | None = None
) -> NoShowFee:
    """Bill the branch's no-show fee for a missed appointment, once: an invoice issued
    today (the fee is charged now, so a missed day in a closed period can still be billed
    without writing into it), its line naming the missed day, linked to the appointment.
    Needs money.collect. A second charge is refused (409), even at once: the database holds
    one fee per appointment."""
    now = now or timezone.now()
    branch = appointment.branch
    _require(actor, branch, Capability.MONEY_COLLECT)
    if NoShowFee.objects.filter(appointment=appointment).exists():
        raise Conflict.on("appointment", _("The fee for this appointment was already charged."))
    rule = NoShowFeeRule.objects.filter(branch=branch).first()
    if not fee_applies(rule, appointment, count_no_shows_in_year(appointment)):
        raise InvalidInput.on(
            "appointment", _("The branch's no-show fee rule does not apply to this appointment.")
        )
    assert rule is not None
    day = today_of(branch, appointment.starts_at)
    invoice = charge_fee(
        actor=actor, branch=branch, patient=appointment.patient, amount=rule.amount,
        description=_("No-show fee: %(procedure)s on %(day)s")
        % {"procedure": appointment.procedure.localized_name(), "day": day.isoformat()},
        issued_on=None, now=now,
    )  # fmt: skip
    try:
        with transaction.atomic():
            fee = NoShowFee.objects.create(
                appointment=appointment, invoice=invoice, amount=rule.amount, charged_at=now,
                charged_by=actor,
            )  # fmt: skip
    except IntegrityError:  # charged meanwhile: the outer transaction drops this invoice
        raise Conflict.on(
            "appointment", _("The fee for this appointment was already charged.")
        ) from None
    record_event(
        actor=actor, action=AuditAction.CREATE, target=fee, branch_id=branch.pk,
        organization_id=branch.organization_id, patient_id=appointment.patient_id,
        summary=f"no-show fee {invoice.number} {rule.amount} {branch.currency}",
        changes={"appointment": (None, appointment.pk), "invoice": (None, invoice.number)},
    )  # fmt: skip
    return fee
