"""An ad hoc fee (a no-show fee) as an invoice of one "fee" line: money.collect, an amount
in the currency's own unit, a description, the lock date; audited like any invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import Invoice, InvoiceStatus, LineKind
from chairtime.billing.services import charge_fee
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.tenancy.models import Branch


def test_charges_a_fee_as_a_one_line_invoice(money: Money) -> None:
    invoice = charge_fee(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        amount="200000", description="No-show fee", issued_on=date(2030, 3, 14), now=NOW,
    )  # fmt: skip

    [line] = invoice.lines.all()
    assert (invoice.status, invoice.total, invoice.balance, invoice.issued_on) == (
        InvoiceStatus.OPEN, Decimal("200000"), Decimal("200000"), date(2030, 3, 14),
    )  # fmt: skip
    assert (line.kind, line.description, line.amount, line.performed) == (
        LineKind.FEE, "No-show fee", Decimal("200000"), None,
    )  # fmt: skip
    assert (
        AuditEvent.objects.filter(object_type="billing.invoice", actor=money.receptionist).count()
        == 1
    )


@pytest.mark.parametrize(
    "amount, description, field",
    [("12.5", "Fee", "amount"), ("0", "Fee", "amount"), ("100000", "  ", "description")],
)
def test_refuses_bad_input_and_bills_nothing(
    money: Money, amount: str, description: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        charge_fee(
            actor=money.receptionist, branch=money.branch, patient=money.patient, amount=amount,
            description=description, now=NOW,
        )  # fmt: skip

    assert list(refused.value.errors) == [field]
    assert Invoice.objects.count() == 0


def test_refused_in_a_locked_period_unless_allowed(money: Money) -> None:
    Branch.objects.filter(pk=money.branch.pk).update(financial_lock_date=date(2030, 3, 14))

    with pytest.raises(InvalidInput) as refused:
        charge_fee(
            actor=money.receptionist, branch=money.branch, patient=money.patient,
            amount="100000", description="Fee", issued_on=date(2030, 3, 14), now=NOW,
        )  # fmt: skip
    allowed = charge_fee(
        actor=money.owner, branch=money.branch, patient=money.patient,
        amount="100000", description="Fee", issued_on=date(2030, 3, 14), now=NOW,
    )  # fmt: skip

    assert list(refused.value.errors) == ["issued_on"]
    assert Invoice.objects.get() == allowed


def test_needs_money_collect(money: Money) -> None:
    with pytest.raises(NotFound):
        charge_fee(
            actor=money.doctor, branch=money.branch, patient=money.patient, amount="100000",
            description="Fee", now=NOW,
        )  # fmt: skip

    assert Invoice.objects.count() == 0
