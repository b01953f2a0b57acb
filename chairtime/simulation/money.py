"""The simulated clinic's money: invoices for what its chairs performed, and how patients
paid them.

Per branch, after its appointment book and plans (treatment.py): each patient's visits,
plan acceptances and the payments they lead to are replayed in time order, the way
`billing.services` would have recorded them, and written as plain rows at the end with
every running total (invoice paid, written off and balance; payment allocated, refunded
and unallocated; prepaid-card balances; instalments paid; promotion uses; package credits
used; the invoice sequence) computed from the rows it sums.

- Most visits are invoiced when the patient leaves (a few are still waiting, some of the
  last days' not yet): one invoice per visit, a line per performed procedure; now and
  then a package, a club membership or a prepaid card sold on the same invoice.
- Most pay at once; some pay part now and the rest weeks later, some later, a few never
  (written off after months). Methods fit the country: cash and card in Spain and the
  US, bank transfers and e-wallets in Vietnam and China.
- Big accepted plans (implants, orthodontics, crowns) bring a deposit held against the
  plan, or an instalment schedule whose payments name their instalment; held money is
  applied to the plan's invoices as they are issued. What is left when the plan is done
  is refunded, and a card charged twice is refunded too.
- Promotion codes (organisation-wide), club discounts, package redemptions and prepaid
  cards (and a few vouchers) are used the way the billing pages use them.
  A few patients (promotion hunters, 5%) use a code on almost every visit.
- A handful of invoices are voided (issued twice, wrong patient) and issued again.

Amounts are Decimals exact in the branch currency (VND has no minor unit).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision

from chairtime.billing.models import (
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
    PackageItem,
    Payment,
    PaymentKind,
    PaymentMethod,
    PrepaidCard,
    Promotion,
    Refund,
    WriteOff,
)
from chairtime.clinical.models import PlanStatus
from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
from chairtime.simulation.treatment import Performed, Plan, Production

M = PaymentMethod
ZERO = Decimal(0)

# Methods people pay with, by country (weights): cash, card, bank transfer, e-wallet.
METHOD_WEIGHTS: dict[str, tuple[int, int, int, int]] = {
    "VN": (28, 12, 38, 22), "CN": (8, 14, 26, 52), "ES": (22, 68, 10, 0), "US": (8, 86, 6, 0),
}  # fmt: skip
METHODS = (M.CASH, M.CARD, M.BANK_TRANSFER, M.E_WALLET)
WALLETS = {"VN": ("MoMo", "ZaloPay", "VNPay"), "CN": ("WeChat Pay", "Alipay")}
UNINVOICED = 0.015  # of visits, never invoiced (the clinic forgot): uninvoiced production
RECENT_UNINVOICED = 0.4  # of the last three days' visits: not invoiced yet
VOID_SHARE = 0.004  # of invoices: voided and issued again
PROMOTION_SHARE = 0.04
# Promotion hunters: patients who come back mostly for the offers (the "low-value" group).
PROMO_HUNTERS, HUNTER_PROMOTION_SHARE = 0.05, 0.85
# How patients pay an invoice: at once, part now and the rest later, later, never.
PAY_NOW, PAY_PART, PAY_LATER = 0.82, 0.07, 0.06  # the rest (5%) never pay
DOUBLE_CHARGE = 0.01  # of card payments
WRITE_OFF_AFTER = (120, 200)  # days after issue, for invoices nobody pays
SMALL_BALANCE = 0.2  # of part payers: the rest written off as goodwill
SELL_CARD = {"VN": 0.012, "CN": 0.015}  # of visits; elsewhere 0.004
SELL_PACKAGE, SELL_CLUB, GIVE_VOUCHER = 0.006, 0.008, 0.003
BIG_PLAN_KINDS = frozenset({"implant", "orthodontic"})
DEPOSIT_KINDS = frozenset({"implant", "orthodontic", "endodontic", "cosmetic"})
VOID_REASONS = ("Issued twice", "Wrong patient", "Wrong procedure on the invoice")
WRITE_OFF_REASONS = ("Uncollectable after three reminders", "Patient moved away, no contact")

PROMOTIONS: tuple[tuple[str, str, str, str, int, int, int | None, str], ...] = (
    # code, name, kind, value, valid from (days before as_of), length (days), max uses, channel
    ("WELCOME10", "Welcome: 10% off the first treatment", "percent", "10", 400, 800, None, "website"),
    ("SMILE15", "Smile month: 15% off", "percent", "15", 150, 45, 2000, "facebook"),
    ("SPRING20", "Spring campaign: 20% off whitening", "percent", "20", 120, 60, 500, "tiktok"),
    ("FRIENDS5", "Friends and family: 5% off", "percent", "5", 700, 1400, None, "referral"),
)  # fmt: skip


@dataclass
class Promo:
    id: int
    code: str
    kind: str
    value: Decimal
    currency: str
    valid_from: date
    valid_until: date
    max_uses: int | None
    uses: int = 0


def make_promotions(
    organization: Any, currencies: Sequence[str], as_of: date, channels: dict[str, int]
) -> list[Promo]:
    """The organisation's promotion codes: a few percentages, and a fixed amount per
    currency (a free check-up's worth)."""
    promos = []
    for code, _name, kind, percent, before, days, max_uses, _channel in PROMOTIONS:
        start = as_of - timedelta(days=before)
        promos.append(Promo(0, code, kind, Decimal(percent), "", start,
                            start + timedelta(days=days), max_uses))  # fmt: skip
    for currency in dict.fromkeys(currencies):
        value = {"VND": Decimal(200_000), "CNY": Decimal(50), "EUR": Decimal(15)}.get(
            currency, Decimal(20))  # fmt: skip
        promos.append(Promo(0, f"GIFT-{currency}", "amount", value, currency,
                            as_of - timedelta(days=300), as_of + timedelta(days=60), 5000))  # fmt: skip
    first = next_id(Promotion)
    rows = []
    names = {p[0]: (p[1], p[7]) for p in PROMOTIONS}
    for number, promo in enumerate(promos):
        promo.id = first + number
        name, channel = names.get(promo.code, (f"Gift code ({promo.currency})", "partner"))
        rows.append((promo.id, organization.pk, promo.code, name, promo.kind, promo.value,
                     promo.currency, channels.get(channel), promo.valid_from, promo.valid_until,
                     promo.max_uses, 0, True, _noon(promo.valid_from), _noon(promo.valid_from)))  # fmt: skip
    insert_rows(Promotion, (
        "id", "organization", "code", "name", "kind", "value", "currency", "channel",
        "valid_from", "valid_until", "max_uses", "uses_count", "is_active", "created_at",
        "updated_at",
    ), rows)  # fmt: skip
    return promos


def finish_promotions(promos: Sequence[Promo]) -> None:
    """Write the promotions' use counts (they span branches) and reset the sequences."""
    for promo in promos:
        if promo.uses:
            Promotion.objects.filter(pk=promo.id).update(uses_count=promo.uses)
    reset_sequences(
        Promotion, Invoice, InvoiceLine, InvoiceSequence, Payment, Allocation, Refund, WriteOff,
        InstalmentSchedule, Instalment, PrepaidCard, Package, PackageItem, PackageCredit, Club,
        ClubMembership,
    )  # fmt: skip


def _noon(day: date) -> datetime:
    from datetime import UTC
    from datetime import time as clock

    return datetime.combine(day, clock(12), tzinfo=UTC)


# --- the ledger's objects ----------------------------------------------------------------
@dataclass(eq=False)
class _Line:
    id: int
    position: int
    kind: str
    description: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    discount_reason: str
    amount: Decimal
    performed_id: int | None = None
    credit: _Credit | None = None
    club_membership: int | None = None  # whose discount the line took


@dataclass(eq=False)
class _Invoice:
    id: int
    number: str
    patient_id: int
    issued_at: datetime
    issued_on: date
    lines: list[_Line]
    promotion_id: int | None = None
    status: str = InvoiceStatus.OPEN
    paid: Decimal = ZERO
    written_off: Decimal = ZERO
    voided_at: datetime | None = None
    void_reason: str = ""
    issued_by: int | None = None
    plan: Plan | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def balance(self) -> Decimal:
        return (
            ZERO if self.status == InvoiceStatus.VOID else self.total - self.paid - self.written_off
        )


@dataclass(eq=False)
class _Payment:
    id: int
    patient_id: int
    kind: str
    method: str
    amount: Decimal
    received_at: datetime
    received_on: date
    reference: str = ""
    plan_id: int | None = None
    instalment: _Instalment | None = None
    card: _Card | None = None
    allocated: Decimal = ZERO
    refunded: Decimal = ZERO
    received_by: int | None = None
    for_plan: int | None = None  # a deposit's or an instalment's plan

    @property
    def unallocated(self) -> Decimal:
        return self.amount - self.allocated - self.refunded


@dataclass(eq=False)
class _Instalment:
    id: int
    number: int
    due_on: date
    amount: Decimal
    paid: Decimal = ZERO


@dataclass(eq=False)
class _Card:
    id: int
    code: str
    kind: str
    patient_id: int
    value: Decimal
    balance: Decimal
    expires_on: date
    sale_line: int | None
    issued_by: int | None
    created_at: datetime


@dataclass(eq=False)
class _Credit:
    id: int
    patient_id: int
    package: int
    procedure_id: int
    sale_line: int
    total: int
    expires_on: date
    used: int = 0


@dataclass
class _PatientBook:
    """One patient's money while the branch is replayed."""

    invoices: list[_Invoice] = field(default_factory=list)  # in issue order
    payments: list[_Payment] = field(default_factory=list)  # in receipt order
    cards: list[_Card] = field(default_factory=list)
    credits: list[_Credit] = field(default_factory=list)
    club_until: date | None = None
    club_membership: int | None = None  # the membership that lasts until club_until
    instalments_due: int = 0  # instalments of open schedules not yet paid
    hunts_promotions: bool = False  # uses a promotion code whenever there is one


class _Ids:
    """The next primary key of each table written (the simulator is the only writer)."""

    def __init__(self, *models: Any) -> None:
        self.next = {model: next_id(model) for model in models}

    def take(self, model: Any) -> int:
        value = self.next[model]
        self.next[model] = value + 1
        return value


# --- one branch ----------------------------------------------------------------------------
class BranchMoney:
    def __init__(
        self,
        rng: random.Random,
        *,
        branch: Any,
        now: datetime,
        production: Production,
        prices: dict[int, Decimal],
        procedure_codes: dict[str, int],
        names: dict[int, str],
        promos: Sequence[Promo],
        receptionists: Sequence[int],
        managers: Sequence[int],
        rounding: Decimal,
        hunters: random.Random | None = None,
    ) -> None:
        # `hunters` picks the promotion hunters, apart from `rng` so that the rest stays put.
        self.hunters = hunters
        self.rng, self.branch, self.now, self.production = rng, branch, now, production
        self.zone, self.currency = branch.zone, branch.currency
        self.quantum = Decimal(1).scaleb(-get_currency_precision(branch.currency))
        self.prices, self.codes, self.names, self.rounding = (
            prices,
            procedure_codes,
            names,
            rounding,
        )
        self.promos = [p for p in promos if not p.currency or p.currency == self.currency]
        self.cashiers = list(receptionists) or list(managers)
        self.manager = managers[0] if managers else None
        weights = METHOD_WEIGHTS.get(branch.country, METHOD_WEIGHTS["US"])
        self.methods = [m for m, w in zip(METHODS, weights, strict=True) if w]
        self.method_weights = [w for w in weights if w]
        self.ids = _Ids(Invoice, InvoiceLine, Payment, Allocation, Refund, WriteOff,
                        InstalmentSchedule, Instalment, PrepaidCard, PackageCredit,
                        ClubMembership)  # fmt: skip
        self.sequence = 0
        self.books: dict[int, _PatientBook] = {}
        self.invoices: list[_Invoice] = []
        self.payments: list[_Payment] = []
        self.allocations: list[tuple[Any, ...]] = []
        self.refunds: list[tuple[Any, ...]] = []
        self.write_offs: list[tuple[Any, ...]] = []
        self.schedules: list[tuple[Any, ...]] = []
        self.instalments: list[_Instalment] = []
        self.instalment_schedule: dict[int, int] = {}  # instalment → schedule
        self.cards: list[_Card] = []
        self.credits: list[_Credit] = []
        self.memberships: list[tuple[Any, ...]] = []
        self.events: list[tuple[datetime, int, str, Any]] = []
        self.counter = 0
        self.packages: list[tuple[int, str, str, Decimal, tuple[tuple[int, int], ...]]] = []
        self.club_id, self.club_fee, self.club_percent = 0, ZERO, Decimal(10)
        self.package_names: dict[int, str] = {}

    # --- set-up: the branch's packages and club -----------------------------------------
    def catalogue(self) -> None:
        price = self.prices
        scale, exam = self.codes["SCALE"], self.codes["EXAM"]
        kid, fluor = self.codes["KID-EXAM"], self.codes["FLUOR"]
        first = next_id(Package)
        for number, (code, name, parts) in enumerate((
            ("CLEAN-2", "Two check-ups and cleanings", ((exam, 2), (scale, 2))),
            ("KIDS-2", "Children: two check-ups with fluoride", ((kid, 2), (fluor, 2))),
        )):  # fmt: skip
            full = sum((price[p] * q for p, q in parts), ZERO)
            cost = self._nice(full * Decimal("0.85"))
            self.packages.append((first + number, code, name, cost, parts))
            self.package_names[first + number] = name
        insert_rows(Package, ("id", "branch", "code", "name", "price", "valid_days", "is_active",
                              "created_at", "updated_at"),
                    [(pk, self.branch.pk, code, name, cost, 365, True, self._start, self._start)
                     for pk, code, name, cost, _ in self.packages])  # fmt: skip
        insert_rows(PackageItem, ("package", "procedure", "quantity"),
                    [(pk, p, q) for pk, _, _, _, parts in self.packages for p, q in parts])  # fmt: skip
        self.club_id = next_id(Club)
        self.club_fee = self._nice(price[scale] * 2)
        insert_rows(Club, ("id", "branch", "name", "fee", "duration_months", "discount_percent",
                           "is_active", "created_at", "updated_at"),
                    [(self.club_id, self.branch.pk, "Smile Club", self.club_fee, 12,
                      self.club_percent, True, self._start, self._start)])  # fmt: skip

    @property
    def _start(self) -> datetime:
        return self.production.performed[0].performed_at if self.production.performed else self.now

    def _nice(self, amount: Decimal) -> Decimal:
        """Rounded down to the country's round price step (at least one step)."""
        step = self.rounding
        return max(step, (amount / step).to_integral_value(rounding=ROUND_DOWN) * step)

    # --- the replay ------------------------------------------------------------------------
    def run(self) -> None:
        self.catalogue()
        rng = self.rng
        visits: dict[int, list[Performed]] = {}
        for performed in self.production.performed:
            visits.setdefault(performed.appointment_id, []).append(performed)
        recent = self.now - timedelta(days=3)
        for performed_list in visits.values():
            first = performed_list[0]
            if first.performed_at >= recent and rng.random() < RECENT_UNINVOICED:
                continue
            if rng.random() < UNINVOICED:
                continue
            at = first.performed_at + timedelta(minutes=rng.randint(3, 20))
            if at < self.now:
                self._push(at, "visit", performed_list)
        for plan in self.production.plans:
            if plan.accepted_at is None or plan.kind not in DEPOSIT_KINDS:
                continue
            roll = rng.random()
            at = plan.accepted_at + timedelta(minutes=rng.randint(2, 15))
            if plan.kind in BIG_PLAN_KINDS and roll < 0.45:
                self._push(at, "schedule", plan)
            elif roll < (0.8 if plan.kind in BIG_PLAN_KINDS else 0.35):
                self._push(at, "deposit", plan)
            if plan.status == PlanStatus.COMPLETED and plan.completed_at is not None:
                self._push(plan.completed_at + timedelta(days=rng.randint(1, 10)), "plan_done",
                           plan)  # fmt: skip
        while self.events:
            at, _, kind, subject = heapq.heappop(self.events)
            if at >= self.now:
                continue
            getattr(self, f"_on_{kind}")(at, subject)
        self._write()

    def _push(self, at: datetime, kind: str, subject: Any) -> None:
        self.counter += 1
        heapq.heappush(self.events, (at, self.counter, kind, subject))

    def _book(self, patient_id: int) -> _PatientBook:
        book = self.books.get(patient_id)
        if book is None:
            book = self.books[patient_id] = _PatientBook()
            book.hunts_promotions = (
                self.hunters is not None and self.hunters.random() < PROMO_HUNTERS
            )
        return book

    def _day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def _cashier(self) -> int | None:
        return self.cashiers[self.rng.randrange(len(self.cashiers))] if self.cashiers else None

    # --- events ----------------------------------------------------------------------------
    def _on_visit(self, at: datetime, performed_list: list[Performed]) -> None:
        rng = self.rng
        patient_id = performed_list[0].patient_id
        book = self._book(patient_id)
        day = self._day(at)
        if rng.random() < VOID_SHARE:  # issued, then voided and issued again
            wrong = self._invoice(at, patient_id, performed_list, book, plain=True)
            wrong.status, wrong.voided_at = InvoiceStatus.VOID, at + timedelta(minutes=4)
            wrong.void_reason = rng.choice(VOID_REASONS)
            at += timedelta(minutes=6)
        invoice = self._invoice(at, patient_id, performed_list, book)
        self._sell(at, day, patient_id, invoice, book)
        self._apply_credit(at, book, invoice)
        if invoice.balance <= 0:
            invoice.status = InvoiceStatus.PAID
            return
        if book.instalments_due > 0 and invoice.plan is not None:
            return  # the instalments pay it
        for card in book.cards:  # stored value first (not a card sold on this invoice)
            if card.balance > 0 and card.expires_on >= day and card.created_at < at:
                if invoice.balance <= 0:
                    break
                amount = min(card.balance, invoice.balance)
                card.balance -= amount
                self._pay(at, patient_id, amount, book, invoice=invoice, method=M.PREPAID_CARD,
                          card=card)  # fmt: skip
        if invoice.balance <= 0:
            return
        roll = rng.random()
        if roll < PAY_NOW:
            payment = self._pay(at, patient_id, invoice.balance, book, invoice=invoice)
            if payment.method == M.CARD and rng.random() < DOUBLE_CHARGE:
                twice = self._pay(at + timedelta(minutes=1), patient_id, payment.amount, book,
                                  invoice=invoice, method=M.CARD)  # fmt: skip
                self._push(at + timedelta(days=rng.randint(1, 5)), "refund",
                           (twice, "Card charged twice"))  # fmt: skip
        elif roll < PAY_NOW + PAY_PART:
            part = self._nice(invoice.balance * Decimal(rng.choice(("0.3", "0.5", "0.7"))))
            if part < invoice.balance:
                self._pay(at, patient_id, part, book, invoice=invoice)
            if rng.random() < SMALL_BALANCE and invoice.balance <= invoice.total * Decimal("0.3"):
                self._write_off(at + timedelta(minutes=2), invoice, "Goodwill: small balance")
            else:
                later = at + timedelta(days=rng.randint(7, 60), minutes=rng.randint(0, 600))
                self._push(later, "settle", invoice)
        elif roll < PAY_NOW + PAY_PART + PAY_LATER:
            later = at + timedelta(days=rng.randint(1, 45), minutes=rng.randint(0, 600))
            self._push(later, "settle", invoice)
        else:
            days = rng.randint(*WRITE_OFF_AFTER)
            self._push(at + timedelta(days=days), "uncollectable", invoice)

    def _invoice(
        self,
        at: datetime,
        patient_id: int,
        performed_list: list[Performed],
        book: _PatientBook,
        plain: bool = False,
    ) -> _Invoice:
        """An invoice for a visit's procedures: club, package or promotion discounts unless
        `plain` (the copy that will be voided)."""
        rng, day = self.rng, self._day(at)
        self.sequence += 1
        invoice = _Invoice(
            id=self.ids.take(Invoice), number=f"{self.branch.code.upper()}-{self.sequence:06d}",
            patient_id=patient_id, issued_at=at, issued_on=day, lines=[],
            issued_by=self._cashier(), plan=performed_list[0].plan,
        )  # fmt: skip
        promo = None
        is_member = bool(book.club_until and book.club_until >= day)
        share = HUNTER_PROMOTION_SHARE if book.hunts_promotions else PROMOTION_SHARE
        if not plain and not is_member and rng.random() < share:
            usable = [p for p in self.promos if p.valid_from <= day <= p.valid_until
                          and (p.max_uses is None or p.uses < p.max_uses)]  # fmt: skip
            promo = rng.choice(usable) if usable else None
        for position, performed in enumerate(performed_list, 1):
            gross = performed.unit_price * performed.quantity
            discount, reason, credit, membership = performed.discount, "", None, None
            if discount:
                reason = "As in the treatment plan"
            if not plain:
                credit = next((c for c in book.credits if c.procedure_id == performed.procedure.id
                               and c.used < c.total and c.expires_on >= day), None)  # fmt: skip
            if credit is not None:
                credit.used += 1
                discount, reason = gross, f"Package: {self.package_names[credit.package]}"
            elif not plain and book.club_until and book.club_until >= day:
                extra = (performed.amount * self.club_percent / 100).quantize(
                    self.quantum, rounding=ROUND_HALF_UP)  # fmt: skip
                if extra > 0:  # as billing.services: a discount taken names its membership
                    reason = "; ".join(
                        filter(None, (reason, f"Club: Smile Club ({self.club_percent}%)"))
                    )
                    discount += extra
                    membership = book.club_membership
            elif promo is not None and promo.kind == "percent":
                extra = (performed.amount * promo.value / 100).quantize(
                    self.quantum, rounding=ROUND_HALF_UP)  # fmt: skip
                reason = "; ".join(filter(None, (reason, f"Promotion {promo.code}")))
                discount += extra
            invoice.lines.append(_Line(
                self.ids.take(InvoiceLine), position, LineKind.PROCEDURE,
                self.names[performed.procedure.id], performed.quantity, performed.unit_price,
                discount, reason, gross - discount, performed.id, credit, membership,
            ))  # fmt: skip
        if promo is not None and promo.kind == "amount":
            left = promo.value
            for line in invoice.lines:
                extra = min(left, line.amount)
                if extra > 0:
                    line.discount += extra
                    line.amount -= extra
                    line.discount_reason = "; ".join(
                        filter(None, (line.discount_reason, f"Promotion {promo.code}"))
                    )
                    left -= extra
        if promo is not None:
            promo.uses += 1
            invoice.promotion_id = promo.id
        self.invoices.append(invoice)
        if not plain:
            book.invoices.append(invoice)
        return invoice

    def _sell(
        self, at: datetime, day: date, patient_id: int, invoice: _Invoice, book: _PatientBook
    ) -> None:
        """Now and then a prepaid card, a package or a club membership on the same invoice."""
        rng = self.rng
        if rng.random() < SELL_CARD.get(self.branch.country, 0.004) and not book.cards:
            value = self._nice(self.prices[self.codes["SCALE"]] * 10)
            price = self._nice(value * Decimal("0.9"))
            # Sold below its value: the difference is the line's discount, as in billing.
            line = self._add_line(invoice, LineKind.PREPAID_CARD, "Prepaid card", value)
            line.discount, line.amount = value - price, price
            line.discount_reason = "Prepaid card: 10% bonus value"
            self._card(at, day, patient_id, "card", value, line.id, book)
        elif rng.random() < GIVE_VOUCHER:
            self._card(at, day, patient_id, "voucher", self.prices[self.codes["EXAM"]], None, book)
        if rng.random() < SELL_PACKAGE and not book.credits:
            pk, _, name, price, parts = self.packages[0 if rng.random() < 0.8 else 1]
            line = self._add_line(invoice, LineKind.PACKAGE, name, price)
            for procedure_id, quantity in parts:
                credit = _Credit(self.ids.take(PackageCredit), patient_id, pk, procedure_id,
                                 line.id, quantity, day + timedelta(days=365))  # fmt: skip
                book.credits.append(credit)
                self.credits.append(credit)
        if rng.random() < SELL_CLUB and not (book.club_until and book.club_until >= day):
            line = self._add_line(invoice, LineKind.CLUB, "Smile Club (12 months)", self.club_fee)
            ends = _add_months(day, 12) - timedelta(days=1)
            book.club_until, book.club_membership = ends, self.ids.take(ClubMembership)
            self.memberships.append((book.club_membership, patient_id, self.club_id, day, ends,
                                     line.id))  # fmt: skip

    def _add_line(self, invoice: _Invoice, kind: str, description: str, price: Decimal) -> _Line:
        line = _Line(self.ids.take(InvoiceLine), len(invoice.lines) + 1, kind, description, 1,
                     price, ZERO, "", price)  # fmt: skip
        invoice.lines.append(line)
        return line

    def _card(
        self,
        at: datetime,
        day: date,
        patient_id: int,
        kind: str,
        value: Decimal,
        sale_line: int | None,
        book: _PatientBook,
    ) -> None:
        card_id = self.ids.take(PrepaidCard)
        prefix = "C" if kind == "card" else "V"
        card = _Card(card_id, f"{self.branch.code.upper()}-{prefix}{card_id:07d}", kind,
                     patient_id, value, value, day + timedelta(days=365), sale_line,
                     self._cashier(), at)  # fmt: skip
        book.cards.append(card)
        self.cards.append(card)

    def _apply_credit(self, at: datetime, book: _PatientBook, invoice: _Invoice) -> None:
        """Held money (deposits, instalments, overpayments) goes to the new invoice."""
        for payment in book.payments:
            if invoice.balance <= 0:
                break
            if payment.for_plan is not None and payment.unallocated > 0:
                self._allocate(at, payment, invoice, min(payment.unallocated, invoice.balance))

    def _allocate(
        self, at: datetime, payment: _Payment, invoice: _Invoice, amount: Decimal
    ) -> None:
        payment.allocated += amount
        invoice.paid += amount
        if invoice.balance == 0:
            invoice.status = InvoiceStatus.PAID
        self.allocations.append((self.ids.take(Allocation), payment.id, invoice.id, amount, at,
                                 payment.received_by))  # fmt: skip

    def _pay(
        self,
        at: datetime,
        patient_id: int,
        amount: Decimal,
        book: _PatientBook,
        *,
        invoice: _Invoice | None = None,
        method: str | None = None,
        kind: str = PaymentKind.PAYMENT,
        plan: Plan | None = None,
        instalment: _Instalment | None = None,
        card: _Card | None = None,
    ) -> _Payment:
        """Money received: to `invoice` if given, else the patient's open invoices oldest
        first; deposits are held. What is left stays unallocated (the patient's credit)."""
        rng = self.rng
        method = method or rng.choices(self.methods, weights=self.method_weights)[0]
        payment = _Payment(
            id=self.ids.take(Payment), patient_id=patient_id, kind=kind, method=method,
            amount=amount, received_at=at, received_on=self._day(at),
            reference=self._reference(method), plan_id=plan.id if plan else None,
            instalment=instalment, card=card, received_by=self._cashier(),
            for_plan=plan.id if plan else None,
        )  # fmt: skip
        self.payments.append(payment)
        book.payments.append(payment)
        if kind == PaymentKind.DEPOSIT:
            return payment
        targets = [invoice] if invoice is not None else book.invoices
        for target in targets:
            if payment.unallocated <= 0:
                break
            if target.status == InvoiceStatus.OPEN and target.balance > 0:
                self._allocate(at, payment, target, min(payment.unallocated, target.balance))
        return payment

    def _reference(self, method: str) -> str:
        rng = self.rng
        if method == M.CARD:
            return f"**** {rng.randint(0, 9999):04d}"
        if method == M.BANK_TRANSFER:
            return f"TRF{rng.randint(10**8, 10**9 - 1)}"
        if method == M.E_WALLET:
            wallet = rng.choice(WALLETS.get(self.branch.country, ("PayPal",)))
            return f"{wallet} {rng.randint(10**7, 10**8 - 1)}"
        return ""

    def _write_off(self, at: datetime, invoice: _Invoice, reason: str) -> None:
        amount = invoice.balance
        if amount <= 0 or invoice.status == InvoiceStatus.VOID:
            return
        invoice.written_off += amount
        invoice.status = InvoiceStatus.PAID
        self.write_offs.append((self.ids.take(WriteOff), self.branch.pk, invoice.id, amount, reason,
                                at, self._day(at), self.manager))  # fmt: skip

    def _on_settle(self, at: datetime, invoice: _Invoice) -> None:
        if invoice.status == InvoiceStatus.OPEN and invoice.balance > 0:
            self._pay(at, invoice.patient_id, invoice.balance, self._book(invoice.patient_id),
                      invoice=invoice)  # fmt: skip

    def _on_uncollectable(self, at: datetime, invoice: _Invoice) -> None:
        self._write_off(at, invoice, self.rng.choice(WRITE_OFF_REASONS))

    def _on_deposit(self, at: datetime, plan: Plan) -> None:
        share = Decimal(self.rng.choice(("0.2", "0.3", "0.5")))
        amount = min(self._nice(plan.total * share), plan.total)
        if amount > 0:
            self._pay(at, plan.patient_id, amount, self._book(plan.patient_id),
                      kind=PaymentKind.DEPOSIT, plan=plan)  # fmt: skip

    def _on_schedule(self, at: datetime, plan: Plan) -> None:
        rng, total = self.rng, plan.total
        parts = rng.randint(3, 6) if plan.kind == "implant" else rng.randint(6, 12)
        each = (total / parts).quantize(self.quantum, rounding=ROUND_DOWN)
        if each <= 0:
            return
        schedule_id = self.ids.take(InstalmentSchedule)
        first_day = self._day(at)
        book = self._book(plan.patient_id)
        for number in range(1, parts + 1):
            amount = each if number < parts else total - each * (parts - 1)
            instalment = _Instalment(self.ids.take(Instalment), number,
                                     _add_months(first_day, number - 1), amount)  # fmt: skip
            self.instalments.append(instalment)
            self.instalment_schedule[instalment.id] = schedule_id
            book.instalments_due += 1
            if rng.random() < 0.08 and number > 1:
                continue  # missed: still due
            late = rng.choice((0, 0, 0, 1, 2, 5, 12))
            paid_at = (at if number == 1 else datetime.combine(
                instalment.due_on + timedelta(days=late), datetime.min.time(), tzinfo=self.zone,
            ) + timedelta(minutes=rng.randint(9 * 60, 19 * 60)))  # fmt: skip
            self._push(paid_at, "instalment", (plan, instalment))
        self.schedules.append((schedule_id, self.branch.pk, plan.patient_id, plan.id, None,
                               self.currency, total, self.manager or self._cashier(),
                               f"{parts} monthly instalments", at, at))  # fmt: skip

    def _on_instalment(self, at: datetime, subject: tuple[Plan, _Instalment]) -> None:
        plan, instalment = subject
        book = self._book(plan.patient_id)
        instalment.paid = instalment.amount
        book.instalments_due -= 1
        payment = self._pay(at, plan.patient_id, instalment.amount, book, instalment=instalment)
        payment.for_plan = plan.id

    def _on_refund(self, at: datetime, subject: tuple[_Payment, str]) -> None:
        payment, reason = subject
        self._refund(at, payment, payment.unallocated, reason)

    def _on_plan_done(self, at: datetime, plan: Plan) -> None:
        """The treatment is finished: what the patient paid ahead and no invoice needs goes
        back, unless an invoice of theirs is still open (then it pays that)."""
        book = self._book(plan.patient_id)
        if any(i.status == InvoiceStatus.OPEN and i.balance > 0 for i in book.invoices):
            return
        for payment in book.payments:
            if payment.for_plan == plan.id and payment.unallocated > 0:
                self._refund(at, payment, payment.unallocated, "Treatment finished: paid ahead")

    def _refund(self, at: datetime, payment: _Payment, amount: Decimal, reason: str) -> None:
        if amount <= 0:
            return
        payment.refunded += amount
        self.refunds.append((self.ids.take(Refund), self.branch.pk, payment.patient_id,
                             payment.id, payment.method, amount, reason, at, self._day(at),
                             self.manager))  # fmt: skip

    # --- rows --------------------------------------------------------------------------------
    def _write(self) -> None:
        branch_id, currency = self.branch.pk, self.currency
        invoice_rows, line_rows = [], []
        for invoice in self.invoices:
            lines = invoice.lines
            subtotal = sum((line.unit_price * line.quantity for line in lines), ZERO)
            discounts = sum((line.discount for line in lines), ZERO)
            void = invoice.status == InvoiceStatus.VOID
            if not void and invoice.balance == 0:
                invoice.status = InvoiceStatus.PAID
            updated = invoice.voided_at or invoice.issued_at
            invoice_rows.append((
                invoice.id, branch_id, invoice.patient_id, invoice.number, currency,
                invoice.issued_at, invoice.issued_on, invoice.issued_on + timedelta(days=14),
                invoice.status, invoice.promotion_id, subtotal, discounts, invoice.total,
                invoice.paid, invoice.written_off, invoice.balance, invoice.issued_by,
                invoice.voided_at, invoice.void_reason, "", invoice.issued_at, updated,
            ))  # fmt: skip
            for line in lines:
                line_rows.append((
                    line.id, invoice.id, line.position, line.kind, line.performed_id,
                    line.credit.id if line.credit else None, line.club_membership,
                    line.description, line.quantity, line.unit_price, line.discount,
                    line.discount_reason, line.amount, void,
                ))  # fmt: skip
        insert_rows(Invoice, INVOICE_COLUMNS, invoice_rows)
        # Lines and club memberships name each other; the foreign keys are checked when the
        # branch's transaction commits (Django makes them deferrable).
        insert_rows(InvoiceLine, LINE_COLUMNS, line_rows)
        insert_rows(InvoiceSequence, ("branch", "next_number"), [(branch_id, self.sequence + 1)])
        insert_rows(PrepaidCard, CARD_COLUMNS, [
            (c.id, self.branch.organization_id, branch_id, c.code, c.kind, c.patient_id, currency,
             c.value, c.balance, c.expires_on, c.sale_line, c.issued_by, True, c.created_at,
             c.created_at)
            for c in self.cards
        ])  # fmt: skip
        insert_rows(PackageCredit, ("id", "patient", "package", "procedure", "sale_line",
                                    "quantity_total", "quantity_used", "expires_on"),
                    [(c.id, c.patient_id, c.package, c.procedure_id, c.sale_line, c.total, c.used,
                      c.expires_on) for c in self.credits])  # fmt: skip
        insert_rows(ClubMembership, ("id", "patient", "club", "starts_on", "ends_on", "sale_line"),
                    self.memberships)  # fmt: skip
        insert_rows(InstalmentSchedule, SCHEDULE_COLUMNS, self.schedules)
        insert_rows(Instalment, ("id", "schedule", "number", "due_on", "amount", "paid_amount"),
                    [(i.id, self.instalment_schedule[i.id], i.number, i.due_on, i.amount, i.paid)
                     for i in self.instalments])  # fmt: skip
        insert_rows(Payment, PAYMENT_COLUMNS, [
            (p.id, branch_id, p.patient_id, p.kind, p.method, currency, p.amount, p.received_at,
             p.received_on, p.reference, p.plan_id, p.instalment.id if p.instalment else None,
             p.card.id if p.card else None, p.allocated, p.refunded, p.unallocated,
             p.received_by, "", p.received_at, p.received_at)
            for p in self.payments
        ])  # fmt: skip
        insert_rows(Allocation, ("id", "payment", "invoice", "amount", "allocated_at",
                                 "allocated_by"), self.allocations)  # fmt: skip
        insert_rows(Refund, ("id", "branch", "patient", "payment", "method", "amount", "reason",
                             "refunded_at", "refunded_on", "refunded_by"), self.refunds)  # fmt: skip
        insert_rows(WriteOff, ("id", "branch", "invoice", "amount", "reason", "written_at",
                               "written_on", "written_by"), self.write_offs)  # fmt: skip


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


INVOICE_COLUMNS = (
    "id", "branch", "patient", "number", "currency", "issued_at", "issued_on", "due_on",
    "status", "promotion", "subtotal", "discount_total", "total", "paid_total",
    "written_off_total", "balance", "issued_by", "voided_at", "void_reason", "note",
    "created_at", "updated_at",
)  # fmt: skip
LINE_COLUMNS = (
    "id", "invoice", "position", "kind", "performed", "package_credit", "club_membership",
    "description", "quantity", "unit_price", "discount", "discount_reason", "amount", "is_void",
)  # fmt: skip
CARD_COLUMNS = (
    "id", "organization", "branch", "code", "kind", "patient", "currency", "initial_value",
    "balance", "expires_on", "sale_line", "issued_by", "is_active", "created_at", "updated_at",
)  # fmt: skip
SCHEDULE_COLUMNS = ("id", "branch", "patient", "plan", "invoice", "currency", "total",
                    "created_by", "note", "created_at", "updated_at")  # fmt: skip
PAYMENT_COLUMNS = (
    "id", "branch", "patient", "kind", "method", "currency", "amount", "received_at",
    "received_on", "reference", "plan", "instalment", "prepaid_card", "allocated_total",
    "refunded_total", "unallocated", "received_by", "note", "created_at", "updated_at",
)  # fmt: skip
