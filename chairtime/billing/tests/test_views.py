"""The money pages: who opens them, the money flowing through their forms (invoice, pay,
deposit, apply credit, refund, allocate, write off, void), refusals that change nothing,
the exact cash-up, the printable invoice in the patient's language, and query counts.

The pages use the real clock (no `now` reaches them), so dates here are relative to the
branch's today. The `money` fixture (conftest.py) is acme's VND branch A with its staff.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.billing.models import (
    Allocation,
    Invoice,
    InvoiceStatus,
    Package,
    PackageItem,
    Payment,
    PaymentKind,
    PrepaidCard,
    Promotion,
    Refund,
    WriteOff,
)
from chairtime.billing.services import create_invoice, issue_voucher, take_payment
from chairtime.billing.tests.conftest import Money
from chairtime.clinical.models import PlanStatus, TreatmentPlan
from chairtime.core.templatetags.chairtime import money as money_filter
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from tests.factories import MembershipFactory, PatientFactory

D = Decimal


def vnd(amount: int | str) -> str:
    """An amount as the pages show it in English: "₫1,000,000"."""
    return money_filter(D(amount), "VND")


def as_user(client: Client, user: User, branch: Branch) -> Client:
    client.force_login(user)
    client.post(reverse("tenancy:switch_branch"), {"branch": branch.pk})
    return client


def today(branch: Branch):  # type: ignore[no-untyped-def]
    return timezone.localdate(timezone=branch.zone)


def plan_for(m: Money) -> TreatmentPlan:
    now = timezone.now()
    return TreatmentPlan.objects.create(
        branch=m.branch, patient=m.patient, title="Implant 36", doctor=m.doctor,
        presented_at=now, expires_on=now.date() + timedelta(days=90),
        status=PlanStatus.ACCEPTED, accepted_at=now,
    )  # fmt: skip


def invoice_for(m: Money, *prices: int) -> Invoice:
    performed = [m.perform(price) for price in prices]
    return create_invoice(
        actor=m.receptionist, branch=m.branch, patient=m.patient,
        performed_ids=[p.pk for p in performed],
    )  # fmt: skip


def patient_url(m: Money) -> str:
    return reverse("billing:patient_money", args=[m.patient.pk])


def errors_of(response) -> str:  # type: ignore[no-untyped-def]
    return response.content.decode()


# --- who opens what ----------------------------------------------------------------------
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_patient_money_page_opens_exactly_for_money_viewers(role, money, persona, client):
    user = persona(role)

    response = as_user(client, user, money.branch).get(patient_url(money))

    expected = 200 if Capability.MONEY_VIEW in ROLE_CAPABILITIES[role] else 404
    assert response.status_code == expected


def test_outsider_sees_no_acme_money(money, outsider, client):
    invoice = invoice_for(money, 500000)
    client.force_login(outsider)

    pages = [
        patient_url(money),
        reverse("billing:invoice_detail", args=[invoice.pk]),
        reverse("billing:invoice_print", args=[invoice.pk]),
        reverse("billing:invoice_pdf", args=[invoice.pk]),
    ]

    assert [client.get(url).status_code for url in pages] == [404, 404, 404, 404]


def test_another_branchs_invoice_is_not_found(money, client):
    other = MembershipFactory(
        branch=money.world.branch_b, organization=money.world.acme, role=Role.RECEPTIONIST
    ).user
    invoice = invoice_for(money, 500000)
    client = as_user(client, other, money.world.branch_b)

    detail = client.get(reverse("billing:invoice_detail", args=[invoice.pk]))
    printed = client.get(reverse("billing:invoice_print", args=[invoice.pk]))
    pdf = client.get(reverse("billing:invoice_pdf", args=[invoice.pk]))
    voided = client.post(reverse("billing:invoice_void", args=[invoice.pk]), {"reason": "x"})

    statuses = (detail.status_code, printed.status_code, pdf.status_code, voided.status_code)
    assert statuses == (404, 404, 404, 404)
    assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.OPEN


def test_forms_show_only_what_the_user_may_do(money, persona, client):
    money.perform(500000)
    doctor_page = as_user(client, persona(Role.DOCTOR), money.branch).get(patient_url(money))
    desk_page = as_user(client, money.receptionist, money.branch).get(patient_url(money))
    manager_page = as_user(client, money.manager, money.branch).get(patient_url(money))

    take_money = reverse("billing:payment_create", args=[money.patient.pk])
    doctor, desk, manager = (
        page.content.decode() for page in (doctor_page, desk_page, manager_page)
    )

    assert (take_money in doctor, take_money in desk, take_money in manager) == (False, True, True)
    assert ('name="discount_' in desk, 'name="discount_' in manager) == (False, True)
    assert ('id="refund"' in desk, 'id="refund"' in manager) == (False, True)


def test_viewer_cannot_take_money(money, persona, client):
    client = as_user(client, persona(Role.DOCTOR), money.branch)

    response = client.post(
        reverse("billing:payment_create", args=[money.patient.pk]),
        {"amount": "100000", "method": "cash", "kind": "payment"},
    )

    assert response.status_code == 404
    assert Payment.objects.count() == 0


def test_receptionist_cannot_refund_void_or_write_off(money, client):
    invoice = invoice_for(money, 500000)
    payment = take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        amount=700000, method="cash",
    )  # fmt: skip
    client = as_user(client, money.receptionist, money.branch)

    answers = [
        client.post(
            reverse("billing:payment_refund", args=[money.patient.pk]),
            {"payment": payment.pk, "amount": "1000", "method": "cash", "reason": "x"},
        ).status_code,
        client.post(
            reverse("billing:invoice_void", args=[invoice.pk]), {"reason": "x"}
        ).status_code,
        client.post(
            reverse("billing:invoice_write_off", args=[invoice.pk]),
            {"amount": "1000", "reason": "x"},
        ).status_code,
    ]

    assert answers == [404, 404, 404]
    assert (Refund.objects.count(), WriteOff.objects.count()) == (0, 0)


# --- the money flowing through the pages ---------------------------------------------------
def test_invoice_then_payment_brings_the_balance_to_zero(money, client):
    first, second = money.perform(500000), money.perform(300000)
    client = as_user(client, money.receptionist, money.branch)

    issued = client.post(
        reverse("billing:invoice_create", args=[money.patient.pk]),
        {"performed": [first.pk, second.pk]},
    )
    invoice = Invoice.objects.get(patient=money.patient)
    assert issued.status_code == 302
    assert issued["Location"] == reverse("billing:invoice_detail", args=[invoice.pk])
    assert invoice.total == D("800000")

    paid = client.post(
        reverse("billing:payment_create", args=[money.patient.pk]),
        {"amount": "800000", "method": "card", "kind": "payment", "reference": "POS 77"},
    )
    page = client.get(patient_url(money)).content.decode()

    assert paid.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.balance, invoice.status) == (D("0"), InvoiceStatus.PAID)
    assert f'id="balance-owed">{vnd(0)}<' in page
    assert f'id="credit-held">{vnd(0)}<' in page
    assert "POS 77" in page


def test_a_patients_voucher_cannot_pay_for_another_patient(money, client):
    voucher = issue_voucher(
        actor=money.manager, branch=money.branch, value="300000", patient=money.patient
    )
    stranger = PatientFactory(home_branch=money.branch)
    client = as_user(client, money.receptionist, money.branch)

    response = client.post(
        reverse("billing:payment_create", args=[stranger.pk]),
        {"amount": "300000", "method": "prepaid_card", "kind": "payment",
         "prepaid_card_code": voucher.code},
    )  # fmt: skip

    assert response.status_code == 200
    assert "No such prepaid card or voucher." in response.content.decode()
    assert not Payment.objects.filter(patient=stranger).exists()
    voucher.refresh_from_db()
    assert voucher.balance == D("300000")


def test_deposit_is_held_then_applied_to_the_invoice(money, client):
    plan = plan_for(money)
    client = as_user(client, money.receptionist, money.branch)

    client.post(
        reverse("billing:payment_create", args=[money.patient.pk]),
        {"amount": "300000", "method": "cash", "kind": "deposit", "plan": plan.pk},
    )
    invoice = invoice_for(money, 500000)
    held = client.get(patient_url(money)).content.decode()
    applied = client.post(reverse("billing:credit_apply", args=[money.patient.pk]))
    after = client.get(patient_url(money)).content.decode()

    assert f'id="credit-held">{vnd(300000)}<' in held
    assert "Implant 36" in held
    assert applied.status_code == 302
    invoice.refresh_from_db()
    assert (invoice.paid_total, invoice.balance) == (D("300000"), D("200000"))
    assert f'id="credit-held">{vnd(0)}<' in after
    assert f'id="balance-owed">{vnd(200000)}<' in after


def test_deposit_without_a_plan_is_refused(money, client):
    client = as_user(client, money.receptionist, money.branch)

    response = client.post(
        reverse("billing:payment_create", args=[money.patient.pk]),
        {"amount": "300000", "method": "cash", "kind": "deposit"},
    )

    assert response.status_code == 200
    assert "Choose the treatment plan the deposit is held for." in errors_of(response)
    assert Payment.objects.count() == 0


def test_vnd_amount_with_decimals_is_refused(money, client):
    client = as_user(client, money.receptionist, money.branch)

    response = client.post(
        reverse("billing:payment_create", args=[money.patient.pk]),
        {"amount": "12.5", "method": "cash", "kind": "payment"},
    )

    assert response.status_code == 200
    assert "VND has no minor unit: give a whole amount." in errors_of(response)
    assert Payment.objects.count() == 0


def test_allocation_beyond_the_balance_is_refused(money, client):
    invoice = invoice_for(money, 500000)
    deposit = take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient, amount=800000,
        method="cash", kind=PaymentKind.DEPOSIT, plan=plan_for(money),
    )  # fmt: skip
    client = as_user(client, money.receptionist, money.branch)

    response = client.post(
        reverse("billing:invoice_allocate", args=[invoice.pk]),
        {"payment": deposit.pk, "amount": "600000"},
    )

    assert response.status_code == 200
    assert "is more than the invoice&#x27;s balance" in errors_of(response)
    assert Allocation.objects.count() == 0
    deposit.refresh_from_db()
    assert deposit.unallocated == D("800000")


def test_allocating_a_deposit_on_the_invoice_page(money, client):
    invoice = invoice_for(money, 500000)
    deposit = take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient, amount=800000,
        method="cash", kind=PaymentKind.DEPOSIT, plan=plan_for(money),
    )  # fmt: skip
    client = as_user(client, money.receptionist, money.branch)

    response = client.post(
        reverse("billing:invoice_allocate", args=[invoice.pk]), {"payment": deposit.pk}
    )

    assert response.status_code == 302
    invoice.refresh_from_db()
    deposit.refresh_from_db()
    assert (invoice.balance, deposit.unallocated) == (D("0"), D("300000"))


def test_refund_above_what_was_paid_is_refused(money, client):
    payment = take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient, amount=800000,
        method="cash",
    )  # fmt: skip
    client = as_user(client, money.manager, money.branch)

    refused = client.post(
        reverse("billing:payment_refund", args=[money.patient.pk]),
        {"payment": payment.pk, "amount": "900000", "method": "cash", "reason": "Overpaid"},
    )
    missing_reason = client.post(
        reverse("billing:payment_refund", args=[money.patient.pk]),
        {"payment": payment.pk, "amount": "100000", "method": "cash", "reason": ""},
    )

    assert refused.status_code == 200
    assert "is more than what was paid and not yet refunded" in errors_of(refused)
    assert "This field is required." in errors_of(missing_reason)
    assert Refund.objects.count() == 0
    payment.refresh_from_db()
    assert payment.unallocated == D("800000")


def test_manager_refunds_held_money(money, client):
    payment = take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient, amount=800000,
        method="cash",
    )  # fmt: skip
    client = as_user(client, money.manager, money.branch)

    response = client.post(
        reverse("billing:payment_refund", args=[money.patient.pk]),
        {"payment": payment.pk, "amount": "300000", "method": "cash", "reason": "Overpaid"},
    )

    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.refunded_total, payment.unallocated) == (D("300000"), D("500000"))


def test_discount_needs_a_reason_and_then_lands_on_the_line(money, client):
    performed = money.perform(500000)
    client = as_user(client, money.manager, money.branch)
    url = reverse("billing:invoice_create", args=[money.patient.pk])

    refused = client.post(url, {"performed": [performed.pk], f"discount_{performed.pk}": "50000"})
    assert "Give the reason for the discount." in errors_of(refused)
    assert Invoice.objects.count() == 0

    client.post(
        url,
        {"performed": [performed.pk], f"discount_{performed.pk}": "50000",
         f"reason_{performed.pk}": "Loyal patient"},
    )  # fmt: skip

    invoice = Invoice.objects.get()
    line = invoice.lines.get()
    assert (invoice.total, line.discount, line.discount_reason) == (
        D("450000"), D("50000"), "Loyal patient",
    )  # fmt: skip


def test_invoicing_nothing_is_refused(money, client):
    money.perform(500000)
    client = as_user(client, money.receptionist, money.branch)

    response = client.post(reverse("billing:invoice_create", args=[money.patient.pk]), {})

    assert "Choose at least one procedure to invoice." in errors_of(response)
    assert Invoice.objects.count() == 0


def test_payment_dated_before_the_lock_date_is_refused_for_a_manager(money, client):
    lock = today(money.branch) - timedelta(days=10)
    Branch.objects.filter(pk=money.branch.pk).update(financial_lock_date=lock)
    client = as_user(client, money.manager, money.branch)

    response = client.post(
        reverse("billing:payment_create", args=[money.patient.pk]),
        {"amount": "100000", "method": "cash", "kind": "payment",
         "received_on": (lock - timedelta(days=5)).isoformat()},
    )  # fmt: skip

    assert response.status_code == 200
    assert f"is on or before the lock date {lock.isoformat()}" in errors_of(response)
    assert Payment.objects.count() == 0


def test_owner_may_write_into_a_closed_period(money, client):
    lock = today(money.branch) - timedelta(days=10)
    Branch.objects.filter(pk=money.branch.pk).update(financial_lock_date=lock)
    client = as_user(client, money.owner, money.branch)

    response = client.post(
        reverse("billing:payment_create", args=[money.patient.pk]),
        {"amount": "100000", "method": "cash", "kind": "payment",
         "received_on": (lock - timedelta(days=5)).isoformat()},
    )  # fmt: skip

    assert response.status_code == 302
    assert Payment.objects.get().received_on == lock - timedelta(days=5)


def test_void_and_write_off_on_the_invoice_page(money, client):
    voided = invoice_for(money, 500000)
    written = invoice_for(money, 300000)
    client = as_user(client, money.manager, money.branch)

    too_much = client.post(
        reverse("billing:invoice_write_off", args=[written.pk]),
        {"amount": "400000", "reason": "Bad debt"},
    )
    assert WriteOff.objects.count() == 0
    assert too_much.status_code == 200
    client.post(
        reverse("billing:invoice_write_off", args=[written.pk]),
        {"amount": "100000", "reason": "Bad debt"},
    )
    no_reason = client.post(reverse("billing:invoice_void", args=[voided.pk]), {"reason": ""})
    assert Invoice.objects.get(pk=voided.pk).status == InvoiceStatus.OPEN
    assert no_reason.status_code == 200
    client.post(reverse("billing:invoice_void", args=[voided.pk]), {"reason": "Wrong patient"})

    voided.refresh_from_db()
    written.refresh_from_db()
    assert (voided.status, voided.void_reason) == (InvoiceStatus.VOID, "Wrong patient")
    assert (written.written_off_total, written.balance) == (D("100000"), D("200000"))
    page = client.get(reverse("billing:invoice_detail", args=[written.pk])).content.decode()
    assert "Bad debt" in page
    assert vnd(200000) in page


def test_instalment_schedule_from_date_and_amount_rows(money, client):
    client = as_user(client, money.receptionist, money.branch)
    first = today(money.branch) + timedelta(days=30)
    url = reverse("billing:instalment_schedule_create", args=[money.patient.pk])

    half_row = client.post(url, {"due_on_1": first.isoformat()})
    client.post(
        url,
        {"plan": plan_for(money).pk, "due_on_1": first.isoformat(), "amount_1": "400000",
         "due_on_2": (first + timedelta(days=30)).isoformat(), "amount_2": "600000"},
    )  # fmt: skip
    page = client.get(patient_url(money)).content.decode()

    assert "Give the amount due on this date." in errors_of(half_row)
    schedule = money.patient.instalment_schedules.get()
    assert schedule.total == D("1000000")
    assert [i.amount for i in schedule.instalments.all()] == [D("400000"), D("600000")]
    assert vnd(600000) in page


def test_selling_a_package_invoices_it(money, client):
    package = Package.objects.create(
        branch=money.branch, code="CLEAN6", name="Six cleanings", price=D("1200000")
    )
    PackageItem.objects.create(package=package, procedure=money.cleaning, quantity=6)
    client = as_user(client, money.receptionist, money.branch)

    response = client.post(
        reverse("billing:package_sell", args=[money.patient.pk]), {"package": package.pk}
    )

    invoice = Invoice.objects.get()
    assert response["Location"] == reverse("billing:invoice_detail", args=[invoice.pk])
    assert invoice.total == D("1200000")
    page = client.get(patient_url(money)).content.decode()
    assert "Six cleanings" in page


def test_only_who_may_discount_sells_a_card_below_its_value(money, client):
    url = reverse("billing:prepaid_card_sell", args=[money.patient.pk])
    desk = as_user(client, money.receptionist, money.branch)
    desk_page = desk.get(patient_url(money)).content.decode()
    # The desk has no price field: a price sent anyway is not read, the card costs its value.
    desk.post(url, {"value": "1000000", "price": "1000", "discount_reason": "x"})
    assert 'name="discount_reason"' not in desk_page and 'name="price"' not in desk_page
    assert Invoice.objects.get().total == D("1000000")

    manager = as_user(client, money.manager, money.branch)
    assert 'name="discount_reason"' in manager.get(patient_url(money)).content.decode()
    refused = manager.post(url, {"value": "1000000", "price": "900000"})
    assert "Give a reason." in errors_of(refused)
    assert Invoice.objects.count() == 1
    manager.post(url, {"value": "1000000", "price": "900000", "discount_reason": "Opening"})
    line = Invoice.objects.exclude(total=D("1000000")).get().lines.get()
    assert (line.unit_price, line.discount, line.discount_reason, line.amount) == (
        D("1000000"), D("100000"), "Opening", D("900000"),
    )  # fmt: skip


# --- the cash-up ---------------------------------------------------------------------------
def test_cash_up_shows_the_days_exact_figures(money, client):
    invoice_for(money, 500000)
    common = {"actor": money.receptionist, "branch": money.branch, "patient": money.patient}
    take_payment(**common, amount=300000, method="cash")
    take_payment(**common, amount=200000, method="card")
    overpaid = take_payment(**common, amount=150000, method="cash")
    take_payment(**common, amount=100000, method="bank_transfer", kind="deposit",
                 plan=plan_for(money))  # fmt: skip
    client = as_user(client, money.manager, money.branch)
    client.post(
        reverse("billing:payment_refund", args=[money.patient.pk]),
        {"payment": overpaid.pk, "amount": "50000", "method": "cash", "reason": "Overpaid"},
    )

    page = client.get(reverse("billing:cash_up")).content.decode()

    assert f'id="received-total">{vnd(750000)}<' in page
    assert f'id="refunded-total">{vnd(50000)}<' in page
    assert f'id="net-total"><strong>{vnd(700000)}<' in page
    cash_row = re.search(r'<tr data-method="cash">(.*?)</tr>', page, re.S)
    assert cash_row is not None
    assert re.findall(r'<td class="num">([^<]*)</td>', cash_row.group(1)) == [
        vnd(450000), vnd(50000), vnd(400000),
    ]  # fmt: skip
    assert f'id="deposits">{vnd(100000)} · 1 payment<' in page
    assert f'id="invoices-issued">1 · {vnd(500000)}<' in page
    assert str(money.receptionist.first_name) in page


def test_cash_up_of_another_day_and_an_unreadable_day(money, client):
    take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient, amount=300000,
        method="cash",
    )  # fmt: skip
    client = as_user(client, money.receptionist, money.branch)
    yesterday = today(money.branch) - timedelta(days=1)

    other_day = client.get(reverse("billing:cash_up"), {"day": yesterday.isoformat()})
    unreadable = client.get(reverse("billing:cash_up"), {"day": "31/02/2030"})

    assert f'id="received-total">{vnd(0)}<' in other_day.content.decode()
    assert "is not a date; showing today." in unreadable.content.decode()
    assert f'id="received-total">{vnd(300000)}<' in unreadable.content.decode()


# --- printing -----------------------------------------------------------------------------
def test_printed_invoice_is_in_the_patients_language_without_navigation(money, client):
    money.patient.preferred_language = "vi"
    money.patient.save(update_fields=["preferred_language"])
    Branch.objects.filter(pk=money.branch.pk).update(address="12 Lê Lợi, Quận 1")
    invoice = invoice_for(money, 500000)
    take_payment(
        actor=money.receptionist, branch=money.branch, patient=money.patient, amount=200000,
        method="cash", reference="R-1",
    )  # fmt: skip
    client = as_user(client, money.receptionist, money.branch)

    page = client.get(reverse("billing:invoice_print", args=[invoice.pk])).content.decode()

    assert '<html lang="vi">' in page
    assert "12 Lê Lợi, Quận 1" in page
    assert invoice.number in page
    assert "500.000\xa0₫" in page  # Vietnamese grouping
    assert "300.000\xa0₫" in page  # the balance
    assert 'class="sidebar"' not in page
    assert '<link rel="stylesheet" href="/static/css/app.css">' in page  # the PDF fetcher's


def test_invoice_pdf_is_the_printed_invoice(money, client):
    invoice = invoice_for(money, 500000)
    client = as_user(client, money.receptionist, money.branch)

    detail = client.get(reverse("billing:invoice_detail", args=[invoice.pk])).content.decode()
    response = client.get(reverse("billing:invoice_pdf", args=[invoice.pk]))

    assert f'href="{reverse("billing:invoice_pdf", args=[invoice.pk])}"' in detail
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    name = f"invoice-{invoice.number}".lower()
    assert response["Content-Disposition"] == f'inline; filename="{name}.pdf"'
    assert response.content.startswith(b"%PDF-")


# --- navigation ------------------------------------------------------------------------------
def test_front_desk_reaches_the_money_pages_without_treatment(money, client):
    client = as_user(client, money.receptionist, money.branch)
    cash_up = reverse("billing:cash_up")

    page = client.get(reverse("billing:ageing")).content.decode()

    assert f'<a href="{cash_up}" aria-current="page">Money</a>' in page
    assert reverse("clinical:unscheduled_list") not in page  # no "Treatment" item
    assert client.get(cash_up).status_code == 200


# --- branch pages --------------------------------------------------------------------------
def test_ageing_lists_patients_with_open_balances(money, client):
    invoice_for(money, 500000)
    PatientFactory(home_branch=money.branch, display_name="Nobody Owes")
    client = as_user(client, money.receptionist, money.branch)

    page = client.get(reverse("billing:ageing")).content.decode()

    assert money.patient.display_name in page
    assert "Nobody Owes" not in page
    assert page.count(vnd(500000)) >= 3  # 0-30 bucket, the row total, the grand total


def test_marketer_creates_a_promotion_and_an_analyst_cannot(money, persona, client):
    marketer, analyst = persona(Role.MARKETER), persona(Role.ANALYST)
    data = {
        "code": "spring10", "name": "Spring", "kind": "percent", "value": "10",
        "valid_from": "2030-03-01", "valid_until": "2030-05-31",
    }  # fmt: skip

    refused = as_user(client, analyst, money.branch).post(reverse("billing:promotion_list"), data)
    created = as_user(client, marketer, money.branch).post(reverse("billing:promotion_list"), data)
    listed = as_user(client, money.receptionist, money.branch).get(
        reverse("billing:promotion_list")
    )

    assert (refused.status_code, created.status_code) == (404, 302)
    assert Promotion.objects.get().code == "SPRING10"
    assert "SPRING10" in listed.content.decode()
    assert 'name="code"' not in listed.content.decode()


def test_promotion_amount_in_vnd_with_decimals_is_refused(money, client):
    client = as_user(client, money.manager, money.branch)

    response = client.post(
        reverse("billing:promotion_list"),
        {"code": "FIX", "name": "Fixed", "kind": "amount", "value": "12.5",
         "valid_from": "2030-03-01", "valid_until": "2030-05-31"},
    )  # fmt: skip

    assert "VND has no minor unit: give a whole amount." in errors_of(response)
    assert Promotion.objects.count() == 0


def test_manager_issues_a_voucher_and_a_receptionist_cannot(money, client):
    data = {"value": "200000", "patient_number": money.patient.number}

    refused = as_user(client, money.receptionist, money.branch).post(
        reverse("billing:prepaid_card_list"), data
    )
    issued = as_user(client, money.manager, money.branch).post(
        reverse("billing:prepaid_card_list"), data
    )
    unknown = client.post(
        reverse("billing:prepaid_card_list"), {"value": "1", "patient_number": "X"}
    )

    assert (refused.status_code, issued.status_code) == (404, 302)
    card = PrepaidCard.objects.get()
    assert (card.kind, card.patient, card.balance) == ("voucher", money.patient, D("200000"))
    assert "No patient has this number." in errors_of(unknown)
    page = client.get(reverse("billing:prepaid_card_list")).content.decode()
    assert card.code in page


def test_lock_date_moves_only_for_those_who_close_periods(money, client):
    day = today(money.branch) - timedelta(days=31)

    refused = as_user(client, money.receptionist, money.branch).post(
        reverse("billing:lock_date"), {"lock_date": day.isoformat()}
    )
    shown = client.get(reverse("billing:lock_date")).content.decode()
    moved = as_user(client, money.manager, money.branch).post(
        reverse("billing:lock_date"), {"lock_date": day.isoformat()}
    )
    earlier = client.post(
        reverse("billing:lock_date"), {"lock_date": (day - timedelta(days=1)).isoformat()}
    )

    assert (refused.status_code, moved.status_code, earlier.status_code) == (404, 302, 200)
    assert "No lock date: every period is open." in shown
    assert 'name="lock_date"' not in shown
    money.branch.refresh_from_db()
    assert money.branch.financial_lock_date == day


# --- query counts ------------------------------------------------------------------------------
def _busy_patient(m: Money, rounds: int) -> None:
    plan = plan_for(m)
    common = {"actor": m.receptionist, "branch": m.branch, "patient": m.patient}
    for _ in range(rounds):
        invoice_for(m, 500000, 300000)
        m.perform(100000)  # left to invoice
        take_payment(**common, amount=600000, method="cash")
        take_payment(**common, amount=50000, method="card", kind="deposit", plan=plan)


@pytest.mark.parametrize("rounds", [1, 6])
def test_patient_money_page_queries_do_not_grow_with_the_rows(
    money, client, rounds, django_assert_max_num_queries
):
    _busy_patient(money, rounds)
    client = as_user(client, money.manager, money.branch)

    # The same number with one round of invoices and payments as with six: nothing per row.
    with django_assert_max_num_queries(26):
        response = client.get(patient_url(money))

    assert response.status_code == 200


@pytest.mark.parametrize("rounds", [1, 6])
def test_cash_up_queries_are_bounded(money, client, rounds, django_assert_max_num_queries):
    _busy_patient(money, rounds)
    client = as_user(client, money.manager, money.branch)

    with django_assert_max_num_queries(15):
        response = client.get(reverse("billing:cash_up"))

    assert response.status_code == 200
