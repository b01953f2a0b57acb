"""Reads of the procedure catalogue, treatment plans, production and the product ladder.

The lists a clinic runs on every day (unscheduled treatment, the ladder report) are built
from a fixed handful of queries whatever the number of patients: aggregates and
annotations in the database, related rows prefetched, never a query per row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DateField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncMonth

from chairtime.clinical.models import (
    OPEN_PLAN_STATUSES,
    ItemStatus,
    LadderStep,
    LadderTier,
    OptionStatus,
    Procedure,
    ProcedurePrice,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.tenancy.models import Branch

ZERO = Decimal("0")


def unscheduled_items(prefix: str = "") -> Q:
    """Items still to book: planned, or booked on an appointment that was then cancelled or
    missed. `prefix` reaches the item from another model ("items__" from an option)."""
    return Q(**{f"{prefix}status": ItemStatus.PLANNED}) | Q(
        **{
            f"{prefix}status": ItemStatus.SCHEDULED,
            f"{prefix}appointment__status__in": RELEASED_STATUSES,
        }
    )


def list_procedures(*, branch: Branch) -> QuerySet[Procedure]:
    """The organisation's catalogue with this branch's price and cost beside each entry."""
    prices = ProcedurePrice.objects.filter(branch=branch, procedure=OuterRef("pk"))
    return Procedure.objects.filter(organization_id=branch.organization_id).annotate(
        branch_price=Subquery(prices.values("price")[:1]),
        branch_cost=Subquery(prices.values("standard_cost")[:1]),
    )


# --- plans --------------------------------------------------------------------------------
def _with_options(plans: QuerySet[TreatmentPlan]) -> QuerySet[TreatmentPlan]:
    items = TreatmentItem.objects.select_related("procedure", "appointment")
    options = TreatmentOption.objects.prefetch_related(Prefetch("items", queryset=items))
    return plans.select_related(
        "doctor", "consultant", "verbal_witness", "branch", "patient"
    ).prefetch_related(Prefetch("options", queryset=options))


def list_patient_plans(*, patient: Patient, branch: Branch) -> QuerySet[TreatmentPlan]:
    """The patient's plans made in this branch, newest first, with their options and items
    (three queries in all; `summarize_plan` reads them without another)."""
    return _with_options(TreatmentPlan.objects.filter(patient=patient, branch=branch))


@dataclass(frozen=True)
class PhaseSummary:
    """The items of one phase of an option (phase 1 first), and what they come to."""

    phase: int
    items: list[TreatmentItem]
    total: Decimal


@dataclass(frozen=True)
class OptionSummary:
    """One option's figures. Cancelled items are listed but count in no total.

    `subtotal` is quantity x unit price, `discount` the sum of discounts, `total` what the
    patient pays; `scheduled_value` is booked and waiting, `completed_value` done, and
    `unscheduled_value` the rest (still to book)."""

    option: TreatmentOption
    phases: list[PhaseSummary]
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    scheduled_value: Decimal
    completed_value: Decimal
    unscheduled_value: Decimal


@dataclass(frozen=True)
class PlanSummary:
    """A plan with its options side by side, in their order."""

    plan: TreatmentPlan
    options: list[OptionSummary]
    currency: str

    @property
    def accepted(self) -> OptionSummary | None:
        return next((o for o in self.options if o.option.status == OptionStatus.ACCEPTED), None)


def get_plan_summary(*, plan: TreatmentPlan) -> PlanSummary:
    """The plan's options side by side, with phases, totals and progress (three queries)."""
    return summarize_plan(_with_options(TreatmentPlan.objects.filter(pk=plan.pk)).get())


def list_plan_summaries(*, patient: Patient, branch: Branch) -> list[PlanSummary]:
    """Every plan of the patient made in this branch, newest first, summarised: the three
    queries of `list_patient_plans` whatever the number of plans, options and items."""
    return [summarize_plan(plan) for plan in list_patient_plans(patient=patient, branch=branch)]


def summarize_plan(plan: TreatmentPlan) -> PlanSummary:
    """The summary of a plan read with `list_patient_plans` (its options prefetched)."""
    return PlanSummary(
        plan=plan,
        options=[_option_summary(option) for option in plan.options.all()],
        currency=plan.branch.currency,
    )


def _option_summary(option: TreatmentOption) -> OptionSummary:
    items = list(option.items.all())
    live = [item for item in items if item.status != ItemStatus.CANCELLED]
    phases: dict[int, list[TreatmentItem]] = defaultdict(list)
    for item in items:
        phases[item.phase].append(item)

    def value(wanted: list[TreatmentItem]) -> Decimal:
        return sum((item.amount for item in wanted), ZERO)

    scheduled = [
        item
        for item in live
        if item.status == ItemStatus.SCHEDULED
        and item.appointment is not None
        and item.appointment.status not in RELEASED_STATUSES
    ]
    completed = [item for item in live if item.status == ItemStatus.COMPLETED]
    total = value(live)
    return OptionSummary(
        option=option,
        phases=[
            PhaseSummary(
                phase=phase,
                items=phase_items,
                total=value([i for i in phase_items if i.status != ItemStatus.CANCELLED]),
            )
            for phase, phase_items in sorted(phases.items())
        ],
        subtotal=sum((item.quantity * item.unit_price for item in live), ZERO),
        discount=sum((item.discount for item in live), ZERO),
        total=total,
        scheduled_value=value(scheduled),
        completed_value=value(completed),
        unscheduled_value=total - value(scheduled) - value(completed),
    )


