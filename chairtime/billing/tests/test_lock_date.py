"""The financial lock date: money dated on or before it is closed, except to a user who
may edit locked periods, and then the audit event says so."""

from __future__ import annotations

from datetime import date

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import Invoice, Payment
from chairtime.billing.services import create_invoice, set_lock_date, take_payment, void_invoice
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import InvalidInput, NotFound

CLOSED = "is on or before the lock date 2030-02-28: that period is closed."


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
