"""API for treatment plans, completing visits (production) and the product ladder.

The services decide; these endpoints parse, resolve ids through the active branch (the
X-Branch header), check the capability and call one service or selector. Plans of another
branch, like missing ones, are 404. Amounts are decimal strings in the branch's currency;
instants are answered in the branch's time zone.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.accounts.models import User
from chairtime.clinical.access import access_plan, access_plan_item
from chairtime.clinical.models import LadderStep, PerformedProcedure, TreatmentPlan
from chairtime.clinical.selectors import (
    OptionSummary,
    PlanSummary,
    UnscheduledRow,
    get_ladder_report,
    get_patient_ladder,
    get_plan_summary,
    list_patient_plans,
    list_unscheduled_treatment,
    summarize_plan,
)
from chairtime.clinical.services import (
    ItemInput,
    PerformedInput,
    accept_option,
    add_item,
    add_option,
    book_plan_item,
    cancel_item,
    complete_visit,
    create_plan,
    decline_plan,
    remove_item,
)
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.money import quantize
from chairtime.patients.access import access_patient
from chairtime.scheduling.access import access_appointment
from chairtime.scheduling.api import AppointmentOut
from chairtime.scheduling.forms import within_reach
from chairtime.scheduling.models import Appointment, Chair
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["treatment"])

Errors = dict[str, list[str]]
# A database id: larger numbers would overflow the column (a 500) instead of "not found".
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
# Amounts travel as strings ("500000", "12.50"), never JSON numbers, which pass through a
# float (ADR 8); the services validate them against the branch's currency.
Money = Annotated[
    str, Field(strict=True, description="an amount in the branch's currency, as a string")
]


def _decimal(value: str | None) -> Decimal | None:
    """The typed amount as a Decimal; NaN when it is not a number, which the services refuse
    naming the field."""
    if value is None:
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return Decimal("NaN")


# --- schemas in ---------------------------------------------------------------------------
class ItemIn(Schema):
    """One procedure of an option. Without `unit_price`, the branch's price; a discount
    needs its `discount_reason`."""

    procedure_id: Id
    teeth: list[int] = Field([], description="FDI tooth numbers, e.g. [16, 17]")
    surfaces: str = Field("", description="letters from M O D B L I F, e.g. MOD")
    quantity: int = 1
    unit_price: Money | None = None
    discount: Money = "0"
    discount_reason: str = ""
    phase: int = Field(1, description="1 first; later phases follow")

    def to_input(self) -> ItemInput:
        return ItemInput(
            procedure_id=self.procedure_id, teeth=tuple(self.teeth), surfaces=self.surfaces,
            quantity=self.quantity, unit_price=_decimal(self.unit_price),
            discount=_decimal(self.discount) or Decimal("0"),
            discount_reason=self.discount_reason, phase=self.phase,
        )  # fmt: skip


class OptionIn(Schema):
    label: str = Field(..., description='an alternative, e.g. "Implant" or "Bridge"')
    items: list[ItemIn] = []


class PlanIn(Schema):
    title: str
    doctor: Id = Field(..., description="the diagnosing doctor, of this branch")
    consultant: Id | None = Field(None, description="who presents it; default: nobody")
    options: list[OptionIn]
    notes: str = ""


class AcceptIn(Schema):
    option: Id = Field(..., description="the option accepted; the others are declined")
    method: str = Field(..., description="signature or verbal")
    signature: str = Field("", description="data:image/png;base64,… (at most 200 kB)")
    signed_name: str = Field("", description="who signed (with a signature)")
    witness: Id | None = Field(None, description="staff witness (with verbal consent)")
    note: str = ""


class ReasonIn(Schema):
    reason: str


class BookItemIn(Schema):
    doctor: Id
    chair: Id
    starts_at: datetime = Field(..., description="ISO 8601 with its offset")
    assistant: Id | None = None


class PerformedIn(Schema):
    """One procedure done. Without `unit_price`: the plan item's price, else the branch's;
    without `discount`: the plan item's, else none; without `chair_minutes`: a share of the
    time since seating. Another price or discount needs treatment.edit or money.adjust."""

    procedure_id: Id
    plan_item_id: Id | None = None
    teeth: list[int] = []
    surfaces: str = ""
    quantity: int = 1
    unit_price: Money | None = None
    discount: Money | None = None
    chair_minutes: int | None = None
    notes: str = ""

    def to_input(self) -> PerformedInput:
        return PerformedInput(
            procedure_id=self.procedure_id, plan_item_id=self.plan_item_id,
            teeth=tuple(self.teeth), surfaces=self.surfaces, quantity=self.quantity,
            unit_price=_decimal(self.unit_price), discount=_decimal(self.discount),
            chair_minutes=self.chair_minutes,
            notes=self.notes,
        )  # fmt: skip


class VisitIn(Schema):
    performed: list[PerformedIn] | None = Field(
        None, description="left out: the plan items booked on it, else its procedure"
    )


class UnscheduledFilters(Schema):
    doctor: Id | None = None
    min_value: Decimal | None = Field(None, ge=0)
    min_age_days: int | None = Field(None, ge=0, le=36500)
    max_age_days: int | None = Field(None, ge=0, le=36500)
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


class LadderFilters(Schema):
    start: date
    end: date


# --- schemas out --------------------------------------------------------------------------
class ItemOut(Schema):
    id: int
    phase: int
    position: int
    procedure_id: int
    procedure_code: str
    procedure_name: str
    teeth: list[int]
    surfaces: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    discount_reason: str
    amount: Decimal
    status: str
    appointment_id: int | None


class PhaseOut(Schema):
    phase: int
    items: list[ItemOut]
    total: Decimal


class OptionOut(Schema):
    id: int
    label: str
    position: int
    status: str
    phases: list[PhaseOut]
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    scheduled_value: Decimal
    completed_value: Decimal
    unscheduled_value: Decimal


class PlanOut(Schema):
    id: int
    branch_id: int
    patient_id: int
    patient_name: str
    title: str
    doctor_id: int
    doctor_name: str
    consultant_id: int | None
    status: str
    currency: str
    presented_at: datetime
    expires_on: date
    accepted_at: datetime | None
    acceptance_method: str
    signed_name: str
    verbal_witness_id: int | None
    acceptance_note: str
    declined_at: datetime | None
    decline_reason: str
    expired_at: datetime | None
    completed_at: datetime | None
    notes: str
    options: list[OptionOut]


class PerformedOut(Schema):
    id: int
    appointment_id: int | None
    plan_item_id: int | None
    procedure_id: int
    procedure_code: str
    doctor_id: int
    chair_id: int | None
    performed_at: datetime
    chair_minutes: int
    teeth: list[int]
    surfaces: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal


class VisitOut(Schema):
    appointment_id: int
    status: str
    performed: list[PerformedOut]


class UnscheduledRowOut(Schema):
    patient_id: int
    patient_name: str
    plan_id: int
    plan_title: str
    doctor_id: int
    option_id: int
    option_label: str
    items: list[ItemOut]
    value: Decimal
    accepted_at: datetime
    age_days: int


class UnscheduledOut(Schema):
    count: int
    total_value: Decimal
    currency: str
    rows: list[UnscheduledRowOut]


class StepOut(Schema):
    tier: str
    rank: int
    previous_tier: str
    reached_at: datetime
    branch_id: int
    performed_id: int | None


class PatientLadderOut(Schema):
    highest: StepOut | None
    steps: list[StepOut]


class MoveOut(Schema):
    month: date
    from_tier: str
    to_tier: str
    patients: int


class TierOut(Schema):
    tier: str = Field(..., description='"" for patients with no tier yet')
    patients: int


class LadderReportOut(Schema):
    start: date
    end: date
    moves: list[MoveOut]
    total_moves: int
    tiers: list[TierOut]


# --- answers ------------------------------------------------------------------------------
def _local(zone: ZoneInfo, value: datetime | None) -> datetime | None:
    return None if value is None else timezone.localtime(value, zone)


def _item_out(item: Any, currency: str) -> ItemOut:
    return ItemOut(
        id=item.pk, phase=item.phase, position=item.position, procedure_id=item.procedure_id,
        procedure_code=item.procedure.code, procedure_name=item.procedure.localized_name(),
        teeth=list(item.teeth), surfaces=item.surfaces, quantity=item.quantity,
        unit_price=quantize(item.unit_price, currency), discount=quantize(item.discount, currency),
        discount_reason=item.discount_reason, amount=quantize(item.amount, currency),
        status=item.status,
        appointment_id=item.appointment_id,
    )  # fmt: skip


def _option_out(summary: OptionSummary, currency: str) -> OptionOut:
    option = summary.option

    def money(value: Decimal) -> Decimal:
        return quantize(value, currency)

    return OptionOut(
        id=option.pk, label=option.label, position=option.position, status=option.status,
        phases=[
            PhaseOut(
                phase=p.phase, items=[_item_out(i, currency) for i in p.items],
                total=money(p.total),
            )
            for p in summary.phases
        ],
        subtotal=money(summary.subtotal), discount=money(summary.discount),
        total=money(summary.total), scheduled_value=money(summary.scheduled_value),
        completed_value=money(summary.completed_value),
        unscheduled_value=money(summary.unscheduled_value),
    )  # fmt: skip


def _plan_out(summary: PlanSummary) -> PlanOut:
    plan = summary.plan
    zone = plan.branch.zone
    presented_at = _local(zone, plan.presented_at)
    assert presented_at is not None
    return PlanOut(
        id=plan.pk, branch_id=plan.branch_id, patient_id=plan.patient_id,
        patient_name=plan.patient.display_name, title=plan.title, doctor_id=plan.doctor_id,
        doctor_name=str(plan.doctor), consultant_id=plan.consultant_id, status=plan.status,
        currency=summary.currency, presented_at=presented_at, expires_on=plan.expires_on,
        accepted_at=_local(zone, plan.accepted_at), acceptance_method=plan.acceptance_method,
        signed_name=plan.signed_name, verbal_witness_id=plan.verbal_witness_id,
        acceptance_note=plan.acceptance_note, declined_at=_local(zone, plan.declined_at),
        decline_reason=plan.decline_reason, expired_at=_local(zone, plan.expired_at),
        completed_at=_local(zone, plan.completed_at), notes=plan.notes,
        options=[_option_out(o, summary.currency) for o in summary.options],
    )  # fmt: skip


def _summary_out(plan: TreatmentPlan) -> PlanOut:
    return _plan_out(get_plan_summary(plan=plan))


def _performed_out(row: PerformedProcedure, access: BranchAccess) -> PerformedOut:
    currency = access.branch.currency
    performed_at = _local(access.branch.zone, row.performed_at)
    assert performed_at is not None
    return PerformedOut(
        id=row.pk, appointment_id=row.appointment_id, plan_item_id=row.plan_item_id,
        procedure_id=row.procedure_id, procedure_code=row.procedure.code,
        doctor_id=row.doctor_id, chair_id=row.chair_id, performed_at=performed_at,
        chair_minutes=row.chair_minutes, teeth=list(row.teeth), surfaces=row.surfaces,
        quantity=row.quantity, unit_price=quantize(row.unit_price, currency),
        discount=quantize(row.discount, currency), amount=quantize(row.amount, currency),
    )  # fmt: skip


def _step_out(step: LadderStep, access: BranchAccess) -> StepOut:
    reached_at = _local(access.branch.zone, step.reached_at)
    assert reached_at is not None
    return StepOut(
        tier=step.tier, rank=step.rank, previous_tier=step.previous_tier, reached_at=reached_at,
        branch_id=step.branch_id, performed_id=step.performed_id,
    )  # fmt: skip


def _unscheduled_out(row: UnscheduledRow, access: BranchAccess) -> UnscheduledRowOut:
    currency = access.branch.currency
    accepted_at = _local(access.branch.zone, row.accepted_at)
    assert accepted_at is not None
    return UnscheduledRowOut(
        patient_id=row.patient.pk, patient_name=row.patient.display_name, plan_id=row.plan.pk,
        plan_title=row.plan.title, doctor_id=row.plan.doctor_id, option_id=row.option.pk,
        option_label=row.option.label, items=[_item_out(i, currency) for i in row.items],
        value=quantize(row.value, currency),
        accepted_at=accepted_at, age_days=row.age_days,
    )  # fmt: skip


# --- parsing ------------------------------------------------------------------------------
def _staff(errors: Errors, access: BranchAccess, field: str, user_id: int) -> User | None:
    """A member of the branch (or its whole organisation); the service checks the role."""
    branch = access.branch
    found = User.objects.filter(
        Q(memberships__branch=branch) | Q(memberships__branch__isnull=True),
        memberships__organization_id=branch.organization_id,
        pk=user_id,
        is_active=True,
    ).first()
    if found is None:
        errors[field] = [_("This person does not work in this branch.")]
    return found


def _raise(errors: Errors) -> None:
    if errors:
        raise InvalidInput(errors)


# --- plans ------------------------------------------------------------------------------------
@router.get(
    "/patients/{int:patient_id}/plans",
    response=list[PlanOut],
    summary="A patient's plans",
    description="The patient's treatment plans made in the active branch, newest first, "
    "each with its options side by side.",
)
def plan_list(request: HttpRequest, patient_id: int) -> list[PlanOut]:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id, capability=Capability.TREATMENT_VIEW)
    plans = list_patient_plans(patient=patient, branch=access.branch)
    return [_plan_out(summarize_plan(plan)) for plan in plans]


@router.post(
    "/patients/{int:patient_id}/plans",
    response={201: PlanOut},
    summary="Propose a plan",
    description="With one or more options; it expires after the branch's validity days. "
    "422 names each wrong field, e.g. `options.0.items.1.teeth` for a tooth not in FDI "
    "notation.",
)
def plan_create(request: HttpRequest, patient_id: int, payload: PlanIn) -> Status[PlanOut]:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id, capability=Capability.TREATMENT_EDIT)
    errors: Errors = {}
    doctor = _staff(errors, access, "doctor", payload.doctor)
    consultant = (
        None
        if payload.consultant is None
        else _staff(errors, access, "consultant", payload.consultant)
    )
    _raise(errors)
    assert doctor is not None  # no errors above
    plan = create_plan(
        actor=acting_user(request), branch=access.branch, patient=patient, title=payload.title,
        doctor=doctor, consultant=consultant, notes=payload.notes,
        options=[(o.label, [i.to_input() for i in o.items]) for o in payload.options],
    )  # fmt: skip
    return Status(201, _summary_out(plan))


@router.get("/plans/{int:plan_id}", response=PlanOut, summary="One plan")
def plan_detail(request: HttpRequest, plan_id: int) -> PlanOut:
    return _summary_out(access_plan(api_branch_access(request), plan_id))


@router.post(
    "/plans/{int:plan_id}/options",
    response={201: PlanOut},
    summary="Add an option",
    description="Only while the plan is proposed.",
)
def option_create(request: HttpRequest, plan_id: int, payload: OptionIn) -> Status[PlanOut]:
    plan = access_plan(api_branch_access(request), plan_id, Capability.TREATMENT_EDIT)
    add_option(
        actor=acting_user(request), plan=plan, label=payload.label,
        items=[i.to_input() for i in payload.items],
    )  # fmt: skip
    return Status(201, _summary_out(plan))


@router.post(
    "/plans/{int:plan_id}/options/{int:option_id}/items",
    response={201: PlanOut},
    summary="Add a procedure to an option",
    description="Only while the plan is proposed.",
)
def item_create(
    request: HttpRequest, plan_id: int, option_id: int, payload: ItemIn
) -> Status[PlanOut]:
    plan = access_plan(api_branch_access(request), plan_id, Capability.TREATMENT_EDIT)
    option = plan.options.filter(pk=option_id).first()
    if option is None:
        raise NotFound
    add_item(actor=acting_user(request), option=option, item=payload.to_input())
    return Status(201, _summary_out(plan))


@router.delete(
    "/plans/{int:plan_id}/items/{int:item_id}",
    response=PlanOut,
    summary="Remove a procedure",
    description="Only while the plan is proposed.",
)
def item_delete(request: HttpRequest, plan_id: int, item_id: int) -> PlanOut:
    access = api_branch_access(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    item = access_plan_item(access, item_id, Capability.TREATMENT_EDIT, plan=plan)
    remove_item(actor=acting_user(request), item=item)
    return _summary_out(plan)


@router.post(
    "/plans/{int:plan_id}/accept",
    response=PlanOut,
    summary="Accept an option",
    description="Signed (`signature` as a PNG data URL and `signed_name`) or verbal (a "
    "staff `witness`); the other options are declined. An expired plan is refused.",
)
def plan_accept(request: HttpRequest, plan_id: int, payload: AcceptIn) -> PlanOut:
    access = api_branch_access(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    errors: Errors = {}
    option = plan.options.filter(pk=payload.option).first()
    if option is None:
        errors["option"] = [_("No such option in this plan.")]
    witness = (
        None if payload.witness is None else _staff(errors, access, "witness", payload.witness)
    )
    _raise(errors)
    assert option is not None  # no errors above
    accepted = accept_option(
        actor=acting_user(request), option=option, method=payload.method,
        signature=payload.signature, signed_name=payload.signed_name, witness=witness,
        note=payload.note,
    )  # fmt: skip
    return _summary_out(accepted)


@router.post("/plans/{int:plan_id}/decline", response=PlanOut, summary="Decline a plan")
def plan_decline(request: HttpRequest, plan_id: int, payload: ReasonIn) -> PlanOut:
    plan = access_plan(api_branch_access(request), plan_id, Capability.TREATMENT_EDIT)
    declined = decline_plan(actor=acting_user(request), plan=plan, reason=payload.reason)
    return _summary_out(declined)


@router.post(
    "/plans/{int:plan_id}/items/{int:item_id}/cancel",
    response=PlanOut,
    summary="Cancel a procedure of an accepted plan",
)
def item_cancel(request: HttpRequest, plan_id: int, item_id: int, payload: ReasonIn) -> PlanOut:
    access = api_branch_access(request)
    plan = access_plan(access, plan_id, Capability.TREATMENT_EDIT)
    item = access_plan_item(access, item_id, Capability.TREATMENT_EDIT, plan=plan)
    cancel_item(actor=acting_user(request), item=item, reason=payload.reason)
    return _summary_out(plan)


@router.post(
    "/plans/{int:plan_id}/items/{int:item_id}/book",
    response={201: AppointmentOut},
    summary="Book a procedure of an accepted plan",
    description="Books the appointment and links the procedure to it, or neither: 422 "
    "names each wrong field, 409 when the time is taken.",
)
def item_book(
    request: HttpRequest, plan_id: int, item_id: int, payload: BookItemIn
) -> Status[Appointment]:
    access = api_branch_access(request)
    plan = access_plan(access, plan_id, Capability.SCHEDULE_BOOK)
    item = access_plan_item(access, item_id, Capability.SCHEDULE_BOOK, plan=plan)
    errors: Errors = {}
    doctor = _staff(errors, access, "doctor", payload.doctor)
    chair = Chair.objects.filter(pk=payload.chair, branch=access.branch, is_active=True).first()
    if chair is None:
        errors["chair"] = [_("This chair is not in this branch.")]
    assistant = (
        None
        if payload.assistant is None
        else _staff(errors, access, "assistant", payload.assistant)
    )
    _raise(errors)
    assert doctor is not None and chair is not None  # no errors above
    appointment = book_plan_item(
        actor=acting_user(request), item=item, doctor=doctor, chair=chair,
        starts_at=payload.starts_at, assistant=assistant,
        can_overbook=access.can(Capability.SCHEDULE_OVERBOOK),
    )  # fmt: skip
    return Status(201, access_appointment(access, appointment.pk))


# --- unscheduled treatment, visits, the ladder --------------------------------------------
@router.get(
    "/unscheduled",
    response=UnscheduledOut,
    summary="Unscheduled treatment",
    description="Accepted procedures not booked yet, per plan option, largest value first; "
    "`count` and `total_value` cover every matching row. Age is days since acceptance.",
)
def unscheduled_list(request: HttpRequest, filters: Query[UnscheduledFilters]) -> UnscheduledOut:
    access = api_branch_access(request)
    access.require(Capability.TREATMENT_VIEW)
    branch = access.branch
    found = list_unscheduled_treatment(
        branch=branch, today=timezone.localdate(timezone=branch.zone), doctor_id=filters.doctor,
        min_value=filters.min_value, min_age_days=filters.min_age_days,
        max_age_days=filters.max_age_days, limit=filters.limit, offset=filters.offset,
    )  # fmt: skip
    return UnscheduledOut(
        count=found.count, total_value=quantize(found.total_value, branch.currency),
        currency=branch.currency,
        rows=[_unscheduled_out(row, access) for row in found.rows],
    )  # fmt: skip


@router.post(
    "/visits/{int:appointment_id}/complete",
    response=VisitOut,
    summary="Complete a visit",
    description="Completes a seated appointment and records each procedure performed "
    "(production); plan items done are completed. Without `performed`: the plan items "
    "booked on it, else its own procedure. A price or discount other than the agreed one "
    "(the plan item's, else the branch's price and no discount) needs treatment.edit or "
    "money.adjust.",
)
def visit_complete(request: HttpRequest, appointment_id: int, payload: VisitIn) -> VisitOut:
    access = api_branch_access(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    performed = None if payload.performed is None else [p.to_input() for p in payload.performed]
    rows = complete_visit(actor=acting_user(request), appointment=appointment, performed=performed)
    visit = rows[0].appointment
    assert visit is not None  # complete_visit records the visit on every row
    return VisitOut(
        appointment_id=visit.pk, status=visit.status,
        performed=[_performed_out(row, access) for row in rows],
    )  # fmt: skip


@router.get(
    "/patients/{int:patient_id}/ladder",
    response=PatientLadderOut,
    summary="A patient's steps up the product ladder",
)
def patient_ladder(request: HttpRequest, patient_id: int) -> PatientLadderOut:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id, capability=Capability.TREATMENT_VIEW)
    highest, steps = get_patient_ladder(patient=patient)
    return PatientLadderOut(
        highest=None if highest is None else _step_out(highest, access),
        steps=[_step_out(step, access) for step in steps],
    )


@router.get(
    "/ladder",
    response=LadderReportOut,
    summary="The ladder report",
    description="Moves up the ladder in the branch per month between two local dates "
    "(inclusive, in the years 1900 to 2999), and the branch's home patients by highest tier "
    "at the end date. Needs analytics.view or treatment.view.",
)
def ladder_report(request: HttpRequest, filters: Query[LadderFilters]) -> LadderReportOut:
    access = api_branch_access(request)
    if not (access.can(Capability.ANALYTICS_VIEW) or access.can(Capability.TREATMENT_VIEW)):
        raise NotFound
    errors: Errors = {}
    for field, day in (("start", filters.start), ("end", filters.end)):
        try:
            within_reach(day)  # the page's own check
        except ValidationError as error:
            errors[field] = error.messages
    _raise(errors)
    if filters.end < filters.start:
        raise InvalidInput.on("end", _("The end is before the start."))
    report = get_ladder_report(branch=access.branch, start=filters.start, end=filters.end)
    return LadderReportOut(
        start=report.start, end=report.end, total_moves=report.total_moves,
        moves=[
            MoveOut(month=m.month, from_tier=m.from_tier, to_tier=m.to_tier, patients=m.patients)
            for m in report.moves
        ],
        tiers=[TierOut(tier=tier, patients=count) for tier, count in report.tiers],
    )  # fmt: skip
