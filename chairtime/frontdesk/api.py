"""API of the front desk, in the active branch (X-Branch): the book's version (what the
pages poll), the day's frozen production, the no-shows report, charging a no-show fee,
and the desk's settings (daily goal, fee rule).

Reading needs schedule.view, charging money.collect, the settings desk.configure;
missing and forbidden both answer 404. Amounts are strings in the branch currency.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime, time
from decimal import Decimal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.core.errors import NotFound
from chairtime.core.money import quantize
from chairtime.frontdesk.access import access_missed_appointment
from chairtime.frontdesk.models import DEFAULT_FREEZE_AT
from chairtime.frontdesk.selectors import (
    get_book_version,
    get_daily_goal,
    get_fee_rule,
    get_no_show_report,
    get_snapshot,
    today_of,
)
from chairtime.frontdesk.services import (
    charge_no_show_fee,
    freeze_day,
    set_daily_goal,
    set_no_show_fee_rule,
)
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["front desk"])


def _money(amount: Decimal, currency: str) -> str:
    """An amount with the currency's own decimals: "500000" VND, "12.50" USD."""
    return str(quantize(amount, currency))


class VersionOut(Schema):
    day: date
    version: str


class SnapshotOut(Schema):
    day: date
    frozen_at: datetime
    currency: str
    scheduled_production: str
    appointment_count: int
    goal: str | None


class ReleasedOut(Schema):
    appointment_id: int
    patient_id: int
    status: str
    starts_at: datetime
    cancelled_by: str
    cancel_reason: str
    is_late_cancellation: bool
    appointments: int
    no_shows: int
    late_cancellations: int
    no_shows_in_year: int
    on_time_rate: int | None
    follow_up_task_id: int | None
    fee_invoice: str | None
    fee_due: str | None


class FeeOut(Schema):
    appointment_id: int
    invoice_id: int
    invoice_number: str
    amount: str


class GoalIn(Schema):
    amount: str
    freeze_at: time = DEFAULT_FREEZE_AT


class GoalOut(Schema):
    amount: str | None
    freeze_at: time
    currency: str


class FeeRuleIn(Schema):
    is_enabled: bool
    amount: str = "0"
    from_count: int = 1


class FeeRuleOut(Schema):
    is_enabled: bool
    amount: str
    from_count: int
    currency: str


@router.get("/version", response=VersionOut, summary="The book's version for a day")
def version(request: HttpRequest, day: date | None = None) -> VersionOut:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_VIEW)
    day = day or today_of(access.branch, timezone.now())
    return VersionOut(day=day, version=get_book_version(branch=access.branch, day=day))


@router.get(
    "/production", response=SnapshotOut, summary="A day's scheduled production, frozen",
    description="Today's is frozen on first read if the schedule has not yet; another day "
    "without a snapshot is 404.",
)  # fmt: skip
def production(request: HttpRequest, day: date | None = None) -> SnapshotOut:
    access = api_branch_access(request)
    access.require(Capability.MONEY_VIEW)
    branch = access.branch
    now = timezone.now()
    today = today_of(branch, now)
    day = day or today
    snapshot = freeze_day(branch=branch, day=day, now=now) if day == today else None
    snapshot = snapshot or get_snapshot(branch=branch, day=day)
    if snapshot is None:
        raise NotFound
    return SnapshotOut(
        day=snapshot.day, frozen_at=snapshot.frozen_at, currency=snapshot.currency,
        scheduled_production=_money(snapshot.scheduled_production, snapshot.currency),
        appointment_count=snapshot.appointment_count,
        goal=_money(snapshot.goal, snapshot.currency) if snapshot.goal is not None else None,
    )  # fmt: skip


