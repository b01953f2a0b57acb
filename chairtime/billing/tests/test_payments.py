"""Payments: auto-allocation oldest first, deposits held and applied later, explicit
allocation, instalments, prepaid cards and vouchers, refunds and their limits."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.billing import services
from chairtime.billing.models import (
    Allocation,
    Instalment,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentKind,
    PrepaidCard,
    Refund,
)
from chairtime.billing.services import (
    allocate_payment,
    apply_credit,
    create_instalment_schedule,
    create_invoice,
    issue_voucher,
    refund_payment,
    sell_prepaid_card,
    take_payment,
    void_invoice,
)
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch
from tests.factories import PatientFactory

D = Decimal


def _invoice(
    money: Money,
    price: int | str,
    *,
    issued_on: date | None = None,
    branch: Branch | None = None,
    patient: Patient | None = None,
) -> Invoice:
    branch = branch or money.branch
    done = money.perform(price, branch=branch, patient=patient)
    return create_invoice(
        actor=money.owner, branch=branch, patient=done.patient, performed_ids=[done.pk],
        issued_on=issued_on, now=NOW,
    )  # fmt: skip


def _pay(money: Money, amount: str, **kwargs: object) -> Payment:
    fields: dict[str, object] = {"branch": money.branch, "patient": money.patient, "method": "cash"}
    fields.update(kwargs)
    return take_payment(actor=money.receptionist, amount=amount, now=NOW, **fields)  # type: ignore[arg-type]


def test_payment_pays_open_invoices_oldest_first_and_holds_the_rest(money: Money) -> None:
    newer = _invoice(money, 300000)
    older = _invoice(money, 500000, issued_on=date(2030, 3, 1))
    payment = _pay(money, "1000000", method="card", reference="VISA 4242")
    assert (payment.amount, payment.allocated_total, payment.unallocated) == (
        D("1000000"), D("800000"), D("200000"),
    )  # fmt: skip
    assert (payment.currency, payment.received_on, payment.received_by) == (
        "VND", date(2030, 3, 15), money.receptionist,
    )  # fmt: skip
    assert list(Allocation.objects.order_by("pk").values_list("invoice_id", "amount")) == [
        (older.pk, D("500000")), (newer.pk, D("300000")),
    ]  # fmt: skip
    for invoice in (older, newer):
        invoice.refresh_from_db()
        assert (invoice.balance, invoice.status) == (0, InvoiceStatus.PAID)


def test_payment_for_one_invoice_pays_only_it(money: Money) -> None:
    first = _invoice(money, 300000)
    second = _invoice(money, 500000)
    payment = _pay(money, "400000", invoice=second)
    assert payment.unallocated == 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.balance, second.balance) == (D("300000"), D("100000"))


def test_deposit_is_held_then_applied_as_credit(money: Money) -> None:
    deposit = _pay(money, "2000000", kind=PaymentKind.DEPOSIT, method="bank_transfer")
    invoice = _invoice(money, 1500000)
    assert (deposit.unallocated, invoice.balance) == (D("2000000"), D("1500000"))
    made = apply_credit(
        actor=money.receptionist, patient=money.patient, branch=money.branch, now=NOW
    )
    assert [(a.payment_id, a.invoice_id, a.amount) for a in made] == [
        (deposit.pk, invoice.pk, D("1500000"))
    ]
    deposit.refresh_from_db()
    invoice.refresh_from_db()
    assert (deposit.unallocated, invoice.balance, invoice.status) == (
        D("500000"), 0, InvoiceStatus.PAID,
    )  # fmt: skip
    assert (
        apply_credit(actor=money.receptionist, patient=money.patient, branch=money.branch, now=NOW)
        == []
    )


def test_allocation_is_limited_by_both_sides(money: Money) -> None:
    payment = _pay(money, "600000", kind=PaymentKind.DEPOSIT)
    invoice = _invoice(money, 500000)
    with pytest.raises(InvalidInput) as caught:
        allocate_payment(
            actor=money.receptionist, payment=payment, invoice=invoice, amount="500001", now=NOW
        )
    assert caught.value.errors == {"amount": ["500001 is more than the invoice's balance 500000."]}
    allocate_payment(
        actor=money.receptionist, payment=payment, invoice=invoice, amount="450000", now=NOW
    )
    other = _invoice(money, 500000)
    with pytest.raises(InvalidInput) as caught:
        allocate_payment(
            actor=money.receptionist, payment=payment, invoice=other, amount="150001", now=NOW
        )
    assert caught.value.errors == {
        "amount": ["150001 is more than the payment's unallocated 150000."]
    }
    allocation = allocate_payment(actor=money.receptionist, payment=payment, invoice=other, now=NOW)
    assert allocation.amount == D("150000")
    with pytest.raises(InvalidInput) as caught:
        allocate_payment(actor=money.receptionist, payment=payment, invoice=other, now=NOW)
    assert caught.value.errors == {"amount": ["There is nothing to allocate."]}
    stranger = _invoice(money, 100, branch=money.world.branch_b)
    with pytest.raises(InvalidInput) as caught:
        allocate_payment(actor=money.receptionist, payment=payment, invoice=stranger, now=NOW)
    assert caught.value.errors == {
        "invoice": ["This invoice is not the same patient's in the same branch."]
    }


def test_payment_input_is_checked_before_anything_is_written(money: Money) -> None:
    with pytest.raises(InvalidInput) as caught:
        _pay(money, "0.5")
    assert caught.value.errors == {"amount": ["VND has no minor unit: give a whole amount."]}
    with pytest.raises(InvalidInput) as caught:
        _pay(money, "100", method="cheque")
    assert caught.value.errors == {"method": ["Choose a payment method."]}
    with pytest.raises(InvalidInput) as caught:
        _pay(money, "100", received_on=date(2030, 3, 16))
    assert caught.value.errors == {"received_on": ["A payment cannot be dated in the future."]}
    with pytest.raises(InvalidInput) as caught:
        _pay(money, "100", method="prepaid_card")
    assert caught.value.errors == {
        "prepaid_card_code": ["Give the prepaid card's or voucher's code."]
    }
    assert not Payment.objects.exists()


def test_usd_payment_in_cents(money: Money) -> None:
    invoice = _invoice(money, "80.25", branch=money.usd_branch)
    payment = take_payment(
        actor=money.usd_receptionist, branch=money.usd_branch, patient=money.usd_patient,
        amount="100.10", method="card", now=NOW,
    )  # fmt: skip
    invoice.refresh_from_db()
    assert (payment.currency, payment.unallocated, invoice.status) == (
        "USD", D("19.85"), InvoiceStatus.PAID,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        take_payment(
            actor=money.usd_receptionist, branch=money.usd_branch, patient=money.usd_patient,
            amount="1.001", method="card", now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {"amount": ["USD has 2 decimals: give at most that many."]}


def test_instalments_must_add_up_and_payments_fill_them(money: Money) -> None:
    invoice = _invoice(money, 3000000)
    parts = [(date(2030, 3, 15), D("1000000")), (date(2030, 4, 15), D("1000000"))]
    with pytest.raises(InvalidInput) as caught:
        create_instalment_schedule(
            actor=money.receptionist, branch=money.branch, patient=money.patient, parts=parts,
            invoice=invoice,
        )  # fmt: skip
    assert caught.value.errors == {
        "parts": ["The instalments add up to 2000000; the total to pay is 3000000."]
    }
    schedule = create_instalment_schedule(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        parts=[*parts, (date(2030, 5, 15), D("1000000"))], invoice=invoice,
    )  # fmt: skip
    first, second, third = schedule.instalments.order_by("number")
    assert (schedule.total, [i.number for i in (first, second, third)]) == (D("3000000"), [1, 2, 3])
    _pay(money, "600000", instalment=first)
    _pay(money, "400000", instalment=first)
    with pytest.raises(InvalidInput) as caught:
        _pay(money, "1", instalment=first)
    assert caught.value.errors == {
        "instalment": ["1 is more than what is left to pay on this instalment (0)."]
    }
    first.refresh_from_db()
    invoice.refresh_from_db()
    assert (first.paid_amount, invoice.balance) == (D("1000000"), D("2000000"))
    assert Instalment.objects.get(pk=second.pk).paid_amount == 0


def test_prepaid_card_is_spent_as_a_payment_method(money: Money) -> None:
    card, sale = sell_prepaid_card(
        actor=money.manager, branch=money.branch, patient=money.patient, value="1100000",
        price="1000000", discount_reason="Bonus value", expires_on=date(2030, 12, 31), now=NOW,
    )  # fmt: skip
    assert (sale.total, sale.lines.get().kind, card.balance, card.initial_value) == (
        D("1000000"), "prepaid_card", D("1100000"), D("1100000"),
    )  # fmt: skip
    assert len(card.code) == 10
    _pay(money, "1000000", invoice=sale)
    invoice = _invoice(money, 700000)
    spent = _pay(money, "700000", method="prepaid_card", prepaid_card_code=card.code.lower())
    card.refresh_from_db()
    invoice.refresh_from_db()
    assert (spent.prepaid_card, card.balance, invoice.status) == (card, D("400000"), "paid")
    with pytest.raises(InvalidInput) as caught:
        _pay(money, "400001", method="prepaid_card", prepaid_card_code=card.code)
    assert caught.value.errors == {"amount": ["400001 is more than the card's balance 400000."]}
    with pytest.raises(InvalidInput) as caught:
        _pay(money, "1", method="prepaid_card", prepaid_card_code="NOPE")
    assert caught.value.errors == {"prepaid_card_code": ["No such prepaid card or voucher."]}
    with pytest.raises(InvalidInput) as caught:
        take_payment(
            actor=money.usd_receptionist, branch=money.usd_branch, patient=money.patient,
            amount="1", method="prepaid_card", prepaid_card_code=card.code, now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {
        "prepaid_card_code": ["This card holds VND; this branch takes USD."]
    }
    with pytest.raises(InvalidInput) as caught:
        take_payment(
            actor=money.receptionist, branch=money.branch, patient=money.patient, amount="1",
            method="prepaid_card", prepaid_card_code=card.code, now=NOW.replace(year=2031),
        )  # fmt: skip
    assert caught.value.errors == {"prepaid_card_code": ["This card expired on 2030-12-31."]}


def test_voucher_is_given_away_and_spent_by_anyone(money: Money) -> None:
    voucher = issue_voucher(actor=money.manager, branch=money.branch, value="200000", now=NOW)
    assert (voucher.kind, voucher.patient, voucher.sale_line) == ("voucher", None, None)
    _pay(money, "150000", method="prepaid_card", prepaid_card_code=voucher.code)
    assert PrepaidCard.objects.get(pk=voucher.pk).balance == D("50000")


def test_a_card_issued_to_a_patient_pays_for_no_one_else(money: Money) -> None:
    voucher = issue_voucher(
        actor=money.manager, branch=money.branch, value="300000", patient=money.patient, now=NOW
    )
    card, _sale = sell_prepaid_card(
        actor=money.receptionist, branch=money.branch, patient=money.patient, value="500000",
        now=NOW,
    )  # fmt: skip
    stranger = PatientFactory(home_branch=money.branch)

    for code in (voucher.code, card.code):
        with pytest.raises(InvalidInput) as caught:
            _pay(money, "100000", patient=stranger, method="prepaid_card", prepaid_card_code=code)
        assert caught.value.errors == {"prepaid_card_code": ["No such prepaid card or voucher."]}

    assert not Payment.objects.filter(patient=stranger).exists()
    assert [c.balance for c in PrepaidCard.objects.order_by("pk")] == [D("300000"), D("500000")]
    _pay(money, "100000", method="prepaid_card", prepaid_card_code=voucher.code)
    assert PrepaidCard.objects.get(pk=voucher.pk).balance == D("200000")


def test_refund_only_from_what_is_unallocated(money: Money) -> None:
    _invoice(money, 700000)
    payment = _pay(money, "1000000")
    with pytest.raises(NotFound):
        refund_payment(
            actor=money.receptionist,
            payment=payment,
            amount="1",
            method="cash",
            reason="x",
            now=NOW,
        )
    with pytest.raises(InvalidInput) as caught:
        refund_payment(
            actor=money.manager,
            payment=payment,
            amount="1000001",
            method="cash",
            reason="x",
            now=NOW,
        )
    assert caught.value.errors == {
        "amount": ["1000001 is more than what was paid and not yet refunded (1000000)."]
    }
    with pytest.raises(InvalidInput) as caught:
        refund_payment(
            actor=money.manager,
            payment=payment,
            amount="300001",
            method="cash",
            reason="x",
            now=NOW,
        )
    assert caught.value.errors == {
        "amount": ["700000 is allocated to invoices: at most 300000 can be refunded."]
    }
    with pytest.raises(InvalidInput) as caught:
        refund_payment(
            actor=money.manager,
            payment=payment,
            amount="1",
            method="prepaid_card",
            reason="x",
            now=NOW,
        )
    assert caught.value.errors == {"method": ["Choose cash, card, bank transfer or e-wallet."]}
    assert not Refund.objects.exists()
    refund = refund_payment(
        actor=money.manager, payment=payment, amount="300000", method="bank_transfer",
        reason="Overpaid", now=NOW,
    )  # fmt: skip
    payment.refresh_from_db()
    assert (refund.refunded_on, refund.branch, refund.patient) == (
        date(2030, 3, 15), money.branch, money.patient,
    )  # fmt: skip
    assert (payment.refunded_total, payment.unallocated, payment.allocated_total) == (
        D("300000"), 0, D("700000"),
    )  # fmt: skip


def test_refund_of_a_card_payment_goes_back_to_the_card(money: Money) -> None:
    voucher = issue_voucher(actor=money.manager, branch=money.branch, value="200000", now=NOW)
    spent = _pay(money, "150000", method="prepaid_card", prepaid_card_code=voucher.code)
    with pytest.raises(InvalidInput) as caught:
        refund_payment(
            actor=money.manager, payment=spent, amount="1", method="cash", reason="x", now=NOW
        )
    assert caught.value.errors == {"method": ["A prepaid-card payment is refunded to the card."]}
    refund_payment(
        actor=money.manager,
        payment=spent,
        amount="100000",
        method="prepaid_card",
        reason="x",
        now=NOW,
    )
    assert PrepaidCard.objects.get(pk=voucher.pk).balance == D("150000")


def test_a_card_sold_below_its_value_needs_money_adjust_and_shows_the_discount(
    money: Money,
) -> None:
    sale = {"branch": money.branch, "patient": money.patient, "value": "10000000", "now": NOW}
    with pytest.raises(InvalidInput) as caught:
        sell_prepaid_card(actor=money.receptionist, price="1000", discount_reason="x", **sale)
    assert caught.value.errors == {"price": ["You may not sell a card below its value."]}
    with pytest.raises(InvalidInput) as caught:
        sell_prepaid_card(actor=money.manager, price="9000000", discount_reason=" ", **sale)
    assert caught.value.errors == {"discount_reason": ["Give a reason."]}
    assert not PrepaidCard.objects.exists() and not Invoice.objects.exists()
    card, invoice = sell_prepaid_card(
        actor=money.manager, price="9000000", discount_reason="Opening offer", **sale
    )
    line = invoice.lines.get()
    assert (line.unit_price, line.discount, line.discount_reason, line.amount) == (
        D("10000000"), D("1000000"), "Opening offer", D("9000000"),
    )  # fmt: skip
    assert (invoice.subtotal, invoice.discount_total, invoice.total) == (
        D("10000000"), D("1000000"), D("9000000"),
    )  # fmt: skip
    assert card.initial_value == card.balance == D("10000000")
    at_value, _sale = sell_prepaid_card(actor=money.receptionist, price="10000000", **sale)
    assert at_value.sale_line.discount == 0  # type: ignore[union-attr]


def test_voiding_a_card_sale_audits_the_card_it_withdraws(money: Money) -> None:
    card, invoice = sell_prepaid_card(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        value="2000000", now=NOW,
    )  # fmt: skip
    void_invoice(actor=money.manager, invoice=invoice, reason="Wrong patient", now=NOW)
    card.refresh_from_db()
    assert (card.is_active, card.balance) == (False, D("0"))
    events = AuditEvent.objects.filter(object_type="billing.prepaidcard", object_id=str(card.pk))
    assert [(e.action, e.changes) for e in events.order_by("pk")][1:] == [
        ("update", {"balance": ["2000000", "0"], "is_active": [True, False]}),
    ]


def test_a_card_code_taken_by_a_concurrent_sale_is_a_conflict(
    money: Money, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code was free when looked up; another sale inserted it before this one did."""
    taken = issue_voucher(actor=money.manager, branch=money.branch, value="100000", now=NOW)
    monkeypatch.setattr(services, "_unused_card_code", lambda organization_id: taken.code)
    with pytest.raises(Conflict) as caught:
        sell_prepaid_card(
            actor=money.receptionist, branch=money.branch, patient=money.patient,
            value="500000", now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {
        "code": ["Another card was just given the same code: try again."]
    }
    with pytest.raises(Conflict):
        issue_voucher(actor=money.manager, branch=money.branch, value="100000", now=NOW)
    assert list(PrepaidCard.objects.all()) == [taken]
    assert not Invoice.objects.exists()


def test_an_instalment_pays_the_invoice_its_schedule_is_for_before_older_ones(
    money: Money,
) -> None:
    older = _invoice(money, 500000, issued_on=date(2030, 3, 1))
    scheduled = _invoice(money, 2000000)
    schedule = create_instalment_schedule(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        parts=[(date(2030, 3, 15), D("1000000")), (date(2030, 4, 15), D("1000000"))],
        invoice=scheduled,
    )  # fmt: skip
    first = schedule.instalments.get(number=1)
    payment = _pay(money, "1000000", instalment=first)
    assert list(Allocation.objects.order_by("pk").values_list("invoice_id", "amount")) == [
        (scheduled.pk, D("1000000")),
    ]  # fmt: skip
    assert payment.unallocated == 0
    older.refresh_from_db()
    assert older.balance == D("500000")
