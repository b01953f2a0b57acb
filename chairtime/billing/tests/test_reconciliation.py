"""Every running total equals the sum of the rows it summarises, to the cent, after a long
random run of the money services (invoices, payments, deposits, allocations, refunds,
write-offs, voids, prepaid cards) for a few patients, in VND and in USD."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from chairtime.billing.models import (
    Allocation,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PrepaidCard,
    Refund,
    WriteOff,
)
from chairtime.billing.services import (
    allocate_payment,
    apply_credit,
    create_invoice,
    issue_voucher,
    refund_payment,
    sell_prepaid_card,
    take_payment,
    void_invoice,
    write_off,
)
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import InvalidInput
from chairtime.core.money import ZERO, quantize
from chairtime.tenancy.models import Branch
from tests.factories import PatientFactory

STEPS = 160


def _sum(rows: object, field: str = "amount") -> Decimal:
    return rows.aggregate(total=Sum(field))["total"] or ZERO  # type: ignore[attr-defined]


class Run:
    """Random money work in one branch; refusals are expected and must change nothing."""

    def __init__(self, money: Money, branch: Branch, seed: int) -> None:
        self.money, self.branch, self.rng = money, branch, random.Random(seed)
        self.patients = [PatientFactory(home_branch=branch) for _ in range(3)]
        self.cards: list[str] = []
        self.now = NOW
        self.scale = Decimal("0.01") if branch.currency == "USD" else Decimal("1000")

    def amount(self, low: int, high: int) -> Decimal:
        return quantize(Decimal(self.rng.randint(low, high)) * self.scale, self.branch.currency)

    def step(self) -> None:
        self.now += timedelta(hours=self.rng.randint(1, 30))
        action: Callable[[], object] = self.rng.choice(
            [self.invoice, self.invoice, self.pay, self.pay, self.deposit, self.allocate,
             self.credit, self.refund, self.write_off, self.void, self.card, self.spend_card]
        )  # fmt: skip
        with contextlib.suppress(InvalidInput):
            action()

    def patient(self) -> object:
        return self.rng.choice(self.patients)

    def invoice(self) -> None:
        patient = self.patient()
        done = [
            self.money.perform(
                self.amount(1, 900), patient=patient, branch=self.branch,  # type: ignore[arg-type]
                quantity=self.rng.randint(1, 2),
            ).pk
            for _ in range(self.rng.randint(1, 3))
        ]  # fmt: skip
        discounts = {done[0]: (self.amount(0, 300), "Goodwill")} if self.rng.random() < 0.4 else {}
        create_invoice(
            actor=self.money.owner, branch=self.branch, patient=patient, performed_ids=done,  # type: ignore[arg-type]
            line_discounts=discounts, now=self.now,
        )  # fmt: skip

    def pay(self, kind: str = "payment") -> None:
        method = self.rng.choice(["cash", "card", "bank_transfer", "e_wallet"])
        take_payment(
            actor=self.money.owner, branch=self.branch, patient=self.patient(),  # type: ignore[arg-type]
            amount=self.amount(1, 1500), method=method, kind=kind, now=self.now,
        )  # fmt: skip

    def deposit(self) -> None:
        self.pay("deposit")

    def _payments(self) -> list[Payment]:
        return list(Payment.objects.filter(branch=self.branch, unallocated__gt=0).order_by("pk"))

    def allocate(self) -> None:
        payments = self._payments()
        if payments:
            payment = self.rng.choice(payments)
            invoices = list(Invoice.objects.filter(patient=payment.patient, branch=self.branch))
            if invoices:
                amount = self.amount(1, 800) if self.rng.random() < 0.5 else None
                allocate_payment(
                    actor=self.money.owner, payment=payment, invoice=self.rng.choice(invoices),
                    amount=amount, now=self.now,
                )  # fmt: skip

    def credit(self) -> None:
        apply_credit(
            actor=self.money.owner, patient=self.patient(), branch=self.branch, now=self.now
        )  # type: ignore[arg-type]

    def refund(self) -> None:
        payments = list(Payment.objects.filter(branch=self.branch).order_by("pk"))
        if payments:
            payment = self.rng.choice(payments)
            method = "prepaid_card" if payment.method == PaymentMethod.PREPAID_CARD else "cash"
            refund_payment(
                actor=self.money.owner, payment=payment, amount=self.amount(1, 600),
                method=method, reason="Random", now=self.now,
            )  # fmt: skip

    def write_off(self) -> None:
        invoices = list(Invoice.objects.filter(branch=self.branch, status=InvoiceStatus.OPEN))
        if invoices:
            write_off(
                actor=self.money.owner, invoice=self.rng.choice(invoices),
                amount=self.amount(1, 400), reason="Random", now=self.now,
            )  # fmt: skip

    def void(self) -> None:
        invoices = list(
            Invoice.objects.filter(branch=self.branch).exclude(status=InvoiceStatus.VOID)
        )
        if invoices:
            void_invoice(
                actor=self.money.owner,
                invoice=self.rng.choice(invoices),
                reason="Random",
                now=self.now,
            )

    def card(self) -> None:
        if self.rng.random() < 0.5:
            card, _invoice = sell_prepaid_card(
                actor=self.money.owner, branch=self.branch, patient=self.patient(),  # type: ignore[arg-type]
                value=self.amount(500, 1000), now=self.now,
            )  # fmt: skip
        else:
            card = issue_voucher(
                actor=self.money.owner,
                branch=self.branch,
                value=self.amount(100, 500),
                now=self.now,
            )
        self.cards.append(card.code)

    def spend_card(self) -> None:
        if self.cards:
            take_payment(
                actor=self.money.owner, branch=self.branch, patient=self.patient(),  # type: ignore[arg-type]
                amount=self.amount(1, 700), method="prepaid_card",
                prepaid_card_code=self.rng.choice(self.cards), now=self.now,
            )  # fmt: skip


def assert_reconciled(branch: Branch) -> None:
    invoices = Invoice.objects.filter(branch=branch)
    assert invoices.exists()
    for invoice in invoices:
        lines = InvoiceLine.objects.filter(invoice=invoice)
        subtotal = sum((line.quantity * line.unit_price for line in lines), ZERO)
        assert invoice.subtotal == subtotal
        assert invoice.discount_total == _sum(lines, "discount")
        assert invoice.total == _sum(lines) == invoice.subtotal - invoice.discount_total
        assert all(line.amount == line.quantity * line.unit_price - line.discount for line in lines)
        assert invoice.paid_total == _sum(Allocation.objects.filter(invoice=invoice))
        assert invoice.written_off_total == _sum(WriteOff.objects.filter(invoice=invoice))
        if invoice.status == InvoiceStatus.VOID:
            assert (invoice.balance, invoice.paid_total, invoice.written_off_total) == (0, 0, 0)
            assert all(line.is_void for line in lines)
            continue
        assert invoice.balance == invoice.total - invoice.paid_total - invoice.written_off_total
        assert invoice.status == (
            InvoiceStatus.PAID if invoice.balance == 0 else InvoiceStatus.OPEN
        )
        assert invoice.balance >= 0
        assert not any(line.is_void for line in lines)
    for payment in Payment.objects.filter(branch=branch):
        assert payment.allocated_total == _sum(Allocation.objects.filter(payment=payment))
        assert payment.refunded_total == _sum(Refund.objects.filter(payment=payment))
        assert (
            payment.amount == payment.allocated_total + payment.refunded_total + payment.unallocated
        )
        assert payment.unallocated >= 0
    for card in PrepaidCard.objects.filter(branch=branch):
        spent = _sum(Payment.objects.filter(prepaid_card=card))
        returned = _sum(Refund.objects.filter(payment__prepaid_card=card))
        if card.is_active:
            assert card.balance == card.initial_value - spent + returned
    # The branch as a whole: what was invoiced is paid, written off or still open.
    live = invoices.exclude(status=InvoiceStatus.VOID)
    assert _sum(live, "total") == (
        _sum(Allocation.objects.filter(invoice__branch=branch))
        + _sum(WriteOff.objects.filter(branch=branch))
        + _sum(live, "balance")
    )
    payments = Payment.objects.filter(branch=branch)
    assert _sum(payments) == (
        _sum(Allocation.objects.filter(payment__branch=branch))
        + _sum(Refund.objects.filter(branch=branch))
        + _sum(payments, "unallocated")
    )
    # No amount finer than the currency's minor unit was ever stored.
    for value in (_sum(live, "total"), _sum(payments), _sum(live, "balance")):
        assert value == quantize(value, branch.currency)


@pytest.mark.parametrize("seed", [4, 2030])
def test_random_money_work_reconciles_in_vnd(money: Money, seed: int) -> None:
    run = Run(money, money.branch, seed)
    for _ in range(STEPS):
        run.step()
    assert_reconciled(money.branch)


def test_random_money_work_reconciles_in_usd(money: Money) -> None:
    run = Run(money, money.usd_branch, 7)
    for _ in range(STEPS):
        run.step()
    assert_reconciled(money.usd_branch)
    usd = money.usd_branch
    # The run did every kind of work, not only refusals.
    assert Refund.objects.filter(branch=usd).exists()
    assert WriteOff.objects.filter(branch=usd).exists()
    assert Allocation.objects.filter(invoice__branch=usd).exists()
    assert Invoice.objects.filter(branch=usd, status=InvoiceStatus.VOID).exists()
    assert Payment.objects.filter(branch=usd, method=PaymentMethod.PREPAID_CARD).exists()