@router.get("/no-shows", response=list[ReleasedOut], summary="A day's no-shows and cancellations")
def no_shows(request: HttpRequest, day: date | None = None) -> list[ReleasedOut]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_VIEW)
    day = day or today_of(access.branch, timezone.now())
    report = get_no_show_report(branch=access.branch, day=day)
    with_money = access.can(Capability.MONEY_VIEW)
    return [
        ReleasedOut(
            appointment_id=row.appointment.pk, patient_id=row.appointment.patient_id,
            status=row.appointment.status, starts_at=row.appointment.starts_at,
            cancelled_by=row.appointment.cancelled_by,
            cancel_reason=row.appointment.cancel_reason,
            is_late_cancellation=row.appointment.is_late_cancellation,
            appointments=row.record.appointments, no_shows=row.record.no_shows,
            late_cancellations=row.record.late_cancellations,
            no_shows_in_year=row.no_shows_in_year, on_time_rate=row.record.on_time_rate,
            follow_up_task_id=row.follow_up.pk if row.follow_up else None,
            fee_invoice=row.fee.invoice.number if row.fee and with_money else None,
            fee_due=_money(row.fee_due, access.branch.currency) if row.fee_due is not None and with_money else None,
        )
        for row in report.rows
    ]  # fmt: skip


@router.post(
    "/no-shows/{int:appointment_id}/fee", response={201: FeeOut},
    summary="Charge the no-show fee of a missed appointment",
    description="Invoiced today, the line naming the missed day. Once per appointment (409 "
    "the second time); 422 when the branch's rule does not apply or today is in a locked "
    "period.",
)  # fmt: skip
def fee_charge(request: HttpRequest, appointment_id: int) -> Status[FeeOut]:
    access = api_branch_access(request)
    appointment = access_missed_appointment(access, appointment_id)
    fee = charge_no_show_fee(actor=acting_user(request), appointment=appointment)
    return Status(
        201,
        FeeOut(
            appointment_id=appointment.pk, invoice_id=fee.invoice_id,
            invoice_number=fee.invoice.number,
            amount=_money(fee.amount, access.branch.currency),
        ),
    )  # fmt: skip


@router.get("/settings/goal", response=GoalOut, summary="The branch's daily goal")
def goal_detail(request: HttpRequest) -> GoalOut:
    access = api_branch_access(request)
    access.require(Capability.DESK_CONFIGURE)
    goal = get_daily_goal(branch=access.branch)
    return GoalOut(
        amount=_money(goal.amount, access.branch.currency) if goal else None,
        freeze_at=goal.freeze_at if goal else DEFAULT_FREEZE_AT, currency=access.branch.currency,
    )  # fmt: skip


@router.put("/settings/goal", response=GoalOut, summary="Set the branch's daily goal")
def goal_update(request: HttpRequest, payload: GoalIn) -> GoalOut:
    access = api_branch_access(request)
    access.require(Capability.DESK_CONFIGURE)
    goal = set_daily_goal(
        actor=acting_user(request), branch=access.branch, amount=payload.amount,
        freeze_at=payload.freeze_at,
    )  # fmt: skip
    return GoalOut(
        amount=_money(goal.amount, access.branch.currency),
        freeze_at=goal.freeze_at,
        currency=access.branch.currency,
    )


@router.get("/settings/no-show-fee", response=FeeRuleOut, summary="The no-show fee rule")
def fee_rule_detail(request: HttpRequest) -> FeeRuleOut:
    access = api_branch_access(request)
    access.require(Capability.DESK_CONFIGURE)
    rule = get_fee_rule(branch=access.branch)
    return FeeRuleOut(
        is_enabled=rule.is_enabled if rule else False, amount=_money(rule.amount, access.branch.currency) if rule else "0",
        from_count=rule.from_count if rule else 1, currency=access.branch.currency,
    )  # fmt: skip


@router.put("/settings/no-show-fee", response=FeeRuleOut, summary="Set the no-show fee rule")
def fee_rule_update(request: HttpRequest, payload: FeeRuleIn) -> FeeRuleOut:
    access = api_branch_access(request)
    access.require(Capability.DESK_CONFIGURE)
    rule = set_no_show_fee_rule(
        actor=acting_user(request), branch=access.branch, is_enabled=payload.is_enabled,
        amount=payload.amount, from_count=payload.from_count,
    )  # fmt: skip
    return FeeRuleOut(
        is_enabled=rule.is_enabled, amount=_money(rule.amount, access.branch.currency), from_count=rule.from_count,
        currency=access.branch.currency,
    )  # fmt: skip
