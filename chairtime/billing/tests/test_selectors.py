"""Reads of money with exact figures: a patient's balance and ageing, the branch's ageing
list, and the daily cash-up, in VND (no minor unit) and USD (cents)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from chairtime.billing.selectors import (
    get_cash_up,
    get_invoice_document,
    get_patient_balance,
    list_ageing,
)
from chairtime.billing.services import (
    create_invoice,
    issue_voucher,
    refund_payment,
    take_payment,
    write_off,
)
from chairtime.billing.tests.conftest import HO_CHI_MINH, NOW, Money
from tests.factories import PatientFactory

D = Decimal
TODAY = date(2030, 3, 15)


def _invoice(money: Money, price: str | int, days_ago: int, **kwargs: object) -> object:
    done = money.perform(price, **kwargs)  # type: ignore[arg-type]
    return create_invoice(
        actor=money.owner, branch=done.branch, patient=done.patient, performed_ids=[done.pk],
        issued_on=TODAY - timedelta(days=days_ago), now=NOW,
    )  # fmt: skip


def test_patient_balance_and_ageing_buckets(money: Money) -> None:
    for price, days in ((100000, 0), (200000, 30), (300000, 31), (400000, 60), (500000, 61),
                        (600000, 90), (700000, 91)):  # fmt: skip
        _invoice(money, price, days)
    # 150,000 pays the oldest first: 700,000 (91 days) is left at 550,000.
    take_payment(actor=money.owner, branch=money.branch, patient=money.patient,
                 amount="150000", method="cash", now=NOW)  # fmt: skip
    take_payment(actor=money.owner, branch=money.branch, patient=money.patient,
                 amount="80000", method="cash", kind="deposit", now=NOW)  # fmt: skip
    balance = get_patient_balance(patient=money.patient, branch=money.branch, today=TODAY)
    assert (balance.currency, balance.invoiced, balance.paid, balance.balance) == (
        "VND", D("2800000"), D("150000"), D("2650000"),
    )  # fmt: skip
    assert (balance.credit, balance.net, balance.written_off) == (D("80000"), D("2570000"), 0)
    assert balance.ageing == {
        "0-30": D("300000"), "31-60": D("700000"), "61-90": D("1100000"), "90+": D("550000"),
    }  # fmt: skip
    everywhere = get_patient_balance(patient=money.patient, today=TODAY)
    assert everywhere.balance == D("2650000")


def test_branch_ageing_list_in_usd(money: Money) -> None:
    other = PatientFactory(home_branch=money.usd_branch, display_name="Ann Lee")
    _invoice(money, "10.10", 5, branch=money.usd_branch)
    _invoice(money, "20.05", 45, branch=money.usd_branch)
    big = _invoice(money, "99.99", 100, branch=money.usd_branch, patient=other)
    write_off(actor=money.owner, invoice=big, amount="0.99", reason="Rounding", now=NOW)  # type: ignore[arg-type]
    ageing = list_ageing(branch=money.usd_branch, today=TODAY)
    assert ageing.currency == "USD"
    assert [(row.patient_id, row.total) for row in ageing.rows] == [
        (other.pk, D("99.00")), (money.usd_patient.pk, D("30.15")),
    ]  # fmt: skip
    assert ageing.rows[1].ageing == {
        "0-30": D("10.10"), "31-60": D("20.05"), "61-90": D("0"), "90+": D("0"),
    }  # fmt: skip
    assert ageing.totals == {
        "0-30": D("10.10"), "31-60": D("20.05"), "61-90": D("0"), "90+": D("99.00"),
    }  # fmt: skip
    assert ageing.total == D("129.15")


def test_cash_up_of_one_branch_local_day(money: Money) -> None:
    _invoice(money, 900000, 0)
    late_evening = datetime(2030, 3, 15, 23, 30, tzinfo=HO_CHI_MINH)  # 16:30 UTC
    next_morning = datetime(2030, 3, 16, 0, 30, tzinfo=HO_CHI_MINH)  # still the 15th in UTC
    pay = {"branch": money.branch, "patient": money.patient}
    take_payment(actor=money.receptionist, amount="300000", method="cash", now=NOW, **pay)  # type: ignore[arg-type]
    card = take_payment(
        actor=money.manager,
        amount="500000",
        method="card",
        auto_allocate=False,
        now=late_evening,
        **pay,
    )  # type: ignore[arg-type]
    take_payment(
        actor=money.receptionist, amount="200000", method="cash", kind="deposit", now=NOW, **pay
    )  # type: ignore[arg-type]
    voucher = issue_voucher(actor=money.owner, branch=money.branch, value="100000", now=NOW)
    take_payment(actor=money.receptionist, amount="70000", method="prepaid_card",
                 prepaid_card_code=voucher.code, now=NOW, **pay)  # type: ignore[arg-type]  # fmt: skip
    refund_payment(actor=money.manager, payment=card, amount="30000",
                   method="card", reason="Overcharged", now=late_evening)  # fmt: skip
    take_payment(actor=money.receptionist, amount="999", method="cash", now=next_morning, **pay)  # type: ignore[arg-type]
    cash_up = get_cash_up(branch=money.branch, day=TODAY)
    assert [(m.method, m.count, m.amount) for m in cash_up.received] == [
        ("cash", 2, D("500000")), ("card", 1, D("500000")),
    ]  # fmt: skip
    assert [(m.method, m.count, m.amount) for m in cash_up.refunds] == [("card", 1, D("30000"))]
    assert [(n.method, n.net) for n in cash_up.net] == [
        ("cash", D("500000")),
        ("card", D("470000")),
    ]
    assert (cash_up.received_total, cash_up.refunded_total, cash_up.net_total) == (
        D("1000000"), D("30000"), D("970000"),
    )  # fmt: skip
    assert (cash_up.prepaid_redemptions.count, cash_up.prepaid_redemptions.amount) == (
        1,
        D("70000"),
    )
    assert (cash_up.deposits.count, cash_up.deposits.amount) == (1, D("200000"))
    assert [(s.user_id, s.count, s.amount) for s in cash_up.by_staff] == [
        (money.manager.pk, 1, D("500000")), (money.receptionist.pk, 2, D("500000")),
    ]  # fmt: skip
    assert (cash_up.invoices_issued, cash_up.invoiced_total) == (1, D("900000"))
    assert get_cash_up(branch=money.branch, day=date(2030, 3, 16)).received_total == D("999")


def test_invoice_document_in_the_patients_language(money: Money) -> None:
    invoice = _invoice(money, 100000, 0)
    document = get_invoice_document(invoice=invoice)  # type: ignore[arg-type]
    assert (document.language, len(document.lines)) == ("vi", 1)
    money.patient.preferred_language = "es"
    money.patient.save()
    assert get_invoice_document(invoice=invoice).language == "es"  # type: ignore[arg-type]
