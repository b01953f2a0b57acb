"""API for money: invoices, payments and their allocation, refunds, write-offs, a
patient's balance with ageing, the daily cash-up, promotion codes, prepaid cards and
vouchers, and the lock date. Thin: parse, resolve ids through the active branch, check the
capability, call one service or selector.

Money travels as strings both ways ("150000", "12.50") with the currency beside it, so no
amount ever passes through a float; an amount finer than the currency's minor unit is
refused, naming the field.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.billing.access import access_invoice, access_payment, access_prepaid_card
from chairtime.billing.models import (
    Instalment,
    Invoice,
    Payment,
    PaymentKind,
    PrepaidCard,
    Promotion,
)
from chairtime.billing.selectors import get_cash_up, get_patient_balance
from chairtime.billing.services import (
    allocate_payment,
    create_invoice,
    create_promotion,
    issue_voucher,
    refund_payment,
    sell_prepaid_card,
    set_lock_date,
    take_payment,
    void_invoice,
    write_off,
)
from chairtime.clinical.models import TreatmentPlan
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.money import parse_amount, quantize
from chairtime.marketing.models import Channel
from chairtime.patients.access import access_patient
from chairtime.patients.models import Patient
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["money"])

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
Amount = Annotated[str, Field(description='a decimal as a string, e.g. "150000" or "12.50"')]


def _money(amount: Decimal, currency: str) -> str:
    return str(quantize(amount, currency))


# --- schemas ----------------------------------------------------------------------------------
class LineOut(Schema):
    position: int
    kind: str
    performed_id: int | None
    description: str
    quantity: int
    unit_price: str
    discount: str
    discount_reason: str
    amount: str


class InvoiceOut(Schema):
    id: int
    number: str
    branch_id: int
    patient_id: int
    currency: str
    issued_on: date
    due_on: date
    status: str
    promotion_code: str | None
    subtotal: str
    discount_total: str
    total: str
    paid_total: str
    written_off_total: str
    balance: str
    void_reason: str
    note: str
    lines: list[LineOut]


class InvoiceIn(Schema):
    patient: Id
    performed_ids: list[Id]
    promotion_code: str = Field("", max_length=30)
    line_discounts: dict[int, Amount] = Field(
        default_factory=dict, description="performed id → discount (needs money.adjust)"
    )
    discount_reasons: dict[int, str] = Field(
        default_factory=dict, description="performed id → reason for its discount"
    )
    issued_on: date | None = Field(None, description="default: the branch's today")
    note: str = Field("", max_length=500)


class ReasonIn(Schema):
    reason: str = Field(..., max_length=300)


class WriteOffIn(ReasonIn):
    amount: Amount


class WriteOffOut(Schema):
    id: int
    invoice_id: int
    amount: str
    reason: str
    written_on: date


class PaymentIn(Schema):
    patient: Id
    amount: Amount
    method: str = Field(..., description="cash, card, bank_transfer, e_wallet, prepaid_card")
    kind: str = Field(PaymentKind.PAYMENT, description="payment or deposit")
    plan: Id | None = Field(None, description="the treatment plan a deposit is held for")
    instalment: Id | None = None
    invoice: Id | None = Field(None, description="pay this invoice; default: oldest open ones")
    prepaid_card_code: str = Field("", max_length=30)
    reference: str = Field("", max_length=100)
    auto_allocate: bool = True
    received_on: date | None = Field(None, description="default: the branch's today")
    note: str = Field("", max_length=500)


class AllocationOut(Schema):
    id: int
    invoice_id: int
    amount: str


class PaymentOut(Schema):
    id: int
    branch_id: int
    patient_id: int
    kind: str
    method: str
    currency: str
    amount: str
    allocated_total: str
    refunded_total: str
    unallocated: str
    received_on: date
    reference: str
    prepaid_card_code: str | None
    allocations: list[AllocationOut]


class AllocateIn(Schema):
    invoice: Id
    amount: Amount | None = Field(None, description="default: as much as both allow")


class RefundIn(ReasonIn):
    amount: Amount
    method: str


class RefundOut(Schema):
    id: int
    payment_id: int
    method: str
    amount: str
    reason: str
    refunded_on: date


class BalanceOut(Schema):
    patient_id: int
    currency: str
    invoiced: str
    paid: str
    written_off: str
    balance: str
    credit: str
    net: str
    ageing: dict[str, str]


class CashUpFilters(Schema):
    day: date | None = Field(None, description="the branch's local day; default: today")


class MethodOut(Schema):
    method: str
    label: str
    count: int
    amount: str


class NetOut(Schema):
    method: str
    received: str
    refunded: str
    net: str


class StaffOut(Schema):
    user_id: int | None
    name: str
    count: int
    amount: str


class CashUpOut(Schema):
    day: date
    currency: str
    received: list[MethodOut]
    refunds: list[MethodOut]
    net: list[NetOut]
    received_total: str
    refunded_total: str
    net_total: str
    prepaid_redemptions: MethodOut
    deposits: MethodOut
    by_staff: list[StaffOut]
    invoices_issued: int
    invoiced_total: str


class PromotionIn(Schema):
    code: str = Field(..., max_length=30)
    name: str = Field(..., max_length=200)
    kind: str = Field(..., description="percent or amount")
    value: Amount
    currency: str = Field("", description="for a fixed amount")
    valid_from: date
    valid_until: date
    max_uses: int | None = None
    channel: Id | None = None


class PromotionOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    value: str
    currency: str
    valid_from: date
    valid_until: date
    max_uses: int | None
    uses_count: int
    is_active: bool


class CardIn(Schema):
    patient: Id
    value: Amount
    price: Amount | None = Field(
        None, description="default: the value; below it needs money.adjust and a reason"
    )
    discount_reason: str = Field("", max_length=200, description="why the price is lower")
    expires_on: date | None = None


class VoucherIn(Schema):
    patient: Id | None = None
    value: Amount
    expires_on: date | None = None


class CardOut(Schema):
    id: int
    code: str
    kind: str
    patient_id: int | None
    currency: str
    initial_value: str
    balance: str
    expires_on: date | None
    is_active: bool


class CardSaleOut(Schema):
    card: CardOut
    invoice: InvoiceOut


class LockDateIn(Schema):
    lock_date: date | None


class LockDateOut(Schema):
    branch_id: int
    lock_date: date | None


# --- answers -----------------------------------------------------------------------------------
def _invoice_out(invoice: Invoice) -> InvoiceOut:
    invoice = Invoice.objects.select_related("promotion").get(pk=invoice.pk)
    c = invoice.currency
    lines = [
        LineOut(
            position=line.position, kind=line.kind, performed_id=line.performed_id,
            description=line.description, quantity=line.quantity,
            unit_price=_money(line.unit_price, c), discount=_money(line.discount, c),
            discount_reason=line.discount_reason, amount=_money(line.amount, c),
        )
        for line in invoice.lines.order_by("position")
    ]  # fmt: skip
    return InvoiceOut(
        id=invoice.pk, number=invoice.number, branch_id=invoice.branch_id,
        patient_id=invoice.patient_id, currency=c, issued_on=invoice.issued_on,
        due_on=invoice.due_on, status=invoice.status,
        promotion_code=invoice.promotion.code if invoice.promotion else None,
        subtotal=_money(invoice.subtotal, c), discount_total=_money(invoice.discount_total, c),
        total=_money(invoice.total, c), paid_total=_money(invoice.paid_total, c),
        written_off_total=_money(invoice.written_off_total, c),
        balance=_money(invoice.balance, c), void_reason=invoice.void_reason, note=invoice.note,
        lines=lines,
    )  # fmt: skip


def _payment_out(payment: Payment) -> PaymentOut:
    payment = Payment.objects.select_related("prepaid_card").get(pk=payment.pk)
    c = payment.currency
    return PaymentOut(
        id=payment.pk, branch_id=payment.branch_id, patient_id=payment.patient_id,
        kind=payment.kind, method=payment.method, currency=c, amount=_money(payment.amount, c),
        allocated_total=_money(payment.allocated_total, c),
        refunded_total=_money(payment.refunded_total, c),
        unallocated=_money(payment.unallocated, c), received_on=payment.received_on,
        reference=payment.reference,
        prepaid_card_code=payment.prepaid_card.code if payment.prepaid_card else None,
        allocations=[
            AllocationOut(id=a.pk, invoice_id=a.invoice_id, amount=_money(a.amount, c))
            for a in payment.allocations.order_by("pk")
        ],
    )  # fmt: skip


def _card_out(card: PrepaidCard) -> CardOut:
    c = card.currency
    return CardOut(
        id=card.pk, code=card.code, kind=card.kind, patient_id=card.patient_id, currency=c,
        initial_value=_money(card.initial_value, c), balance=_money(card.balance, c),
        expires_on=card.expires_on, is_active=card.is_active,
    )  # fmt: skip


def _promotion_out(promotion: Promotion) -> PromotionOut:
    return PromotionOut(
        id=promotion.pk, code=promotion.code, name=promotion.name, kind=promotion.kind,
        value=f"{promotion.value.normalize():f}" if promotion.kind == "percent" else str(promotion.value),
        currency=promotion.currency, valid_from=promotion.valid_from,
        valid_until=promotion.valid_until, max_uses=promotion.max_uses,
        uses_count=promotion.uses_count, is_active=promotion.is_active,
    )  # fmt: skip


def _method_out(line: Any, currency: str) -> MethodOut:
    return MethodOut(
        method=line.method, label=line.label, count=line.count,
        amount=_money(line.amount, currency),
    )  # fmt: skip


Row = TypeVar("Row", bound=Model)


# --- resolving ids -------------------------------------------------------------------------------
def _patient(access: BranchAccess, patient_id: int) -> Patient:
    found = Patient.objects.for_branch(access.branch).filter(pk=patient_id).first()
    if found is None:
        raise InvalidInput.on("patient", _("No such patient."))
    return found


def _one_in_branch(
    rows: "QuerySet[Row]", row_id: int | None, field: str, missing: str
) -> Row | None:
    """The row with this id among `rows` (already limited to the branch), None for no id;
    an id outside them is bad input naming `field`."""
    if row_id is None:
        return None
    found = rows.filter(pk=row_id).first()
    if found is None:
        raise InvalidInput.on(field, missing)
    return found


def _open_invoice(access: BranchAccess, invoice_id: int | None) -> Invoice | None:
    rows = Invoice.objects.filter(branch=access.branch)
    return _one_in_branch(rows, invoice_id, "invoice", _("No such invoice in this branch."))


def _plan(access: BranchAccess, plan_id: int | None) -> TreatmentPlan | None:
    rows = TreatmentPlan.objects.filter(branch=access.branch)
    return _one_in_branch(rows, plan_id, "plan", _("No such treatment plan in this branch."))


def _instalment(access: BranchAccess, instalment_id: int | None) -> Instalment | None:
    rows = Instalment.objects.filter(schedule__branch=access.branch)
    return _one_in_branch(
        rows, instalment_id, "instalment", _("No such instalment in this branch.")
    )


def _line_discounts(
    access: BranchAccess, amounts: Mapping[int, str], reasons: Mapping[int, str]
) -> dict[int, tuple[Decimal, str]]:
    currency = access.branch.currency
    return {
        performed_id: (
            parse_amount(amount, currency, "line_discounts", allow_zero=True),
            reasons.get(performed_id, ""),
        )
        for performed_id, amount in amounts.items()
    }


# --- invoices ------------------------------------------------------------------------------------
@router.post(
    "/invoices",
    response={201: InvoiceOut},
    summary="Invoice procedures performed",
    description="Procedures performed on the patient in this branch and not yet invoiced; "
    "a package credit, club membership and promotion code discount them. Discounts typed "
    "here need money.adjust and a reason.",
)
def invoice_create(request: HttpRequest, payload: InvoiceIn) -> Status[InvoiceOut]:
    access = api_branch_access(request)
    access.require(Capability.MONEY_COLLECT)
    patient = _patient(access, payload.patient)
    invoice = create_invoice(
        actor=acting_user(request), branch=access.branch, patient=patient,
        performed_ids=payload.performed_ids, promotion_code=payload.promotion_code,
        line_discounts=_line_discounts(access, payload.line_discounts, payload.discount_reasons),
        issued_on=payload.issued_on, note=payload.note,
    )  # fmt: skip
    return Status(201, _invoice_out(invoice))


@router.get("/invoices/{int:invoice_id}", response=InvoiceOut, summary="One invoice")
def invoice_detail(request: HttpRequest, invoice_id: int) -> InvoiceOut:
    access = api_branch_access(request)
    return _invoice_out(access_invoice(access, invoice_id))


@router.post(
    "/invoices/{int:invoice_id}/void",
    response=InvoiceOut,
    summary="Void an invoice",
    description="Only while nothing is paid or written off on it; needs money.adjust.",
)
def invoice_void(request: HttpRequest, invoice_id: int, payload: ReasonIn) -> InvoiceOut:
    access = api_branch_access(request)
    invoice = access_invoice(access, invoice_id, capability=Capability.MONEY_ADJUST)
    voided = void_invoice(actor=acting_user(request), invoice=invoice, reason=payload.reason)
    return _invoice_out(voided)


@router.post(
    "/invoices/{int:invoice_id}/write-offs",
    response={201: WriteOffOut},
    summary="Write off part of an invoice's balance",
)
def invoice_write_off(
    request: HttpRequest, invoice_id: int, payload: WriteOffIn
) -> Status[WriteOffOut]:
    access = api_branch_access(request)
    invoice = access_invoice(access, invoice_id, capability=Capability.MONEY_ADJUST)
    row = write_off(
        actor=acting_user(request), invoice=invoice, amount=payload.amount, reason=payload.reason
    )
    return Status(
        201,
        WriteOffOut(
            id=row.pk, invoice_id=invoice.pk, amount=_money(row.amount, invoice.currency),
            reason=row.reason, written_on=row.written_on,
        ),
    )  # fmt: skip


# --- payments ------------------------------------------------------------------------------------
@router.post(
    "/payments",
    response={201: PaymentOut},
    summary="Take a payment or a deposit",
    description="In the branch's currency. A payment pays `invoice`, or else the patient's "
    "open invoices oldest first; a deposit is held. The prepaid_card method spends the "
    "card named by prepaid_card_code.",
)
def payment_create(request: HttpRequest, payload: PaymentIn) -> Status[PaymentOut]:
    access = api_branch_access(request)
    access.require(Capability.MONEY_COLLECT)
    payment = take_payment(
        actor=acting_user(request), branch=access.branch,
        patient=_patient(access, payload.patient), amount=payload.amount,
        method=payload.method, kind=payload.kind, plan=_plan(access, payload.plan),
        instalment=_instalment(access, payload.instalment),
        prepaid_card_code=payload.prepaid_card_code, reference=payload.reference,
        invoice=_open_invoice(access, payload.invoice), auto_allocate=payload.auto_allocate,
        received_on=payload.received_on, note=payload.note,
    )  # fmt: skip
    return Status(201, _payment_out(payment))


@router.get("/payments/{int:payment_id}", response=PaymentOut, summary="One payment")
def payment_detail(request: HttpRequest, payment_id: int) -> PaymentOut:
    access = api_branch_access(request)
    return _payment_out(access_payment(access, payment_id))


@router.post(
    "/payments/{int:payment_id}/allocations",
    response={201: PaymentOut},
    summary="Allocate a payment to an invoice",
)
def payment_allocate(
    request: HttpRequest, payment_id: int, payload: AllocateIn
) -> Status[PaymentOut]:
    access = api_branch_access(request)
    payment = access_payment(access, payment_id, capability=Capability.MONEY_COLLECT)
    invoice = _open_invoice(access, payload.invoice)
    assert invoice is not None  # the id is required
    allocate_payment(
        actor=acting_user(request), payment=payment, invoice=invoice, amount=payload.amount
    )
    return Status(201, _payment_out(payment))


@router.post(
    "/payments/{int:payment_id}/refunds",
    response={201: RefundOut},
    summary="Refund from a payment's unallocated part",
)
def payment_refund(request: HttpRequest, payment_id: int, payload: RefundIn) -> Status[RefundOut]:
    access = api_branch_access(request)
    payment = access_payment(access, payment_id, capability=Capability.MONEY_ADJUST)
    refund = refund_payment(
        actor=acting_user(request), payment=payment, amount=payload.amount,
        method=payload.method, reason=payload.reason,
    )  # fmt: skip
    return Status(
        201,
        RefundOut(
            id=refund.pk, payment_id=payment.pk, method=refund.method,
            amount=_money(refund.amount, payment.currency), reason=refund.reason,
            refunded_on=refund.refunded_on,
        ),
    )  # fmt: skip


# --- balance and cash-up -------------------------------------------------------------------------
@router.get(
    "/patients/{int:patient_id}/balance",
    response=BalanceOut,
    summary="A patient's balance in this branch, with ageing",
)
def patient_balance(request: HttpRequest, patient_id: int) -> BalanceOut:
    access = api_branch_access(request)
    access.require(Capability.MONEY_VIEW)
    patient = access_patient(access, patient_id)
    today = timezone.localtime(timezone.now(), access.branch.zone).date()
    found = get_patient_balance(patient=patient, branch=access.branch, today=today)
    c = found.currency
    return BalanceOut(
        patient_id=patient.pk, currency=c, invoiced=_money(found.invoiced, c),
        paid=_money(found.paid, c), written_off=_money(found.written_off, c),
        balance=_money(found.balance, c), credit=_money(found.credit, c),
        net=_money(found.net, c),
        ageing={bucket: _money(amount, c) for bucket, amount in found.ageing.items()},
    )  # fmt: skip


@router.get("/cash-up", response=CashUpOut, summary="The branch's money of one day")
def cash_up(request: HttpRequest, filters: Query[CashUpFilters]) -> CashUpOut:
    access = api_branch_access(request)
    access.require(Capability.MONEY_VIEW)
    day = filters.day or timezone.localtime(timezone.now(), access.branch.zone).date()
    found = get_cash_up(branch=access.branch, day=day)
    c = found.currency
    return CashUpOut(
        day=day, currency=c,
        received=[_method_out(line, c) for line in found.received],
        refunds=[_method_out(line, c) for line in found.refunds],
        net=[
            NetOut(method=line.method, received=_money(line.received, c),
                   refunded=_money(line.refunded, c), net=_money(line.net, c))
            for line in found.net
        ],
        received_total=_money(found.received_total, c),
        refunded_total=_money(found.refunded_total, c), net_total=_money(found.net_total, c),
        prepaid_redemptions=_method_out(found.prepaid_redemptions, c),
        deposits=_method_out(found.deposits, c),
        by_staff=[
            StaffOut(user_id=line.user_id, name=line.name, count=line.count,
                     amount=_money(line.amount, c))
            for line in found.by_staff
        ],
        invoices_issued=found.invoices_issued, invoiced_total=_money(found.invoiced_total, c),
    )  # fmt: skip


# --- promotions ----------------------------------------------------------------------------------
def _require_promotions(access: BranchAccess) -> None:
    if not (access.can(Capability.MARKETING_EDIT) or access.can(Capability.MONEY_ADJUST)):
        raise NotFound


@router.get(
    "/promotions",
    response=list[PromotionOut],
    summary="The organisation's codes",
    description="For those who see money or marketing (money.view or marketing.view), as the page.",
)
def promotion_list(request: HttpRequest) -> list[PromotionOut]:
    access = api_branch_access(request)
    if not (access.can(Capability.MONEY_VIEW) or access.can(Capability.MARKETING_VIEW)):
        raise NotFound
    rows = Promotion.objects.filter(organization_id=access.branch.organization_id)
    return [_promotion_out(p) for p in rows.order_by("-valid_from", "code")]


@router.post("/promotions", response={201: PromotionOut}, summary="Create a promotion code")
def promotion_create(request: HttpRequest, payload: PromotionIn) -> Status[PromotionOut]:
    access = api_branch_access(request)
    _require_promotions(access)
    channel = None
    if payload.channel is not None:
        channel = Channel.objects.filter(
            Q(pk=payload.channel), organization_id=access.branch.organization_id
        ).first()
        if channel is None:
            raise InvalidInput.on("channel", _("No such channel."))
    promotion = create_promotion(
        actor=acting_user(request), organization=access.branch.organization,
        code=payload.code, name=payload.name, kind=payload.kind, value=payload.value,
        valid_from=payload.valid_from, valid_until=payload.valid_until,
        max_uses=payload.max_uses, currency=payload.currency, channel=channel,
    )  # fmt: skip
    return Status(201, _promotion_out(promotion))


# --- prepaid cards and vouchers ------------------------------------------------------------------
@router.post(
    "/prepaid-cards",
    response={201: CardSaleOut},
    summary="Sell a prepaid card",
    description="An invoice for the price (default: the value) and a card holding the value. "
    "A price below the value is a discount on the invoice line: it needs money.adjust and "
    "a discount_reason.",
)
def prepaid_card_sell(request: HttpRequest, payload: CardIn) -> Status[CardSaleOut]:
    access = api_branch_access(request)
    access.require(Capability.MONEY_COLLECT)
    card, invoice = sell_prepaid_card(
        actor=acting_user(request), branch=access.branch,
        patient=_patient(access, payload.patient), value=payload.value, price=payload.price,
        discount_reason=payload.discount_reason, expires_on=payload.expires_on,
    )  # fmt: skip
    return Status(201, CardSaleOut(card=_card_out(card), invoice=_invoice_out(invoice)))


@router.post("/vouchers", response={201: CardOut}, summary="Give a voucher away")
def voucher_issue(request: HttpRequest, payload: VoucherIn) -> Status[CardOut]:
    access = api_branch_access(request)
    access.require(Capability.MONEY_ADJUST)
    patient = None if payload.patient is None else _patient(access, payload.patient)
    card = issue_voucher(
        actor=acting_user(request), branch=access.branch, value=payload.value,
        patient=patient, expires_on=payload.expires_on,
    )  # fmt: skip
    return Status(201, _card_out(card))


@router.get(
    "/prepaid-cards/{code}", response=CardOut, summary="A prepaid card or voucher by its code"
)
def prepaid_card_lookup(request: HttpRequest, code: str) -> CardOut:
    access = api_branch_access(request)
    return _card_out(access_prepaid_card(access, code))


# --- the lock date -------------------------------------------------------------------------------
@router.put(
    "/lock-date",
    response=LockDateOut,
    summary="Move the branch's financial lock date",
    description="Money dated on or before it is closed. Moving it earlier (or clearing it) "
    "needs money.edit_locked.",
)
def lock_date_set(request: HttpRequest, payload: LockDateIn) -> LockDateOut:
    access = api_branch_access(request)
    access.require(Capability.MONEY_CLOSE_PERIOD)
    branch = set_lock_date(
        actor=acting_user(request), branch=access.branch, lock_date=payload.lock_date
    )
    return LockDateOut(branch_id=branch.pk, lock_date=branch.financial_lock_date)
