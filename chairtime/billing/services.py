"""Writes to money: invoices, payments and their allocation, refunds, write-offs, voids,
instalments, promotion codes, packages, clubs, prepaid cards and the lock date.

Every service runs in one transaction that first locks what it changes, always in the
same order so two cashiers cannot deadlock: the branch row when the write is dated (the
lock date is read under it, so moving the lock date waits for dated writes in flight and
they wait for it), then the patient row (which queues every money write of one patient),
then invoices by ascending id, then payments by ascending id, then instalments, prepaid
cards, promotions, package credits, and last the branch's invoice sequence. The running
totals on invoices and payments are written only here, from the locked rows, with the
audit event in the same transaction; the database's check constraints refuse what could
never be right (a negative balance, an over-allocation).

Dates: `issued_on`, `received_on`, `refunded_on` and `written_on` are the branch's local
day (the last two always today). A write dated on or before the branch's financial lock
date is refused unless the actor may edit locked periods; then its audit event says
`locked_period`. Allocations are dated today and rewrite nothing: not checked.
"""

from __future__ import annotations

import calendar
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, Model, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import Changes, record_event
from chairtime.billing.models import (
    REFUND_METHODS,
    Allocation,
    Club,
    ClubMembership,
    Instalment,
    InstalmentSchedule,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    LineKind,
    Package,
    PackageCredit,
    Payment,
    PaymentKind,
    PaymentMethod,
    PrepaidCard,
    Promotion,
    Refund,
    WriteOff,
)
from chairtime.clinical.models import (
    ItemStatus,
    OptionStatus,
    PerformedProcedure,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.core.money import ZERO, parse_amount, quantize
from chairtime.marketing.models import Channel
from chairtime.patients.models import Patient
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.models import Branch, Organization
from chairtime.tenancy.roles import Capability
from chairtime.tenancy.validators import validate_currency

HUNDRED = Decimal("100")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out on the phone
CODE_LENGTH = 10
PROMOTION_CODE_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


# --- small helpers ------------------------------------------------------------------------
def _today(branch: Branch, now: datetime) -> date:
    return timezone.localtime(now, branch.zone).date()


def _can(actor: User, branch: Branch, capability: Capability) -> bool:
    try:
        return get_branch_access(actor, branch.pk).can(capability)
    except NotFound:
        return False


def _require(actor: User, branch: Branch, capability: Capability) -> None:
    """Forbidden looks like missing, here as in the access helpers."""
    if not _can(actor, branch, capability):
        raise NotFound


def _check_lock(actor: User, branch: Branch, day: date, field_name: str, what: str) -> bool:
    """Whether a write dated `day` reaches into the closed period (allowed: the actor may
    edit locked periods); refused for anyone else.

    Reads the lock date under a row lock on the branch, held to the end of the transaction,
    so `set_lock_date` cannot close the period between this check and the write. Call it
    before any other lock (the branch comes first in the lock order). FOR NO KEY UPDATE:
    rows inserted elsewhere that name the branch (their key share lock) do not wait for it.
    """
    lock_date = (
        Branch.objects.select_for_update(no_key=True)
        .filter(pk=branch.pk)
        .values_list("financial_lock_date", flat=True)
        .get()
    )
    if lock_date is None or day > lock_date:
        return False
    if _can(actor, branch, Capability.MONEY_EDIT_LOCKED):
        return True
    raise InvalidInput.on(
        field_name,
        _("%(what)s (%(day)s) is on or before the lock date %(lock_date)s: that period is closed.")
        % {"what": what, "day": day.isoformat(), "lock_date": lock_date.isoformat()},
    )


def _with_lock_flag(changes: Changes, locked_period: bool) -> Changes:
    if locked_period:
        changes["locked_period"] = (None, True)
    return changes


def _check_patient(branch: Branch, patient: Patient) -> None:
    if patient.organization_id != branch.organization_id:
        raise InvalidInput.on("patient", _("No such patient."))


def _reason(value: str, field_name: str = "reason") -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidInput.on(field_name, _("Give a reason."))
    return cleaned[:300]


def _lock_patient(patient_id: int) -> None:
    list(Patient.objects.select_for_update().filter(pk=patient_id).values_list("pk", flat=True))


def _locked_invoice(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def _locked_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment_id)


def _plain(amount: Decimal, currency: str) -> str:
    """An amount in messages, with the currency's own decimals: 500000, 12.50."""
    return str(quantize(amount, currency))


def _money(amount: Decimal, currency: str) -> str:
    return f"{_plain(amount, currency)} {currency}"


def _settle(invoice: Invoice) -> None:
    """Balance and status from the invoice's own totals (not for void invoices)."""
    invoice.balance = invoice.total - invoice.paid_total - invoice.written_off_total
    invoice.status = InvoiceStatus.PAID if invoice.balance == 0 else InvoiceStatus.OPEN


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clipped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# --- invoice numbers and lines ------------------------------------------------------------
def _next_invoice_number(branch: Branch) -> str:
    """The branch's next number under a row lock on its sequence: never the same twice."""
    sequence = InvoiceSequence.objects.select_for_update().filter(branch=branch).first()
    if sequence is None:
        try:
            with transaction.atomic():
                sequence = InvoiceSequence.objects.create(branch=branch)
        except IntegrityError:  # created by a concurrent first invoice: take its lock
            sequence = InvoiceSequence.objects.select_for_update().get(branch=branch)
    number = sequence.next_number
    InvoiceSequence.objects.filter(pk=sequence.pk).update(next_number=F("next_number") + 1)
    return f"{branch.code.upper()}-{number:06d}"


@dataclass
class _Line:
    """An invoice line being priced, before it is written."""

    kind: str
    description: str
    unit_price: Decimal
    quantity: int = 1
    discount: Decimal = ZERO
    reasons: list[str] = field(default_factory=list)
    performed: PerformedProcedure | None = None
    package_credit: PackageCredit | None = None
    club_membership: ClubMembership | None = None  # whose discount the line took

    @property
    def gross(self) -> Decimal:
        return self.quantity * self.unit_price

    @property
    def amount(self) -> Decimal:
        return self.gross - self.discount

    def take(self, discount: Decimal, reason: str) -> None:
        if discount > 0:
            self.discount += discount
            self.reasons.append(reason)


def _issue(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    lines: Sequence[_Line],
    issued_on: date,
    now: datetime,
    promotion: Promotion | None = None,
    note: str = "",
    locked_period: bool = False,
) -> tuple[Invoice, list[InvoiceLine]]:
    """Write an invoice and its lines with a new number; its audit event."""
    total = sum((line.amount for line in lines), ZERO)
    invoice = Invoice.objects.create(
        branch=branch, patient=patient, number=_next_invoice_number(branch),
        currency=branch.currency, issued_at=now, issued_on=issued_on, due_on=issued_on,
        status=InvoiceStatus.PAID if total == 0 else InvoiceStatus.OPEN, promotion=promotion,
        subtotal=sum((line.gross for line in lines), ZERO),
        discount_total=sum((line.discount for line in lines), ZERO),
        total=total, balance=total, issued_by=actor, note=note.strip()[:500],
    )  # fmt: skip
    rows = [
        InvoiceLine(
            invoice=invoice, position=position, kind=line.kind, performed=line.performed,
            package_credit=line.package_credit, club_membership=line.club_membership,
            description=line.description[:300],
            quantity=line.quantity, unit_price=line.unit_price, discount=line.discount,
            discount_reason="; ".join(line.reasons)[:200], amount=line.amount,
        )
        for position, line in enumerate(lines, 1)
    ]  # fmt: skip
    try:
        with transaction.atomic():
            for row in rows:
                row.save()
    except IntegrityError:  # the patient lock makes this a race with a direct write only
        raise Conflict.on(
            "performed_ids", _("A procedure was just put on another invoice.")
        ) from None
    record_event(
        actor=actor, action=AuditAction.CREATE, target=invoice, patient_id=patient.pk,
        organization_id=branch.organization_id,
        summary=f"{invoice.number} {_money(invoice.total, invoice.currency)}",
        changes=_with_lock_flag(
            {"number": (None, invoice.number), "total": (None, invoice.total),
             "discount_total": (None, invoice.discount_total),
             "issued_on": (None, invoice.issued_on),
             "promotion": (None, promotion.code if promotion else None)},
            locked_period,
        ),
    )  # fmt: skip
    return invoice, rows


def _invoice_date(
    actor: User, branch: Branch, issued_on: date | None, now: datetime
) -> tuple[date, bool]:
    today = _today(branch, now)
    issued_on = issued_on or today
    if issued_on > today:
        raise InvalidInput.on("issued_on", _("An invoice cannot be dated in the future."))
    return issued_on, _check_lock(actor, branch, issued_on, "issued_on", _("The invoice date"))


# --- invoices from procedures performed ---------------------------------------------------
@transaction.atomic
def create_invoice(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    performed_ids: Sequence[int],
    promotion_code: str = "",
    line_discounts: Mapping[int, tuple[Decimal, str]] | None = None,
    issued_on: date | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Invoice:
    """Invoice procedures performed on the patient in the branch and not yet invoiced.

    Discounts per line, in this order: the one given at the visit; a package credit the
    patient holds for the procedure (the whole price, "Package: …"); a discount typed here
    (`line_discounts`, needs money.adjust, with a reason); the patient's club discount;
    the promotion code (a percentage of each line, or a fixed amount spread over the lines
    in order, never more than a line's amount)."""
    now = now or timezone.now()
    _check_patient(branch, patient)
    issued_on, locked_period = _invoice_date(actor, branch, issued_on, now)
    ids = list(dict.fromkeys(int(pk) for pk in performed_ids))
    if not ids:
        raise InvalidInput.on("performed_ids", _("Choose at least one procedure performed."))
    discounts = _parse_line_discounts(line_discounts or {}, ids, branch.currency)
    if discounts and not _can(actor, branch, Capability.MONEY_ADJUST):
        raise InvalidInput.on("line_discounts", _("You may not give discounts on invoices."))
    _lock_patient(patient.pk)
    performed = _invoiceable(branch, patient, ids)
    lines = [_procedure_line(p) for p in performed]
    _redeem_package_credits(branch, patient, lines, issued_on)
    _apply_line_discounts(lines, discounts, branch.currency)
    _apply_club(branch, patient, lines, issued_on)
    promotion = _find_promotion(branch, promotion_code, issued_on)
    if promotion is not None:
        _apply_promotion(promotion, lines, branch.currency)
    invoice, _rows = _issue(
        actor=actor, branch=branch, patient=patient, lines=lines, issued_on=issued_on,
        now=now, promotion=promotion, note=note, locked_period=locked_period,
    )  # fmt: skip
    for line in lines:
        if line.package_credit is not None:
            PackageCredit.objects.filter(pk=line.package_credit.pk).update(
                quantity_used=F("quantity_used") + line.quantity
            )
    if promotion is not None:
        Promotion.objects.filter(pk=promotion.pk).update(uses_count=F("uses_count") + 1)
    return invoice


def _invoiceable(branch: Branch, patient: Patient, ids: list[int]) -> list[PerformedProcedure]:
    live = InvoiceLine.objects.filter(performed=OuterRef("pk"), is_void=False)
    found = list(
        PerformedProcedure.objects.filter(pk__in=ids, patient=patient, branch=branch)
        .exclude(Exists(live))
        .select_related("procedure")
        .order_by("performed_at", "pk")
    )
    missing = sorted(set(ids) - {p.pk for p in found})
    if missing:
        raise InvalidInput.on(
            "performed_ids",
            _(
                "These procedures cannot be invoiced: %(ids)s (not performed on this patient "
                "in this branch, or already on an invoice)."
            )
            % {"ids": ", ".join(str(pk) for pk in missing)},
        )
    return found


def _procedure_line(performed: PerformedProcedure) -> _Line:
    name = f"{performed.procedure.code} {performed.procedure.localized_name()}"
    if performed.teeth:
        name += " · " + ", ".join(str(tooth) for tooth in performed.teeth)
    if performed.surfaces:
        name += f" {performed.surfaces}"
    line = _Line(
        kind=LineKind.PROCEDURE, description=name, unit_price=performed.unit_price,
        quantity=performed.quantity, performed=performed,
    )  # fmt: skip
    line.take(min(performed.discount, line.gross), _("Discount at the visit"))
    return line


def _parse_line_discounts(
    given: Mapping[int, tuple[Decimal, str]], ids: list[int], currency: str
) -> dict[int, tuple[Decimal, str]]:
    """The typed discounts by performed id, each with its reason; zero ones are left out."""
    parsed: dict[int, tuple[Decimal, str]] = {}
    for performed_id, (amount, reason) in given.items():
        if int(performed_id) not in ids:
            raise InvalidInput.on(
                "line_discounts",
                _("Procedure %(id)s is not on this invoice.") % {"id": performed_id},
            )
        value = parse_amount(amount, currency, "line_discounts", allow_zero=True)
        if value and not reason.strip():
            raise InvalidInput.on("line_discounts", _("Give a reason for each discount."))
        if value:  # a zero discount (a blank field sent as "0") is no discount
            parsed[int(performed_id)] = (value, reason.strip())
    return parsed


def _redeem_package_credits(
    branch: Branch, patient: Patient, lines: list[_Line], issued_on: date
) -> None:
    """A line whose whole quantity a package credit covers costs nothing."""
    procedure_ids = {line.performed.procedure_id for line in lines if line.performed}
    credits = list(
        PackageCredit.objects.select_for_update()
        .filter(patient=patient, procedure_id__in=procedure_ids, package__branch=branch)
        .filter(quantity_used__lt=F("quantity_total"), expires_on__gte=issued_on)
        .select_related("package")
        .order_by("expires_on", "pk")
    )
    left = {credit.pk: credit.quantity_total - credit.quantity_used for credit in credits}
    for line in lines:
        assert line.performed is not None  # procedure lines only here
        for credit in credits:
            if credit.procedure_id == line.performed.procedure_id and left[credit.pk] >= (
                line.quantity
            ):
                left[credit.pk] -= line.quantity
                line.package_credit = credit
                line.take(line.amount, _("Package: %(name)s") % {"name": credit.package.name})
                break


def _apply_line_discounts(
    lines: list[_Line], discounts: dict[int, tuple[Decimal, str]], currency: str
) -> None:
    for line in lines:
        assert line.performed is not None
        amount, reason = discounts.get(line.performed.pk, (ZERO, ""))
        if amount > line.amount:
            raise InvalidInput.on(
                "line_discounts",
                _("The discount on %(line)s (%(discount)s) is larger than its price %(price)s.")
                % {
                    "line": line.description,
                    "discount": _plain(amount, currency),
                    "price": _plain(line.amount, currency),
                },
            )
        line.take(amount, reason)


def _apply_club(branch: Branch, patient: Patient, lines: list[_Line], issued_on: date) -> None:
    """The patient's best club discount on the day. A line that takes it names the
    membership: its sale cannot be voided while such a line is live."""
    membership = (
        ClubMembership.objects.filter(patient=patient, club__branch=branch)
        .filter(starts_on__lte=issued_on, ends_on__gte=issued_on)
        .select_related("club")
        .order_by("-club__discount_percent", "pk")
        .first()
    )
    if membership is None or membership.club.discount_percent == 0:
        return
    club = membership.club
    reason = _("Club: %(name)s (%(percent)s%%)") % {
        "name": club.name,
        "percent": f"{club.discount_percent.normalize():f}",
    }
    for line in lines:
        discount = quantize(line.amount * club.discount_percent / HUNDRED, branch.currency)
        if discount > 0:
            line.take(discount, reason)
            line.club_membership = membership


def _find_promotion(branch: Branch, code: str, issued_on: date) -> Promotion | None:
    code = code.strip().upper()
    if not code:
        return None
    promotion = (
        Promotion.objects.select_for_update()
        .filter(organization_id=branch.organization_id, code=code)
        .first()
    )
    problem = None
    if promotion is None or not promotion.is_active:
        problem = _("No such promotion code.")
    elif issued_on < promotion.valid_from:
        problem = _("This promotion code is valid from %(day)s.") % {
            "day": promotion.valid_from.isoformat()
        }
    elif issued_on > promotion.valid_until:
        problem = _("This promotion code ended on %(day)s.") % {
            "day": promotion.valid_until.isoformat()
        }
    elif promotion.max_uses is not None and promotion.uses_count >= promotion.max_uses:
        problem = _("This promotion code has been used up.")
    elif promotion.kind == Promotion.Kind.AMOUNT and promotion.currency != branch.currency:
        problem = _("This promotion code is an amount in %(currency)s, not %(branch)s.") % {
            "currency": promotion.currency,
            "branch": branch.currency,
        }
    if problem:
        raise InvalidInput.on("promotion_code", problem)
    return promotion


def _apply_promotion(promotion: Promotion, lines: list[_Line], currency: str) -> None:
    reason = _("Promotion %(code)s") % {"code": promotion.code}
    if promotion.kind == Promotion.Kind.PERCENT:
        for line in lines:
            line.take(quantize(line.amount * promotion.value / HUNDRED, currency), reason)
        return
    left = promotion.value
    for line in lines:
        taken = min(left, line.amount)
        line.take(taken, reason)
        left -= taken


# --- voids ----------------------------------------------------------------------------------
@transaction.atomic
def void_invoice(
    *, actor: User, invoice: Invoice, reason: str, now: datetime | None = None
) -> Invoice:
    """Cancel an invoice nothing is allocated to or written off: its procedures can be
    invoiced again, package credits and the promotion use come back, and what it sold
    (package credits, club membership, prepaid card) is withdrawn if still unused."""
    now = now or timezone.now()
    branch = invoice.branch
    _require(actor, branch, Capability.MONEY_ADJUST)
    reason = _reason(reason)
    # An invoice's date never changes: checked (and the branch locked) before the patient.
    locked_period = _check_lock(
        actor, branch, invoice.issued_on, "issued_on", _("The invoice date")
    )
    _lock_patient(invoice.patient_id)
    locked = _locked_invoice(invoice.pk)
    if locked.status == InvoiceStatus.VOID:
        raise InvalidInput.on("invoice", _("This invoice is already void."))
    if locked.paid_total or locked.written_off_total:
        raise InvalidInput.on(
            "invoice",
            _(
                "%(amount)s is paid or written off on this invoice: an invoice can be voided "
                "only while nothing is allocated to it."
            )
            % {"amount": _money(locked.paid_total + locked.written_off_total, locked.currency)},
        )
    lines = list(locked.lines.all())
    _withdraw_sales(actor, locked, lines)
    for line in lines:
        if line.package_credit_id is not None:
            PackageCredit.objects.filter(pk=line.package_credit_id).update(
                quantity_used=F("quantity_used") - line.quantity
            )
    if locked.promotion_id is not None:
        Promotion.objects.select_for_update().filter(pk=locked.promotion_id).update(
            uses_count=F("uses_count") - 1
        )
    before = locked.status
    locked.status, locked.balance = InvoiceStatus.VOID, ZERO
    locked.voided_at, locked.void_reason = now, reason
    locked.save(update_fields=["status", "balance", "voided_at", "void_reason", "updated_at"])
    locked.lines.update(is_void=True)
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=locked, patient_id=locked.patient_id,
        organization_id=branch.organization_id, summary=f"{locked.number} void: {reason}",
        changes=_with_lock_flag({"status": (before, locked.status)}, locked_period),
    )  # fmt: skip
    return locked


def _withdraw_sales(actor: User, invoice: Invoice, lines: list[InvoiceLine]) -> None:
    """Take back what a voided invoice sold, each row audited; refused once any of it was
    used (a package credit redeemed, a membership's discount on a live invoice line, value
    spent from a card). The caller holds the patient's lock."""
    for line in lines:
        if line.kind == LineKind.PACKAGE:
            _withdraw_package_credits(actor, invoice, line)
        elif line.kind == LineKind.CLUB:
            _withdraw_club_memberships(actor, invoice, line)
        elif line.kind == LineKind.PREPAID_CARD:
            _withdraw_cards(actor, invoice, line)


def _withdrawn(actor: User, invoice: Invoice, row: Model, action: str, changes: Changes) -> None:
    record_event(
        actor=actor, action=action, target=row, patient_id=invoice.patient_id,
        branch_id=invoice.branch_id, organization_id=invoice.branch.organization_id,
        summary=f"{invoice.number} void: {row}", changes=changes,
    )  # fmt: skip


def _withdraw_package_credits(actor: User, invoice: Invoice, line: InvoiceLine) -> None:
    credits = list(PackageCredit.objects.select_for_update().filter(sale_line=line).order_by("pk"))
    if any(credit.quantity_used for credit in credits):
        raise InvalidInput.on("invoice", _("Credits of this package were already used."))
    for credit in credits:
        PackageCredit.objects.filter(pk=credit.pk).update(quantity_total=0)
        _withdrawn(
            actor, invoice, credit, AuditAction.UPDATE,
            {"quantity_total": (credit.quantity_total, 0)},
        )  # fmt: skip


def _withdraw_club_memberships(actor: User, invoice: Invoice, line: InvoiceLine) -> None:
    memberships = list(ClubMembership.objects.filter(sale_line=line).order_by("pk"))
    used = list(
        Invoice.objects.filter(lines__club_membership__in=memberships, lines__is_void=False)
        .exclude(pk=invoice.pk)
        .order_by("number")
        .values_list("number", flat=True)
        .distinct()
    )
    if used:
        raise InvalidInput.on(
            "invoice",
            _("The discount of this club membership was already used on %(invoices)s.")
            % {"invoices": ", ".join(used)},
        )
    for membership in memberships:
        _withdrawn(
            actor, invoice, membership, AuditAction.DELETE,
            {"club": (membership.club_id, None), "starts_on": (membership.starts_on, None),
             "ends_on": (membership.ends_on, None)},
        )  # fmt: skip
        membership.delete()  # void lines that took its discount keep their reason text


def _withdraw_cards(actor: User, invoice: Invoice, line: InvoiceLine) -> None:
    cards = list(PrepaidCard.objects.select_for_update().filter(sale_line=line).order_by("pk"))
    if any(card.balance < card.initial_value for card in cards):
        raise InvalidInput.on("invoice", _("Value on this card was already spent."))
    for card in cards:
        PrepaidCard.objects.filter(pk=card.pk).update(is_active=False, balance=ZERO)
        _withdrawn(
            actor, invoice, card, AuditAction.UPDATE,
            {"balance": (quantize(card.balance, card.currency), ZERO),
             "is_active": (card.is_active, False)},
        )  # fmt: skip


# --- payments ---------------------------------------------------------------------------------
@transaction.atomic
def take_payment(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    amount: Decimal | str | int,
    method: str,
    kind: str = PaymentKind.PAYMENT,
    plan: TreatmentPlan | None = None,
    instalment: Instalment | None = None,
    prepaid_card_code: str = "",
    reference: str = "",
    invoice: Invoice | None = None,
    auto_allocate: bool = True,
    received_on: date | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Payment:
    """Receive money (or spend a prepaid card) in the branch's currency.

    A payment is allocated at once to `invoice`, or else to the patient's open invoices in
    the branch (the one its instalment's schedule is for first, then the oldest); what is
    left is held as credit. A deposit is held against
    `plan` until allocated (unless `invoice` is given). Naming an instalment raises its
    paid amount."""
    now = now or timezone.now()
    _check_patient(branch, patient)
    value = parse_amount(amount, branch.currency, "amount")
    received_on = _payment_date(actor, branch, received_on, now)
    locked_period = _check_lock(actor, branch, received_on, "received_on", _("The payment date"))
    _check_payment_references(branch, patient, method, kind, plan, invoice, prepaid_card_code)
    _lock_patient(patient.pk)
    targets = _allocation_targets(branch, patient, invoice, kind, auto_allocate, instalment)
    if instalment is not None:
        _check_instalment(branch, patient, instalment, value)
    card = None
    if method == PaymentMethod.PREPAID_CARD:
        card = _spendable_card(branch, patient, prepaid_card_code, value, received_on)
    payment = Payment.objects.create(
        branch=branch, patient=patient, kind=kind, method=method, currency=branch.currency,
        amount=value, received_at=now, received_on=received_on, reference=reference[:100],
        plan=plan, instalment=instalment, prepaid_card=card, unallocated=value,
        received_by=actor, note=note.strip()[:500],
    )  # fmt: skip
    if card is not None:
        PrepaidCard.objects.filter(pk=card.pk).update(balance=F("balance") - value)
    if instalment is not None:
        Instalment.objects.filter(pk=instalment.pk).update(paid_amount=F("paid_amount") + value)
    record_event(
        actor=actor, action=AuditAction.CREATE, target=payment, patient_id=patient.pk,
        organization_id=branch.organization_id,
        summary=f"{payment.get_kind_display()} {_money(value, payment.currency)} ({method})",
        changes=_with_lock_flag(
            {"amount": (None, value), "method": (None, method), "kind": (None, kind),
             "received_on": (None, received_on),
             "prepaid_card": (None, card.code if card else None)},
            locked_period,
        ),
    )  # fmt: skip
    for target in targets:
        if payment.unallocated == 0:
            break
        share = min(payment.unallocated, target.balance)
        if share > 0:
            _allocate(actor, payment, target, share, now)
    return payment


def _payment_date(actor: User, branch: Branch, received_on: date | None, now: datetime) -> date:
    today = _today(branch, now)
    received_on = received_on or today
    if received_on > today:
        raise InvalidInput.on("received_on", _("A payment cannot be dated in the future."))
    return received_on


def _check_payment_references(
    branch: Branch,
    patient: Patient,
    method: str,
    kind: str,
    plan: TreatmentPlan | None,
    invoice: Invoice | None,
    prepaid_card_code: str,
) -> None:
    errors: dict[str, list[str]] = {}
    if method not in PaymentMethod.values:
        errors["method"] = [_("Choose a payment method.")]
    if kind not in PaymentKind.values:
        errors["kind"] = [_("Choose a payment or a deposit.")]
    if plan is not None and (plan.patient_id != patient.pk or plan.branch_id != branch.pk):
        errors["plan"] = [_("This treatment plan is not this patient's in this branch.")]
    if invoice is not None and (
        invoice.patient_id != patient.pk
        or invoice.branch_id != branch.pk
        or invoice.status == InvoiceStatus.VOID
    ):
        errors["invoice"] = [_("This invoice is not an open invoice of this patient here.")]
    if method == PaymentMethod.PREPAID_CARD and not prepaid_card_code.strip():
        errors["prepaid_card_code"] = [_("Give the prepaid card's or voucher's code.")]
    if method != PaymentMethod.PREPAID_CARD and prepaid_card_code.strip():
        errors["prepaid_card_code"] = [_("A card code goes with the prepaid-card method.")]
    if errors:
        raise InvalidInput(errors)


def _allocation_targets(
    branch: Branch,
    patient: Patient,
    invoice: Invoice | None,
    kind: str,
    auto_allocate: bool,
    instalment: Instalment | None,
) -> list[Invoice]:
    """The invoices a new payment pays, locked (ascending id), in the order it pays them:
    the invoice an instalment's schedule is for first, then the oldest."""
    if invoice is not None:
        return [_locked_invoice(invoice.pk)]
    if not auto_allocate or kind == PaymentKind.DEPOSIT:
        return []
    rows = list(
        Invoice.objects.select_for_update()
        .filter(patient=patient, branch=branch, status=InvoiceStatus.OPEN)
        .order_by("pk")
    )
    scheduled = (
        InstalmentSchedule.objects.filter(instalments=instalment.pk)
        .values_list("invoice_id", flat=True)
        .first()
        if instalment is not None
        else None
    )
    return sorted(rows, key=lambda row: (row.pk != scheduled, row.issued_on, row.pk))


def _check_instalment(
    branch: Branch, patient: Patient, instalment: Instalment, value: Decimal
) -> None:
    locked = (
        Instalment.objects.select_for_update(of=("self",))
        .select_related("schedule")
        .get(pk=instalment.pk)
    )
    if locked.schedule.patient_id != patient.pk or locked.schedule.branch_id != branch.pk:
        raise InvalidInput.on("instalment", _("This instalment is not this patient's here."))
    left = locked.amount - locked.paid_amount
    if value > left:
        raise InvalidInput.on(
            "instalment",
            _("%(amount)s is more than what is left to pay on this instalment (%(left)s).")
            % {"amount": _plain(value, branch.currency), "left": _plain(left, branch.currency)},
        )


def _spendable_card(
    branch: Branch, patient: Patient, code: str, value: Decimal, day: date
) -> PrepaidCard:
    """The card a payment spends. One issued to a patient pays only for that patient; to
    anyone else it is as unknown as a mistyped code."""
    card = (
        PrepaidCard.objects.select_for_update()
        .filter(organization_id=branch.organization_id, code=code.strip().upper())
        .first()
    )
    field_name = "prepaid_card_code"
    if (
        card is None
        or not card.is_active
        or (card.patient_id is not None and card.patient_id != patient.pk)
    ):
        raise InvalidInput.on(field_name, _("No such prepaid card or voucher."))
    if card.currency != branch.currency:
        raise InvalidInput.on(
            field_name,
            _("This card holds %(currency)s; this branch takes %(branch)s.")
            % {"currency": card.currency, "branch": branch.currency},
        )
    if card.expires_on is not None and card.expires_on < day:
        raise InvalidInput.on(
            field_name,
            _("This card expired on %(day)s.") % {"day": card.expires_on.isoformat()},
        )
    if value > card.balance:
        raise InvalidInput.on(
            "amount",
            _("%(amount)s is more than the card's balance %(balance)s.")
            % {
                "amount": _plain(value, card.currency),
                "balance": _plain(card.balance, card.currency),
            },
        )
    return card


def _allocate(
    actor: User, payment: Payment, invoice: Invoice, amount: Decimal, now: datetime
) -> Allocation:
    """Apply part of a locked payment to a locked invoice and keep both totals."""
    allocation = Allocation.objects.create(
        payment=payment, invoice=invoice, amount=amount, allocated_at=now, allocated_by=actor
    )
    payment.allocated_total += amount
    payment.unallocated -= amount
    payment.save(update_fields=["allocated_total", "unallocated", "updated_at"])
    before = invoice.status
    invoice.paid_total += amount
    _settle(invoice)
    invoice.save(update_fields=["paid_total", "balance", "status", "updated_at"])
    record_event(
        actor=actor, action=AuditAction.CREATE, target=allocation, patient_id=invoice.patient_id,
        branch_id=invoice.branch_id, organization_id=invoice.branch.organization_id,
        summary=f"{_money(amount, invoice.currency)} → {invoice.number}",
        changes={"amount": (None, amount), "invoice_status": (before, invoice.status)},
    )  # fmt: skip
    return allocation


@transaction.atomic
def allocate_payment(
    *,
    actor: User,
    payment: Payment,
    invoice: Invoice,
    amount: Decimal | str | int | None = None,
    now: datetime | None = None,
) -> Allocation:
    """Apply (part of) a payment's unallocated money to an invoice of the same patient and
    branch; by default as much as both allow."""
    now = now or timezone.now()
    if invoice.patient_id != payment.patient_id or invoice.branch_id != payment.branch_id:
        raise InvalidInput.on(
            "invoice", _("This invoice is not the same patient's in the same branch.")
        )
    _lock_patient(payment.patient_id)
    locked_invoice = _locked_invoice(invoice.pk)
    locked_payment = _locked_payment(payment.pk)
    currency = locked_payment.currency
    if locked_invoice.status == InvoiceStatus.VOID:
        raise InvalidInput.on("invoice", _("This invoice is void."))
    if amount is None:
        value = min(locked_payment.unallocated, locked_invoice.balance)
        if value == 0:
            raise InvalidInput.on("amount", _("There is nothing to allocate."))
    else:
        value = parse_amount(amount, locked_payment.currency, "amount")
    if value > locked_invoice.balance:
        raise InvalidInput.on(
            "amount",
            _("%(amount)s is more than the invoice's balance %(balance)s.")
            % {
                "amount": _plain(value, currency),
                "balance": _plain(locked_invoice.balance, currency),
            },
        )
    if value > locked_payment.unallocated:
        raise InvalidInput.on(
            "amount",
            _("%(amount)s is more than the payment's unallocated %(unallocated)s.")
            % {
                "amount": _plain(value, currency),
                "unallocated": _plain(locked_payment.unallocated, currency),
            },
        )
    return _allocate(actor, locked_payment, locked_invoice, value, now)


@transaction.atomic
def apply_credit(
    *, actor: User, patient: Patient, branch: Branch, now: datetime | None = None
) -> list[Allocation]:
    """Allocate the patient's held money in the branch (deposits, overpayments) to their
    open invoices: oldest money to oldest invoices."""
    now = now or timezone.now()
    _lock_patient(patient.pk)
    invoices = list(
        Invoice.objects.select_for_update()
        .filter(patient=patient, branch=branch, status=InvoiceStatus.OPEN)
        .order_by("pk")
    )
    payments = list(
        Payment.objects.select_for_update()
        .filter(patient=patient, branch=branch, unallocated__gt=0)
        .order_by("pk")
    )
    invoices.sort(key=lambda row: (row.issued_on, row.pk))
    payments.sort(key=lambda row: (row.received_at, row.pk))
    made = []
    for invoice in invoices:
        for payment in payments:
            share = min(payment.unallocated, invoice.balance)
            if share > 0:
                made.append(_allocate(actor, payment, invoice, share, now))
    return made


# --- refunds and write-offs --------------------------------------------------------------------
@transaction.atomic
def refund_payment(
    *,
    actor: User,
    payment: Payment,
    amount: Decimal | str | int,
    method: str,
    reason: str,
    now: datetime | None = None,
) -> Refund:
    """Give back money from a payment's unallocated part. A prepaid-card payment is refunded
    to the card; money is refunded by a method money changes hands with."""
    now = now or timezone.now()
    branch = payment.branch
    _require(actor, branch, Capability.MONEY_ADJUST)
    value = parse_amount(amount, payment.currency, "amount")
    reason = _reason(reason)
    refunded_on = _today(branch, now)
    locked_period = _check_lock(actor, branch, refunded_on, "refunded_on", _("The refund date"))
    _lock_patient(payment.patient_id)
    locked = _locked_payment(payment.pk)
    currency = locked.currency
    if locked.method == PaymentMethod.PREPAID_CARD and method != PaymentMethod.PREPAID_CARD:
        raise InvalidInput.on("method", _("A prepaid-card payment is refunded to the card."))
    if locked.method != PaymentMethod.PREPAID_CARD and method not in REFUND_METHODS:
        raise InvalidInput.on("method", _("Choose cash, card, bank transfer or e-wallet."))
    refundable = locked.amount - locked.refunded_total
    if value > refundable:
        raise InvalidInput.on(
            "amount",
            _("%(amount)s is more than what was paid and not yet refunded (%(left)s).")
            % {"amount": _plain(value, currency), "left": _plain(refundable, currency)},
        )
    if value > locked.unallocated:
        raise InvalidInput.on(
            "amount",
            _("%(allocated)s is allocated to invoices: at most %(unallocated)s can be refunded.")
            % {
                "allocated": _plain(locked.allocated_total, currency),
                "unallocated": _plain(locked.unallocated, currency),
            },
        )
    refund = Refund.objects.create(
        branch=branch, patient_id=locked.patient_id, payment=locked, method=method,
        amount=value, reason=reason, refunded_at=now, refunded_on=refunded_on,
        refunded_by=actor,
    )  # fmt: skip
    locked.refunded_total += value
    locked.unallocated -= value
    locked.save(update_fields=["refunded_total", "unallocated", "updated_at"])
    if locked.prepaid_card_id is not None:
        PrepaidCard.objects.select_for_update().filter(pk=locked.prepaid_card_id).update(
            balance=F("balance") + value
        )
    if locked.instalment_id is not None:
        Instalment.objects.filter(pk=locked.instalment_id).update(
            paid_amount=F("paid_amount") - value
        )
    record_event(
        actor=actor, action=AuditAction.CREATE, target=refund, patient_id=locked.patient_id,
        organization_id=branch.organization_id,
        summary=f"-{_money(value, locked.currency)}: {reason}"[:255],
        changes=_with_lock_flag(
            {"amount": (None, value), "method": (None, method), "payment": (None, locked.pk)},
            locked_period,
        ),
    )  # fmt: skip
    return refund


@transaction.atomic
def write_off(
    *,
    actor: User,
    invoice: Invoice,
    amount: Decimal | str | int,
    reason: str,
    now: datetime | None = None,
) -> WriteOff:
    """Give up on part of an invoice's balance, with a reason."""
    now = now or timezone.now()
    branch = invoice.branch
    _require(actor, branch, Capability.MONEY_ADJUST)
    value = parse_amount(amount, invoice.currency, "amount")
    reason = _reason(reason)
    written_on = _today(branch, now)
    locked_period = _check_lock(actor, branch, written_on, "written_on", _("The write-off date"))
    _lock_patient(invoice.patient_id)
    locked = _locked_invoice(invoice.pk)
    currency = locked.currency
    if locked.status == InvoiceStatus.VOID:
        raise InvalidInput.on("invoice", _("This invoice is void."))
    if value > locked.balance:
        raise InvalidInput.on(
            "amount",
            _("%(amount)s is more than the invoice's balance %(balance)s.")
            % {"amount": _plain(value, currency), "balance": _plain(locked.balance, currency)},
        )
    row = WriteOff.objects.create(
        branch=branch, invoice=locked, amount=value, reason=reason, written_at=now,
        written_on=written_on, written_by=actor,
    )  # fmt: skip
    before = locked.status
    locked.written_off_total += value
    _settle(locked)
    locked.save(update_fields=["written_off_total", "balance", "status", "updated_at"])
    record_event(
        actor=actor, action=AuditAction.CREATE, target=row, patient_id=locked.patient_id,
        organization_id=branch.organization_id,
        summary=f"{locked.number} -{_money(value, locked.currency)}: {reason}"[:255],
        changes=_with_lock_flag(
            {"amount": (None, value), "invoice_status": (before, locked.status)}, locked_period
        ),
    )  # fmt: skip
    return row


# --- instalments --------------------------------------------------------------------------------
@transaction.atomic
def create_instalment_schedule(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    parts: Sequence[tuple[date, Decimal | str | int]],
    plan: TreatmentPlan | None = None,
    invoice: Invoice | None = None,
    note: str = "",
) -> InstalmentSchedule:
    """Agree to pay in parts on dates. For an invoice the parts must add up to its
    balance; for a plan with an accepted option, to that option's value."""
    _check_patient(branch, patient)
    if not parts:
        raise InvalidInput.on("parts", _("Give at least one instalment."))
    amounts = [parse_amount(amount, branch.currency, "parts") for _day, amount in parts]
    days = [day for day, _amount in parts]
    if days != sorted(days):
        raise InvalidInput.on("parts", _("Give the instalments in date order."))
    total = sum(amounts, ZERO)
    _lock_patient(patient.pk)
    expected = _schedule_total(branch, patient, plan, invoice)
    if expected is not None and total != expected:
        raise InvalidInput.on(
            "parts",
            _("The instalments add up to %(sum)s; the total to pay is %(total)s.")
            % {"sum": _plain(total, branch.currency), "total": _plain(expected, branch.currency)},
        )
    schedule = InstalmentSchedule.objects.create(
        branch=branch, patient=patient, plan=plan, invoice=invoice, currency=branch.currency,
        total=total, created_by=actor, note=note.strip()[:500],
    )  # fmt: skip
    Instalment.objects.bulk_create(
        Instalment(schedule=schedule, number=number, due_on=day, amount=amount)
        for number, (day, amount) in enumerate(zip(days, amounts, strict=True), 1)
    )
    record_event(
        actor=actor, action=AuditAction.CREATE, target=schedule, patient_id=patient.pk,
        branch_id=branch.pk, organization_id=branch.organization_id,
        summary=f"{len(amounts)} × → {_money(total, branch.currency)}",
        changes={"total": (None, total), "parts": (None, len(amounts))},
    )  # fmt: skip
    return schedule


def _schedule_total(
    branch: Branch, patient: Patient, plan: TreatmentPlan | None, invoice: Invoice | None
) -> Decimal | None:
    if invoice is not None:
        locked = _locked_invoice(invoice.pk)
        if (
            locked.patient_id != patient.pk
            or locked.branch_id != branch.pk
            or locked.status == InvoiceStatus.VOID
        ):
            raise InvalidInput.on(
                "invoice", _("This invoice is not an open invoice of this patient here.")
            )
        return locked.balance
    if plan is not None:
        if plan.patient_id != patient.pk or plan.branch_id != branch.pk:
            raise InvalidInput.on(
                "plan", _("This treatment plan is not this patient's in this branch.")
            )
        items = TreatmentItem.objects.filter(
            option__plan=plan, option__status=OptionStatus.ACCEPTED
        ).exclude(status=ItemStatus.CANCELLED)
        if items.exists():
            return sum((item.amount for item in items), ZERO)
    return None


# --- promotions ------------------------------------------------------------------------------------
@transaction.atomic
def create_promotion(
    *,
    actor: User,
    organization: Organization,
    code: str,
    name: str,
    kind: str,
    value: Decimal | str | int,
    valid_from: date,
    valid_until: date,
    max_uses: int | None = None,
    currency: str = "",
    channel: Channel | None = None,
) -> Promotion:
    """A promotion code: a percentage (up to 100) or a fixed amount in a currency."""
    code = code.strip().upper()
    errors: dict[str, list[str]] = {}
    if not code or len(code) > 30 or not set(code) <= PROMOTION_CODE_CHARACTERS:
        errors["code"] = [_("Give a code of up to 30 letters, digits, - or _.")]
    if not name.strip():
        errors["name"] = [_("Give the promotion a name.")]
    if kind not in Promotion.Kind.values:
        errors["kind"] = [_("Choose a percentage or a fixed amount.")]
    if valid_until < valid_from:
        errors["valid_until"] = [_("The end comes before the start.")]
    if max_uses is not None and max_uses < 1:
        errors["max_uses"] = [_("Give at least one use, or leave it empty.")]
    if channel is not None and channel.organization_id != organization.pk:
        errors["channel"] = [_("No such channel.")]
    if errors:
        raise InvalidInput(errors)
    currency = currency.strip().upper()
    if kind == Promotion.Kind.PERCENT:
        try:
            amount = parse_amount(value, "USD", "value")  # a percent has two decimals
        except InvalidInput:
            raise InvalidInput.on(
                "value", _("Give a percentage between 0.01 and 100, with at most 2 decimals.")
            ) from None
        if amount > HUNDRED:
            raise InvalidInput.on("value", _("A percentage is at most 100."))
        currency = ""
    else:
        if not currency or not _is_currency(currency):
            raise InvalidInput.on("currency", _("Give the currency of the amount."))
        amount = parse_amount(value, currency, "value")
    try:
        # The unique constraint is the check: a test before the insert would miss a code
        # another request is inserting at the same moment.
        with transaction.atomic():
            promotion = Promotion.objects.create(
                organization=organization, code=code, name=name.strip()[:200], kind=kind,
                value=amount, currency=currency, channel=channel, valid_from=valid_from,
                valid_until=valid_until, max_uses=max_uses,
            )  # fmt: skip
    except IntegrityError:  # the code (the other constraints were checked above)
        raise Conflict.on("code", _("This code is already used.")) from None
    record_event(
        actor=actor, action=AuditAction.CREATE, target=promotion, organization_id=organization.pk,
        summary=f"{code}: {name.strip()}",
        changes={"kind": (None, kind), "value": (None, amount), "currency": (None, currency)},
    )  # fmt: skip
    return promotion


def _is_currency(code: str) -> bool:
    """A currency a branch could have (so not one with three decimals)."""
    try:
        validate_currency(code)
    except ValidationError:
        return False
    return True


# --- packages, clubs, prepaid cards and vouchers ---------------------------------------------------
@transaction.atomic
def sell_package(
    *, actor: User, branch: Branch, patient: Patient, package: Package, now: datetime | None = None
) -> Invoice:
    """Invoice a package; the patient gets its credits, valid `valid_days` from today."""
    now = now or timezone.now()
    _check_patient(branch, patient)
    if package.branch_id != branch.pk or not package.is_active:
        raise InvalidInput.on("package", _("No such package in this branch."))
    issued_on, locked_period = _invoice_date(actor, branch, None, now)
    _lock_patient(patient.pk)
    line = _Line(kind=LineKind.PACKAGE, description=package.name, unit_price=package.price)
    invoice, rows = _issue(
        actor=actor, branch=branch, patient=patient, lines=[line], issued_on=issued_on, now=now,
        locked_period=locked_period,
    )  # fmt: skip
    for item in package.items.select_related("procedure").order_by("pk"):
        credit = PackageCredit.objects.create(
            patient=patient, package=package, procedure_id=item.procedure_id, sale_line=rows[0],
            quantity_total=item.quantity, expires_on=issued_on + timedelta(days=package.valid_days),
        )  # fmt: skip
        record_event(
            actor=actor, action=AuditAction.CREATE, target=credit, patient_id=patient.pk,
            branch_id=branch.pk, organization_id=branch.organization_id,
            summary=f"{invoice.number}: {package.name} · {item.quantity} × {item.procedure.code}",
            changes={"procedure": (None, item.procedure_id),
                     "quantity_total": (None, item.quantity),
                     "expires_on": (None, credit.expires_on)},
        )  # fmt: skip
    return invoice


@transaction.atomic
def sell_club_membership(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    club: Club,
    starts_on: date | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Invoice a club's fee; the patient is a member for its duration from `starts_on`."""
    now = now or timezone.now()
    _check_patient(branch, patient)
    if club.branch_id != branch.pk or not club.is_active:
        raise InvalidInput.on("club", _("No such club in this branch."))
    issued_on, locked_period = _invoice_date(actor, branch, None, now)
    starts_on = starts_on or issued_on
    _lock_patient(patient.pk)
    line = _Line(kind=LineKind.CLUB, description=club.name, unit_price=club.fee)
    invoice, rows = _issue(
        actor=actor, branch=branch, patient=patient, lines=[line], issued_on=issued_on, now=now,
        locked_period=locked_period,
    )  # fmt: skip
    membership = ClubMembership.objects.create(
        patient=patient, club=club, starts_on=starts_on, sale_line=rows[0],
        ends_on=add_months(starts_on, club.duration_months) - timedelta(days=1),
    )  # fmt: skip
    record_event(
        actor=actor, action=AuditAction.CREATE, target=membership, patient_id=patient.pk,
        branch_id=branch.pk, organization_id=branch.organization_id,
        summary=f"{invoice.number}: {club.name} {membership.starts_on} – {membership.ends_on}",
        changes={"club": (None, club.pk), "starts_on": (None, membership.starts_on),
                 "ends_on": (None, membership.ends_on)},
    )  # fmt: skip
    return invoice


def _unused_card_code(organization_id: int) -> str:
    while True:
        code = _new_code()
        if not PrepaidCard.objects.filter(organization_id=organization_id, code=code).exists():
            return code


def _create_card(**fields: Any) -> PrepaidCard:
    """Insert a card with a code `_unused_card_code` found free. Nothing locks a code that
    does not exist yet: a concurrent sale may take it first, and the unique constraint
    refuses the second (a conflict to retry, not a server error)."""
    try:
        with transaction.atomic():
            return PrepaidCard.objects.create(**fields)
    except IntegrityError:
        raise Conflict.on(
            "code", _("Another card was just given the same code: try again.")
        ) from None


def _card_expiry(branch: Branch, expires_on: date | None, now: datetime) -> None:
    if expires_on is not None and expires_on < _today(branch, now):
        raise InvalidInput.on("expires_on", _("The expiry date has passed."))


@transaction.atomic
def sell_prepaid_card(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    value: Decimal | str | int,
    price: Decimal | str | int | None = None,
    discount_reason: str = "",
    expires_on: date | None = None,
    now: datetime | None = None,
) -> tuple[PrepaidCard, Invoice]:
    """Sell stored value: an invoice for `price` (default: the value), and a card holding
    `value` the patient spends as a payment method.

    A price below the value is a discount: it needs money.adjust and a reason, and the
    invoice line shows the value less that discount."""
    now = now or timezone.now()
    _check_patient(branch, patient)
    amount = parse_amount(value, branch.currency, "value")
    charged = amount if price is None else parse_amount(price, branch.currency, "price")
    if charged > amount:
        raise InvalidInput.on("price", _("The price cannot be more than the card's value."))
    if charged < amount:
        if not _can(actor, branch, Capability.MONEY_ADJUST):
            raise InvalidInput.on("price", _("You may not sell a card below its value."))
        discount_reason = _reason(discount_reason, "discount_reason")
    _card_expiry(branch, expires_on, now)
    issued_on, locked_period = _invoice_date(actor, branch, None, now)
    _lock_patient(patient.pk)
    code = _unused_card_code(branch.organization_id)
    line = _Line(
        kind=LineKind.PREPAID_CARD,
        description=_("Prepaid card %(code)s (value %(value)s)")
        % {"code": code, "value": _money(amount, branch.currency)},
        unit_price=amount,
    )
    line.take(amount - charged, discount_reason)
    invoice, rows = _issue(
        actor=actor, branch=branch, patient=patient, lines=[line], issued_on=issued_on, now=now,
        locked_period=locked_period,
    )  # fmt: skip
    card = _create_card(
        organization_id=branch.organization_id, branch=branch, code=code,
        kind=PrepaidCard.Kind.CARD, patient=patient, currency=branch.currency,
        initial_value=amount, balance=amount, expires_on=expires_on, sale_line=rows[0],
        issued_by=actor,
    )  # fmt: skip
    record_event(
        actor=actor, action=AuditAction.CREATE, target=card, branch_id=branch.pk,
        patient_id=patient.pk, summary=f"{code} {_money(amount, branch.currency)}",
        changes={"value": (None, amount), "price": (None, charged)},
    )  # fmt: skip
    return card, invoice


@transaction.atomic
def issue_voucher(
    *,
    actor: User,
    branch: Branch,
    value: Decimal | str | int,
    patient: Patient | None = None,
    expires_on: date | None = None,
    now: datetime | None = None,
) -> PrepaidCard:
    """Give away stored value (a voucher), to a patient or to whoever holds the code."""
    now = now or timezone.now()
    if patient is not None:
        _check_patient(branch, patient)
    amount = parse_amount(value, branch.currency, "value")
    _card_expiry(branch, expires_on, now)
    card = _create_card(
        organization_id=branch.organization_id, branch=branch,
        code=_unused_card_code(branch.organization_id), kind=PrepaidCard.Kind.VOUCHER,
        patient=patient, currency=branch.currency, initial_value=amount, balance=amount,
        expires_on=expires_on, issued_by=actor,
    )  # fmt: skip
    record_event(
        actor=actor, action=AuditAction.CREATE, target=card, branch_id=branch.pk,
        patient_id=patient.pk if patient else None,
        summary=f"{card.code} {_money(amount, branch.currency)}",
        changes={"value": (None, amount), "kind": (None, card.kind)},
    )  # fmt: skip
    return card


# --- the lock date ----------------------------------------------------------------------------------
@transaction.atomic
def set_lock_date(
    *, actor: User, branch: Branch, lock_date: date | None, now: datetime | None = None
) -> Branch:
    """Close money up to `lock_date` (inclusive). Moving it earlier, or clearing it, reopens
    a closed period: only a user who may edit locked periods can, and it is audited."""
    now = now or timezone.now()
    _require(actor, branch, Capability.MONEY_CLOSE_PERIOD)
    # The same lock `_check_lock` takes: a dated money write in flight finishes first.
    locked = Branch.objects.select_for_update(no_key=True).get(pk=branch.pk)
    before = locked.financial_lock_date
    if lock_date is not None and lock_date > _today(locked, now):
        raise InvalidInput.on("lock_date", _("The lock date cannot be in the future."))
    reopens = before is not None and (lock_date is None or lock_date < before)
    if reopens and not _can(actor, locked, Capability.MONEY_EDIT_LOCKED):
        assert before is not None
        raise InvalidInput.on(
            "lock_date",
            _(
                "%(day)s is before the lock date %(lock_date)s: only a user who may edit "
                "locked periods can reopen a closed period."
            )
            % {"day": lock_date.isoformat() if lock_date else "—", "lock_date": before.isoformat()},
        )
    locked.financial_lock_date = lock_date
    locked.save(update_fields=["financial_lock_date", "updated_at"])
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=locked, branch_id=locked.pk,
        organization_id=locked.organization_id,
        summary=f"lock date {before} → {lock_date}",
        changes=_with_lock_flag({"financial_lock_date": (before, lock_date)}, reopens),
    )  # fmt: skip
    branch.financial_lock_date = lock_date
    return locked


# --- ad hoc fees ------------------------------------------------------------------------------
@transaction.atomic
def charge_fee(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    amount: Decimal | str,
    description: str,
    issued_on: date | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Invoice a fee that is not a procedure (a no-show fee): one line of kind "fee".

    Needs money.collect. Dated `issued_on` (today by default): a day on or before the
    branch's lock date is refused unless the actor may edit locked periods. The caller makes
    it once per cause (the front desk keeps one fee per appointment)."""
    now = now or timezone.now()
    _require(actor, branch, Capability.MONEY_COLLECT)
    _check_patient(branch, patient)
    value = parse_amount(amount, branch.currency, "amount")
    text = description.strip()
    if not text:
        raise InvalidInput.on("description", _("Say what the fee is for."))
    issued_on, locked_period = _invoice_date(actor, branch, issued_on, now)
    _lock_patient(patient.pk)
    line = _Line(kind=LineKind.FEE, description=text[:300], unit_price=value)
    invoice, _rows = _issue(
        actor=actor, branch=branch, patient=patient, lines=[line], issued_on=issued_on, now=now,
        locked_period=locked_period,
    )  # fmt: skip
    return invoice
