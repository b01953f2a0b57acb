"""Invoices from procedures performed: numbers per branch, totals, discounts given at the
visit and typed with a reason, voids, and the refusals that change nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import Invoice, InvoiceLine, InvoiceStatus, LineKind
from chairtime.billing.services import create_invoice, take_payment, void_invoice, write_off
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import InvalidInput, NotFound
from tests.factories import PatientFactory

D = Decimal


def test_invoice_lists_each_procedure_with_totals_and_a_branch_number(money: Money) -> None:
    first = money.perform(500000)
    second = money.perform(300000, quantity=2, discount=100000, procedure=money.cleaning)
    invoice = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[second.pk, first.pk], now=NOW,
    )  # fmt: skip
    assert invoice.number == "A-000001"
    assert (invoice.subtotal, invoice.discount_total, invoice.total) == (
        D("1100000"), D("100000"), D("1000000"),
    )  # fmt: skip
    assert (invoice.paid_total, invoice.balance, invoice.status) == (
        D("0"), D("1000000"), InvoiceStatus.OPEN,
    )  # fmt: skip
    assert (invoice.currency, invoice.issued_on, invoice.due_on) == (
        "VND", date(2030, 3, 15), date(2030, 3, 15),
    )  # fmt: skip
    lines = list(invoice.lines.order_by("position"))
    assert [(line.performed_id, line.amount, line.kind) for line in lines] == [
        (first.pk, D("500000"), LineKind.PROCEDURE),
        (second.pk, D("500000"), LineKind.PROCEDURE),
    ]
    assert lines[0].description == "FILL Filling"
    assert lines[1].discount_reason == "Discount at the visit"
    event = AuditEvent.objects.get(object_type="billing.invoice", object_id=str(invoice.pk))
    assert event.changes["number"] == [None, "A-000001"]
    nxt = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform().pk], now=NOW,
    )  # fmt: skip
    other_branch = create_invoice(
        actor=money.owner, branch=money.world.branch_b,
        patient=money.patient, performed_ids=[money.perform(branch=money.world.branch_b).pk],
        now=NOW,
    )  # fmt: skip
    assert (nxt.number, other_branch.number) == ("A-000002", "B-000001")


def test_a_procedure_is_invoiced_once(money: Money) -> None:
    done = money.perform()
    create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[done.pk], now=NOW,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        create_invoice(
            actor=money.receptionist, branch=money.branch, patient=money.patient,
            performed_ids=[done.pk], now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {
        "performed_ids": [
            f"These procedures cannot be invoiced: {done.pk} (not performed on this patient in "
            "this branch, or already on an invoice)."
        ]
    }
    assert Invoice.objects.count() == 1


def test_refuses_another_patients_or_branchs_procedures(money: Money) -> None:
    other_patient = money.perform(patient=PatientFactory(home_branch=money.branch))
    other_branch = money.perform(branch=money.world.branch_b)
    with pytest.raises(InvalidInput) as caught:
        create_invoice(
            actor=money.receptionist, branch=money.branch, patient=money.patient,
            performed_ids=[other_patient.pk, other_branch.pk], now=NOW,
        )  # fmt: skip
    assert f"{other_patient.pk}, {other_branch.pk}" in caught.value.errors["performed_ids"][0]
    with pytest.raises(InvalidInput) as caught:
        create_invoice(
            actor=money.receptionist, branch=money.branch, patient=money.patient,
            performed_ids=[], now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {"performed_ids": ["Choose at least one procedure performed."]}
    assert not Invoice.objects.exists()


def test_typed_discounts_need_a_reason_the_capability_and_at_most_the_price(money: Money) -> None:
    done = money.perform(500000)
    args = {"branch": money.branch, "patient": money.patient, "performed_ids": [done.pk],
            "now": NOW}  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        create_invoice(actor=money.receptionist, line_discounts={done.pk: (D("1000"), "x")}, **args)
    assert caught.value.errors == {"line_discounts": ["You may not give discounts on invoices."]}
    with pytest.raises(InvalidInput) as caught:
        create_invoice(actor=money.manager, line_discounts={done.pk: (D("500001"), "x")}, **args)
    assert caught.value.errors == {
        "line_discounts": ["The discount on FILL Filling (500001) is larger than its price 500000."]
    }
    with pytest.raises(InvalidInput) as caught:
        create_invoice(actor=money.manager, line_discounts={done.pk: (D("1000"), " ")}, **args)
    assert caught.value.errors == {"line_discounts": ["Give a reason for each discount."]}
    with pytest.raises(InvalidInput) as caught:
        create_invoice(actor=money.manager, line_discounts={done.pk: (D("0.5"), "x")}, **args)
    assert caught.value.errors == {
        "line_discounts": ["VND has no minor unit: give a whole amount."]
    }
    assert not Invoice.objects.exists()
    invoice = create_invoice(
        actor=money.manager, line_discounts={done.pk: (D("500000"), "Goodwill")}, **args
    )
    line = invoice.lines.get()
    assert (line.discount, line.discount_reason, line.amount) == (D("500000"), "Goodwill", 0)
    assert (invoice.total, invoice.balance, invoice.status) == (0, 0, InvoiceStatus.PAID)


def test_usd_invoice_keeps_cents(money: Money) -> None:
    done = money.perform("19.99", branch=money.usd_branch, quantity=3)
    invoice = create_invoice(
        actor=money.owner, branch=money.usd_branch, patient=money.usd_patient,
        performed_ids=[done.pk], line_discounts={done.pk: (D("0.97"), "Rounding")}, now=NOW,
    )  # fmt: skip
    assert (invoice.number, invoice.currency, invoice.total) == ("NY-000001", "USD", D("59.00"))


def test_future_invoice_date_is_refused(money: Money) -> None:
    with pytest.raises(InvalidInput) as caught:
        create_invoice(
            actor=money.receptionist, branch=money.branch, patient=money.patient,
            performed_ids=[money.perform().pk], issued_on=date(2030, 3, 16), now=NOW,
        )  # fmt: skip
    assert caught.value.errors == {"issued_on": ["An invoice cannot be dated in the future."]}


def test_void_frees_the_procedures_and_needs_nothing_allocated(money: Money) -> None:
    done = money.perform(500000)
    invoice = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[done.pk], now=NOW,
    )  # fmt: skip
    with pytest.raises(NotFound):
        void_invoice(actor=money.receptionist, invoice=invoice, reason="wrong", now=NOW)
    with pytest.raises(InvalidInput) as caught:
        void_invoice(actor=money.manager, invoice=invoice, reason="  ", now=NOW)
    assert caught.value.errors == {"reason": ["Give a reason."]}
    voided = void_invoice(actor=money.manager, invoice=invoice, reason="Wrong patient", now=NOW)
    assert (voided.status, voided.balance, voided.total, voided.void_reason) == (
        InvoiceStatus.VOID, 0, D("500000"), "Wrong patient",
    )  # fmt: skip
    assert list(InvoiceLine.objects.values_list("is_void", flat=True)) == [True]
    with pytest.raises(InvalidInput) as caught:
        void_invoice(actor=money.manager, invoice=invoice, reason="again", now=NOW)
    assert caught.value.errors == {"invoice": ["This invoice is already void."]}
    again = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[done.pk], now=NOW,
    )  # fmt: skip
    take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient, amount="1000",
        method="cash", now=NOW,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        void_invoice(actor=money.owner, invoice=again, reason="x", now=NOW)
    assert caught.value.errors == {
        "invoice": [
            "1000 VND is paid or written off on this invoice: an invoice can be voided only "
            "while nothing is allocated to it."
        ]
    }
    assert Invoice.objects.get(pk=again.pk).status == InvoiceStatus.OPEN


def test_write_off_settles_part_of_the_balance(money: Money) -> None:
    invoice = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform(500000).pk], now=NOW,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        write_off(actor=money.manager, invoice=invoice, amount="500001", reason="bad debt", now=NOW)
    assert caught.value.errors == {"amount": ["500001 is more than the invoice's balance 500000."]}
    with pytest.raises(NotFound):
        write_off(actor=money.receptionist, invoice=invoice, amount="1", reason="x", now=NOW)
    write_off(actor=money.manager, invoice=invoice, amount="200000", reason="Hardship", now=NOW)
    row = write_off(
        actor=money.manager, invoice=invoice, amount="300000", reason="Bad debt", now=NOW
    )
    invoice.refresh_from_db()
    assert (invoice.written_off_total, invoice.balance, invoice.status) == (
        D("500000"), 0, InvoiceStatus.PAID,
    )  # fmt: skip
    assert (row.written_on, row.reason) == (date(2030, 3, 15), "Bad debt")
