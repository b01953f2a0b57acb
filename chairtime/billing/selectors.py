"""Reads of money: a patient's balance and ageing, their invoices and payments, the
branch's ageing list, the daily cash-up, an invoice as a printable document, and what a
patient holds (instalment schedules, prepaid cards, package credits, club memberships)
beside the branch's promotions, prepaid cards, packages and clubs.

Sums are done by the database on the running totals the services keep (a reconciliation
test checks those against the rows); every figure is a Decimal in the branch's currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, Exists, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from chairtime.billing.models import (
    Allocation,
    Club,
    ClubMembership,
    InstalmentSchedule,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
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
from chairtime.clinical.models import PerformedProcedure
from chairtime.core.money import ZERO
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch

BUCKETS = ("0-30", "31-60", "61-90", "90+")
_MONEY: DecimalField[Decimal, Decimal] = DecimalField(max_digits=16, decimal_places=2)


def _sum(expression: str, **filters: object) -> Coalesce:
    return Coalesce(
        Sum(expression, filter=Q(**filters) if filters else None),
        Value(ZERO),
        output_field=_MONEY,
    )


def _bucket_sums(today: date) -> dict[str, Coalesce]:
    """Open balances per age bucket by issue date: 0-30, 31-60, 61-90 and over 90 days."""
    edges = [today - timedelta(days=days) for days in (30, 60, 90)]
    return {
        "age_0_30": _sum("balance", issued_on__gte=edges[0]),
        "age_31_60": _sum("balance", issued_on__lt=edges[0], issued_on__gte=edges[1]),
        "age_61_90": _sum("balance", issued_on__lt=edges[1], issued_on__gte=edges[2]),
        "age_90": _sum("balance", issued_on__lt=edges[2]),
    }


def _ageing(row: dict[str, Decimal]) -> dict[str, Decimal]:
    keys = ("age_0_30", "age_31_60", "age_61_90", "age_90")
    return {bucket: row[key] for bucket, key in zip(BUCKETS, keys, strict=True)}


# --- one patient ---------------------------------------------------------------------------
@dataclass(frozen=True)
class PatientBalance:
    """What a patient owes and holds in one currency. `balance` is what is open on
    invoices; `credit` is money received not yet allocated (deposits, overpayments);
    `net` = balance - credit."""

    currency: str
    invoiced: Decimal
    paid: Decimal
    written_off: Decimal
    balance: Decimal
    credit: Decimal
    ageing: dict[str, Decimal]

    @property
    def net(self) -> Decimal:
        return self.balance - self.credit


def get_patient_balance(
    *, patient: Patient, branch: Branch | None = None, today: date
) -> PatientBalance:
    """In one branch, or (branch None) in every branch of the patient's home branch's
    currency: amounts in different currencies are never added."""
    if branch is not None:
        currency = branch.currency
        invoices = Invoice.objects.filter(patient=patient, branch=branch)
        payments = Payment.objects.filter(patient=patient, branch=branch)
    else:
        currency = patient.home_branch.currency
        invoices = Invoice.objects.filter(patient=patient, currency=currency)
        payments = Payment.objects.filter(patient=patient, currency=currency)
    totals = invoices.exclude(status=InvoiceStatus.VOID).aggregate(
        invoiced=_sum("total"), paid=_sum("paid_total"), written_off=_sum("written_off_total"),
        open_balance=_sum("balance"), **_bucket_sums(today),
    )  # fmt: skip
    credit = payments.aggregate(credit=_sum("unallocated"))["credit"]
    return PatientBalance(
        currency=currency, invoiced=totals["invoiced"], paid=totals["paid"],
        written_off=totals["written_off"], balance=totals["open_balance"], credit=credit,
        ageing=_ageing(totals),
    )  # fmt: skip


def list_patient_invoices(*, patient: Patient, branch: Branch | None = None) -> QuerySet[Invoice]:
    """Newest first, void ones included."""
    invoices = Invoice.objects.filter(patient=patient).select_related("branch", "promotion")
    return invoices if branch is None else invoices.filter(branch=branch)


def list_patient_payments(*, patient: Patient, branch: Branch | None = None) -> QuerySet[Payment]:
    """Newest first, with the card spent and who received it."""
    payments = Payment.objects.filter(patient=patient).select_related(
        "branch", "prepaid_card", "received_by", "instalment"
    )
    return payments if branch is None else payments.filter(branch=branch)


def list_instalment_schedules(*, patient: Patient, branch: Branch) -> list[InstalmentSchedule]:
    """The patient's instalment schedules agreed in the branch, newest first, each with its
    instalments and the plan or invoice it pays for (two queries)."""
    return list(
        InstalmentSchedule.objects.filter(patient=patient, branch=branch)
        .select_related("plan", "invoice")
        .prefetch_related("instalments")
        .order_by("-created_at", "-pk")
    )


def list_patient_prepaid_cards(*, patient: Patient, branch: Branch) -> list[PrepaidCard]:
    """The patient's prepaid cards and vouchers from any branch of the organisation (they
    are spent in every one of them), newest first."""
    return list(
        PrepaidCard.objects.filter(patient=patient, organization_id=branch.organization_id)
        .select_related("branch")
        .order_by("-created_at", "-pk")
    )


def list_package_credits(*, patient: Patient, branch: Branch) -> list[PackageCredit]:
    """What the patient has left of the packages bought in the branch, the latest expiring
    first."""
    return list(
        PackageCredit.objects.filter(patient=patient, package__branch=branch)
        .select_related("package", "procedure")
        .order_by("-expires_on", "pk")
    )


def list_club_memberships(*, patient: Patient, branch: Branch) -> list[ClubMembership]:
    """The patient's memberships of the branch's clubs, the latest ending first."""
    return list(
        ClubMembership.objects.filter(patient=patient, club__branch=branch)
        .select_related("club")
        .order_by("-ends_on", "-pk")
    )


# --- the branch's ageing -----------------------------------------------------------------------
@dataclass(frozen=True)
class AgeingRow:
    patient_id: int
    patient_name: str
    patient_number: str
    ageing: dict[str, Decimal]
    total: Decimal


@dataclass(frozen=True)
class AgeingList:
    currency: str
    rows: list[AgeingRow]
    totals: dict[str, Decimal]
    total: Decimal


def list_ageing(*, branch: Branch, today: date) -> AgeingList:
    """Every patient with an open balance in the branch, largest first, by age bucket."""
    grouped = (
        Invoice.objects.filter(branch=branch, status=InvoiceStatus.OPEN)
        .values("patient_id", "patient__display_name", "patient__number")
        .annotate(total=_sum("balance"), **_bucket_sums(today))
        .filter(total__gt=0)
        .order_by("-total", "patient__display_name", "patient_id")
    )
    rows = [
        AgeingRow(
            patient_id=row["patient_id"], patient_name=row["patient__display_name"],
            patient_number=row["patient__number"], ageing=_ageing(row), total=row["total"],
        )
        for row in grouped
    ]  # fmt: skip
    totals = {bucket: sum((r.ageing[bucket] for r in rows), ZERO) for bucket in BUCKETS}
    return AgeingList(
        currency=branch.currency, rows=rows, totals=totals, total=sum(totals.values(), ZERO)
    )


# --- the daily cash-up ------------------------------------------------------------------------
@dataclass(frozen=True)
class MethodLine:
    method: str
    label: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class NetLine:
    method: str
    label: str
    received: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded


@dataclass(frozen=True)
class StaffLine:
    user_id: int | None
    name: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class CashUp:
    """One branch-local day of money. `received` is money that changed hands, by method;
    prepaid-card redemptions spend value sold earlier and are counted apart."""

    branch: Branch
    day: date
    currency: str
    received: list[MethodLine]
    refunds: list[MethodLine]
    net: list[NetLine]
    received_total: Decimal
    refunded_total: Decimal
    prepaid_redemptions: MethodLine
    prepaid_refunds: MethodLine
    deposits: MethodLine
    by_staff: list[StaffLine]
    invoices_issued: int
    invoiced_total: Decimal
    write_offs: MethodLine

    @property
    def net_total(self) -> Decimal:
        return self.received_total - self.refunded_total


def _by_method(rows: QuerySet[Payment] | QuerySet[Refund]) -> dict[str, tuple[int, Decimal]]:
    return {
        row["method"]: (row["count"], row["amount"])
        for row in rows.values("method").annotate(count=Count("pk"), amount=_sum("amount"))
    }


def get_cash_up(*, branch: Branch, day: date) -> CashUp:
    """Payments and refunds of the branch's local `day` by method, the net per method,
    prepaid-card redemptions and deposits apart, payments per staff member, and the
    invoices issued that day."""
    payments = Payment.objects.filter(branch=branch, received_on=day)
    refunds = Refund.objects.filter(branch=branch, refunded_on=day)
    money_payments = payments.exclude(method=PaymentMethod.PREPAID_CARD)
    received = _by_method(money_payments)
    refunded = _by_method(refunds)
    methods = [m for m in PaymentMethod if m != PaymentMethod.PREPAID_CARD]
    received_lines = [_line(m, received) for m in methods if m in received]
    refund_lines = [_line(m, refunded) for m in methods if m in refunded]
    net = [
        NetLine(m.value, str(m.label), received.get(m, (0, ZERO))[1], refunded.get(m, (0, ZERO))[1])
        for m in methods
        if m in received or m in refunded
    ]
    invoices = Invoice.objects.filter(branch=branch, issued_on=day).exclude(
        status=InvoiceStatus.VOID
    )
    issued = invoices.aggregate(count=Count("pk"), total=_sum("total"))
    write_offs = WriteOff.objects.filter(branch=branch, written_on=day).aggregate(
        count=Count("pk"), amount=_sum("amount")
    )
    return CashUp(
        branch=branch, day=day, currency=branch.currency, received=received_lines,
        refunds=refund_lines, net=net,
        received_total=sum((line.amount for line in received_lines), ZERO),
        refunded_total=sum((line.amount for line in refund_lines), ZERO),
        prepaid_redemptions=_line(PaymentMethod.PREPAID_CARD, _by_method(payments)),
        prepaid_refunds=_line(PaymentMethod.PREPAID_CARD, refunded),
        deposits=_total(money_payments.filter(kind=PaymentKind.DEPOSIT), PaymentKind.DEPOSIT),
        by_staff=_by_staff(money_payments), invoices_issued=issued["count"],
        invoiced_total=issued["total"],
        write_offs=MethodLine("", "", write_offs["count"], write_offs["amount"]),
    )  # fmt: skip


def _line(method: PaymentMethod, found: dict[str, tuple[int, Decimal]]) -> MethodLine:
    count, amount = found.get(method, (0, ZERO))
    return MethodLine(method=method.value, label=str(method.label), count=count, amount=amount)


def _total(payments: QuerySet[Payment], kind: PaymentKind) -> MethodLine:
    found = payments.aggregate(count=Count("pk"), amount=_sum("amount"))
    return MethodLine(
        method="", label=str(kind.label), count=found["count"], amount=found["amount"]
    )


def _by_staff(payments: QuerySet[Payment]) -> list[StaffLine]:
    rows = (
        payments.values(
            "received_by_id", "received_by__first_name", "received_by__last_name",
            "received_by__username",
        )
        .annotate(count=Count("pk"), amount=_sum("amount"))
        .order_by("-amount", "received_by_id")
    )  # fmt: skip
    return [
        StaffLine(
            user_id=row["received_by_id"],
            name=" ".join(
                filter(None, [row["received_by__first_name"], row["received_by__last_name"]])
            )
            or (row["received_by__username"] or ""),
            count=row["count"],
            amount=row["amount"],
        )
        for row in rows
    ]


# --- the branch's promotions, prepaid cards, packages and clubs --------------------------------
def list_promotions(*, branch: Branch) -> QuerySet[Promotion]:
    """The promotion codes of the branch's organisation (codes are organisation-wide), the
    latest starting first, with the marketing channel each belongs to."""
    return Promotion.objects.filter(organization_id=branch.organization_id).select_related(
        "channel"
    )


def list_prepaid_cards(*, branch: Branch) -> QuerySet[PrepaidCard]:
    """Prepaid cards and vouchers the branch issued, newest first, with their holders (a
    queryset, for the page to paginate)."""
    return (
        PrepaidCard.objects.filter(branch=branch)
        .select_related("patient")
        .order_by("-created_at", "-pk")
    )


def list_packages(*, branch: Branch) -> list[Package]:
    """The branch's packages, active ones first then by name, with their procedures (three
    queries)."""
    return list(
        Package.objects.filter(branch=branch)
        .prefetch_related("items__procedure")
        .order_by("-is_active", "name")
    )


def list_clubs(*, branch: Branch, today: date) -> list[Club]:
    """The branch's clubs, active ones first then by name, each annotated with
    `current_members`: memberships running on `today` (the branch's local date)."""
    current = Q(members__starts_on__lte=today, members__ends_on__gte=today)
    return list(
        Club.objects.filter(branch=branch)
        .annotate(current_members=Count("members", filter=current))
        .order_by("-is_active", "name")
    )


# --- an invoice to print ---------------------------------------------------------------------
@dataclass(frozen=True)
class InvoiceDocument:
    """Everything an invoice or receipt shows, in the patient's language."""

    invoice: Invoice
    lines: list[InvoiceLine]
    allocations: list[Allocation]
    write_offs: list[WriteOff]
    language: str


def get_invoice_document(*, invoice: Invoice) -> InvoiceDocument:
    invoice = Invoice.objects.select_related(
        "branch", "branch__organization", "patient", "promotion", "issued_by"
    ).get(pk=invoice.pk)
    language = invoice.patient.preferred_language or _branch_language(invoice.branch)
    return InvoiceDocument(
        invoice=invoice,
        lines=list(invoice.lines.select_related("performed", "performed__procedure")),
        allocations=list(invoice.allocations.select_related("payment")),
        write_offs=list(invoice.write_offs.order_by("written_at", "pk")),
        language=language,
    )


def _branch_language(branch: Branch) -> str:
    """The site language closest to the branch's locale ("zh_CN" -> "zh-hans")."""
    prefix = branch.locale.split("_")[0].lower()
    codes = [code for code, _name in settings.LANGUAGES]
    return next((code for code in codes if code.split("-")[0] == prefix), settings.LANGUAGE_CODE)


# --- production to invoice ------------------------------------------------------------------
def list_uninvoiced_performed(*, patient: Patient, branch: Branch) -> QuerySet[PerformedProcedure]:
    """The patient's procedures performed in this branch that no live invoice line charges
    yet, oldest first."""
    invoiced = InvoiceLine.objects.filter(performed=OuterRef("pk"), is_void=False)
    return (
        PerformedProcedure.objects.filter(patient=patient, branch=branch)
        .filter(~Exists(invoiced))
        .select_related("procedure", "doctor", "plan_item")
        .order_by("performed_at", "pk")
    )