# --- unscheduled treatment ------------------------------------------------------------------
@dataclass(frozen=True)
class UnscheduledRow:
    """An accepted option with procedures still to book: who, which plan, what is left."""

    patient: Patient
    plan: TreatmentPlan
    option: TreatmentOption
    items: list[TreatmentItem]
    value: Decimal
    accepted_at: datetime
    age_days: int


@dataclass(frozen=True)
class UnscheduledList:
    """Rows by value (largest first); `count` and `total_value` cover every matching row,
    also those beyond `limit`."""

    rows: list[UnscheduledRow]
    count: int
    total_value: Decimal


def _local_midnight(branch: Branch, day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=branch.zone)


def list_unscheduled_treatment(
    *,
    branch: Branch,
    today: date,
    doctor_id: int | None = None,
    min_value: Decimal | None = None,
    min_age_days: int | None = None,
    max_age_days: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> UnscheduledList:
    """Accepted treatment not yet booked in this branch: per accepted option of an accepted
    or in-progress plan, its items still to book and their value. Age is days since the
    acceptance (the branch's local dates). Three queries, whatever the size."""
    options = TreatmentOption.objects.filter(
        status=OptionStatus.ACCEPTED, plan__branch=branch, plan__status__in=OPEN_PLAN_STATUSES
    )
    if doctor_id is not None:
        options = options.filter(plan__doctor_id=doctor_id)
    if min_age_days is not None:  # accepted on or before today - min_age_days
        cutoff = _local_midnight(branch, today - timedelta(days=min_age_days - 1))
        options = options.filter(plan__accepted_at__lt=cutoff)
    if max_age_days is not None:  # accepted on or after today - max_age_days
        options = options.filter(
            plan__accepted_at__gte=_local_midnight(branch, today - timedelta(days=max_age_days))
        )
    todo = unscheduled_items("items__")
    options = options.annotate(
        value=Sum("items__amount", filter=todo), waiting=Count("items", filter=todo)
    ).filter(waiting__gt=0)
    if min_value is not None:
        options = options.filter(value__gte=min_value)
    totals = options.aggregate(count=Count("pk"), total=Sum("value"))
    page = (
        options.select_related("plan__patient", "plan__doctor")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=TreatmentItem.objects.filter(unscheduled_items())
                .select_related("procedure")
                .order_by("phase", "position", "pk"),
                to_attr="waiting_items",
            )
        )
        .order_by("-value", "plan__accepted_at", "pk")
    )
    page = page[offset : offset + limit] if limit is not None else page[offset:]
    return UnscheduledList(
        rows=[_unscheduled_row(branch, today, option) for option in page],
        count=totals["count"] or 0,
        total_value=totals["total"] or ZERO,
    )


def _unscheduled_row(branch: Branch, today: date, option: TreatmentOption) -> UnscheduledRow:
    plan = option.plan
    accepted_at = plan.accepted_at
    assert accepted_at is not None  # an accepted plan has its acceptance time
    accepted_on = accepted_at.astimezone(branch.zone).date()
    return UnscheduledRow(
        patient=plan.patient,
        plan=plan,
        option=option,
        items=list(option.waiting_items),  # type: ignore[attr-defined]
        value=option.value,  # type: ignore[attr-defined]
        accepted_at=accepted_at,
        age_days=(today - accepted_on).days,
    )


# --- the product ladder -----------------------------------------------------------------------
def get_patient_ladder(*, patient: Patient) -> tuple[LadderStep | None, list[LadderStep]]:
    """The patient's highest tier so far (None before any) and the steps up, lowest first."""
    steps = list(LadderStep.objects.filter(patient=patient).select_related("branch"))
    return (steps[-1] if steps else None), steps


@dataclass(frozen=True)
class LadderMove:
    """How many patients moved from one tier (blank: their first) to a higher one in a
    month (its first day, in the branch's calendar)."""

    month: date
    from_tier: str
    to_tier: str
    patients: int


@dataclass(frozen=True)
class LadderReport:
    """Moves up the ladder in the branch between two local dates (inclusive), and its home
    patients by highest tier at the end date (`""`: none yet), in ladder order."""

    start: date
    end: date
    moves: list[LadderMove]
    tiers: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total_moves(self) -> int:
        return sum(move.patients for move in self.moves)


def get_ladder_report(*, branch: Branch, start: date, end: date) -> LadderReport:
    """Two grouped queries: moves per month, and patients per highest tier."""
    start_at = _local_midnight(branch, start)
    end_at = _local_midnight(branch, end + timedelta(days=1))
    moves = (
        LadderStep.objects.filter(branch=branch, reached_at__gte=start_at, reached_at__lt=end_at)
        .annotate(month=TruncMonth("reached_at", output_field=DateField(), tzinfo=branch.zone))
        .values("month", "previous_tier", "tier")
        .annotate(patients=Count("pk"))
        .order_by("month", "rank", "previous_tier")
    )
    highest = (
        LadderStep.objects.filter(patient=OuterRef("pk"), reached_at__lt=end_at)
        .order_by("-rank")
        .values("tier")[:1]
    )
    counts = dict(
        Patient.objects.filter(home_branch=branch)
        .annotate(top=Subquery(highest))
        .values("top")
        .annotate(patients=Count("pk"))
        .order_by()
        .values_list("top", "patients")
    )
    return LadderReport(
        start=start,
        end=end,
        moves=[
            LadderMove(
                month=row["month"],
                from_tier=row["previous_tier"],
                to_tier=row["tier"],
                patients=row["patients"],
            )
            for row in moves
        ],
        tiers=[(tier, counts.get(tier or None, 0)) for tier in ["", *LadderTier.values]],
    )
