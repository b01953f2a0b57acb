"""The financial lock date: money dated on or before it is closed, except to a user who
may edit locked periods, and then the audit event says so."""

from __future__ import annotations

from datetime import date

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import Allocation, Invoice, Payment, Refund, WriteOff
from chairtime.billing.services import (
    allocate_payment,
    create_invoice,
    refund_payment,
    set_lock_date,
    take_payment,
    void_invoice,
    write_off,
)
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import InvalidInput, NotFound

CLOSED = "is on or before the lock date 2030-02-28: that period is closed."
TODAY = date(2030, 3, 15)  # NOW's day in Ho Chi Minh City
CLOSED_TODAY = "(2030-03-15) is on or before the lock date 2030-03-15: that period is closed."


def _close_february(money: Money) -> None:
    set_lock_date(actor=money.manager, branch=money.branch, lock_date=date(2030, 2, 28), now=NOW)


def test_backdated_invoice_and_payment_are_refused_before_the_lock_date(money: Money) -> None:
    _close_february(money)
    with pytest.raises(InvalidInput) as caught:
        create_invoice(
            actor=money.manager, branch=money.branch, patient=money.patient,
            performed_ids=[money.perform().pk], issued_on=date(2030, 2, 28), now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {"issued_on": [f"The invoice date (2030-02-28) {CLOSED}"]}
    with pytest.raises(InvalidInput) as caught:
        take_payment(
            actor=money.manager, branch=money.branch, patient=money.patient, amount="1000",
            method="cash", received_on=date(2030, 1, 5), now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {"received_on": [f"The payment date (2030-01-05) {CLOSED}"]}
    assert not Invoice.objects.exists() and not Payment.objects.exists()
    allowed = create_invoice(
        actor=money.manager, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform().pk], issued_on=date(2030, 3, 1), now=NOW,
    )  # fmt: skip
    assert allowed.issued_on == date(2030, 3, 1)


def test_owner_may_edit_a_locked_period_and_it_is_audited(money: Money) -> None:
    old = create_invoice(
        actor=money.owner, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform().pk], issued_on=date(2030, 2, 10), now=NOW,
    )  # fmt: skip
    _close_february(money)
    with pytest.raises(InvalidInput) as caught:
        void_invoice(actor=money.manager, invoice=old, reason="Typo", now=NOW)
    assert caught.value.errors == {"issued_on": [f"The invoice date (2030-02-10) {CLOSED}"]}
    void_invoice(actor=money.owner, invoice=old, reason="Typo", now=NOW)
    event = AuditEvent.objects.filter(object_type="billing.invoice").latest("pk")
    assert event.changes == {"status": ["open", "void"], "locked_period": [None, True]}
    payment = take_payment(
        actor=money.owner, branch=money.branch, patient=money.patient, amount="1000",
        method="cash", received_on=date(2030, 2, 1), now=NOW,
    )  # fmt: skip
    event = AuditEvent.objects.get(object_type="billing.payment", object_id=str(payment.pk))
    assert event.changes["locked_period"] == [None, True]


def test_moving_the_lock_date(money: Money) -> None:
    with pytest.raises(NotFound):
        set_lock_date(actor=money.receptionist, branch=money.branch, lock_date=date(2030, 1, 31))
    _close_february(money)
    with pytest.raises(InvalidInput) as caught:
        set_lock_date(
            actor=money.manager, branch=money.branch, lock_date=date(2030, 1, 31), now=NOW
        )
    assert caught.value.errors == {
        "lock_date": [
            "2030-01-31 is before the lock date 2030-02-28: only a user who may edit locked "
            "periods can reopen a closed period."
        ]
    }
    with pytest.raises(InvalidInput) as caught:
        set_lock_date(
            actor=money.manager, branch=money.branch, lock_date=date(2030, 3, 16), now=NOW
        )
    assert caught.value.errors == {"lock_date": ["The lock date cannot be in the future."]}
    money.branch.refresh_from_db()
    assert money.branch.financial_lock_date == date(2030, 2, 28)
    set_lock_date(actor=money.owner, branch=money.branch, lock_date=None, now=NOW)
    money.branch.refresh_from_db()
    assert money.branch.financial_lock_date is None
    event = AuditEvent.objects.filter(object_type="tenancy.branch").latest("pk")
    assert event.changes == {
        "financial_lock_date": ["2030-02-28", None], "locked_period": [None, True],
    }  # fmt: skip


def _closed_today_with_money(money: Money) -> tuple[Invoice, Payment]:
    """An invoice and an unallocated payment from 10 March; then the books are closed up to
    today (the lock date may be today)."""
    invoice = create_invoice(
        actor=money.owner, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform(500000).pk], issued_on=date(2030, 3, 10), now=NOW,
    )  # fmt: skip
    payment = take_payment(
        actor=money.owner, branch=money.branch, patient=money.patient, amount="300000",
        method="cash", received_on=date(2030, 3, 10), auto_allocate=False, now=NOW,
    )  # fmt: skip
    set_lock_date(actor=money.manager, branch=money.branch, lock_date=TODAY, now=NOW)
    return invoice, payment


def test_refunds_and_write_offs_made_in_a_closed_period_are_refused(money: Money) -> None:
    invoice, payment = _closed_today_with_money(money)
    with pytest.raises(InvalidInput) as caught:
        write_off(actor=money.manager, invoice=invoice, amount="100000", reason="Goodwill", now=NOW)
    assert caught.value.errors == {"written_on": [f"The write-off date {CLOSED_TODAY}"]}
    with pytest.raises(InvalidInput) as caught:
        refund_payment(
            actor=money.manager, payment=payment, amount="300000", method="cash",
            reason="Changed mind", now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {"refunded_on": [f"The refund date {CLOSED_TODAY}"]}
    assert (WriteOff.objects.count(), Refund.objects.count()) == (0, 0)
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.written_off_total, payment.refunded_total) == (0, 0)


def test_owner_refunds_and_writes_off_in_a_closed_period_and_it_is_audited(money: Money) -> None:
    invoice, payment = _closed_today_with_money(money)
    written = write_off(
        actor=money.owner, invoice=invoice, amount="100000", reason="Goodwill", now=NOW
    )
    refund = refund_payment(
        actor=money.owner, payment=payment, amount="100000", method="cash",
        reason="Changed mind", now=NOW,
    )  # fmt: skip
    assert (written.written_on, refund.refunded_on) == (TODAY, TODAY)
    for row in (written, refund):
        event = AuditEvent.objects.get(object_type=row._meta.label_lower, object_id=str(row.pk))
        assert event.changes["locked_period"] == [None, True]


def test_allocations_stay_allowed_in_a_closed_period(money: Money) -> None:
    """An allocation rewrites nothing and is dated today: a cashier may still make it."""
    invoice, payment = _closed_today_with_money(money)
    allocation = allocate_payment(
        actor=money.receptionist, payment=payment, invoice=invoice, now=NOW
    )
    assert (allocation.amount, Allocation.objects.count()) == (300000, 1)
