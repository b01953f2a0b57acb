"""Money pages: a patient's money (balance, ageing, invoices, payments, deposits,
instalments, prepaid cards, packages, clubs, and the forms that move money), one invoice,
its printable document (a page or a PDF), the branch's daily cash-up and ageing list,
promotions, prepaid cards, packages, clubs and the lock date.

Reading takes `money.view`; invoicing, payments and sales `money.collect`; refunds,
write-offs, voids and discounts `money.adjust`; the lock date `money.close_period`.
Anything else is a 404. A form the services refuse comes back with the reason beside the
field, and nothing is written; a form they accept goes back to the page (post/redirect/get).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.billing import selectors
from chairtime.billing.access import access_invoice
from chairtime.billing.forms import (
    AllocateForm,
    InstalmentScheduleForm,
    InvoiceForm,
    LockDateForm,
    PaymentForm,
    PromotionForm,
    RefundForm,
    SellClubForm,
    SellPackageForm,
    SellPrepaidCardForm,
    VoidForm,
    VoucherForm,
    WriteOffForm,
    add_service_errors,
)
from chairtime.billing.models import Invoice, InvoiceStatus, PaymentKind, Promotion
from chairtime.billing.services import (
    allocate_payment,
    apply_credit,
    create_instalment_schedule,
    create_invoice,
    create_promotion,
    issue_voucher,
    refund_payment,
    sell_club_membership,
    sell_package,
    sell_prepaid_card,
    set_lock_date,
    take_payment,
    void_invoice,
    write_off,
)
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.http import requested_day
from chairtime.core.pdf import pdf_response
from chairtime.core.templatetags.chairtime import money
from chairtime.patients.access import access_patient
from chairtime.patients.models import Patient
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

C = Capability
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
PAGE_SIZE = 50
# The patient page's forms for taking money (money.collect); refunds need money.adjust.
COLLECT_FORMS = (
    "invoice_form", "payment_form", "instalment_form", "package_form", "club_form",
    "prepaid_form",
)  # fmt: skip


def _today(branch: Branch) -> date:
    return timezone.localdate(timezone=branch.zone)


def _done(request: HttpRequest, notice: str, url: str) -> HttpResponse:
    messages.success(request, notice)
    return redirect(url)


def _attempt(form: forms.Form, action: Callable[[], HttpResponse]) -> HttpResponse | None:
    """Run the service behind a valid form; its refusal goes onto the form (None)."""
    if not form.is_valid():
        return None
    try:
        return action()
    except InvalidInput as error:
        add_service_errors(form, error)
        return None


# --- the patient's money ------------------------------------------------------------------
def _patient_url(patient: Patient) -> str:
    return reverse("billing:patient_money", args=[patient.pk])


def _patient_forms(access: BranchAccess, patient: Patient) -> dict[str, forms.Form | None]:
    """Blank forms for what the user may do (None for what they may not)."""
    branch = access.branch
    adjust = access.can(C.MONEY_ADJUST)
    refund = RefundForm(patient=patient, branch=branch) if adjust else None
    if not access.can(C.MONEY_COLLECT):
        return {**dict.fromkeys(COLLECT_FORMS), "refund_form": refund}
    performed = list(selectors.list_uninvoiced_performed(patient=patient, branch=branch))
    currency = branch.currency
    return {
        "invoice_form": InvoiceForm(performed=performed, can_discount=adjust, currency=currency),
        "payment_form": PaymentForm(patient=patient, branch=branch),
        "instalment_form": InstalmentScheduleForm(patient=patient, branch=branch),
        "package_form": SellPackageForm(branch=branch),
        "club_form": SellClubForm(branch=branch),
        "prepaid_form": SellPrepaidCardForm(currency=currency, can_discount=adjust),
        "refund_form": refund,
    }


def _patient_page(
    request: HttpRequest,
    access: BranchAccess,
    patient: Patient,
    bound: Mapping[str, forms.Form] | None = None,
) -> HttpResponse:
    branch = access.branch
    today = _today(branch)
    page_forms = _patient_forms(access, patient)
    page_forms.update(bound or {})
    payments = list(
        selectors.list_patient_payments(patient=patient, branch=branch).select_related("plan")
    )
    context = {
        "patient": patient,
        "currency": branch.currency,
        "today": today,
        "balance": selectors.get_patient_balance(patient=patient, branch=branch, today=today),
        "invoices": selectors.list_patient_invoices(patient=patient, branch=branch),
        "payments": payments,
        "deposits": _deposits_by_plan(payments),
        "schedules": selectors.list_instalment_schedules(patient=patient, branch=branch),
        "prepaid_cards": selectors.list_patient_prepaid_cards(patient=patient, branch=branch),
        "package_credits": selectors.list_package_credits(patient=patient, branch=branch),
        "club_memberships": selectors.list_club_memberships(patient=patient, branch=branch),
        "can_collect": access.can(C.MONEY_COLLECT),
        "can_adjust": access.can(C.MONEY_ADJUST),
        "opened": next(iter(bound or {}), ""),
        **page_forms,
    }
    return render(request, "billing/patient_money.html", context)


def _deposits_by_plan(payments: list[Any]) -> list[dict[str, Any]]:
    """Deposit money still held, per treatment plan."""
    held: dict[int, dict[str, Any]] = {}
    for payment in payments:
        if payment.kind != PaymentKind.DEPOSIT or payment.plan_id is None:
            continue
        row = held.setdefault(
            payment.plan_id,
            {"plan": payment.plan, "paid": Decimal(0), "held": Decimal(0), "count": 0},
        )
        row["paid"] += payment.amount
        row["held"] += payment.unallocated
        row["count"] += 1
    return list(held.values())


@capability_required(C.MONEY_VIEW)
def patient_money(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = branch_access_of(request)
    patient = access_patient(access, patient_id, capability=C.MONEY_VIEW)
    return _patient_page(request, access, patient)


def _patient_of(request: HttpRequest, patient_id: int, capability: Capability) -> Any:
    access = branch_access_of(request)
    return access, access_patient(access, patient_id, capability=capability)


@require_POST
@capability_required(C.MONEY_COLLECT)
def invoice_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    access, patient = _patient_of(request, patient_id, C.MONEY_COLLECT)
    branch = access.branch
    form = InvoiceForm(
        request.POST, performed=list(selectors.list_uninvoiced_performed(patient=patient, branch=branch)),
        can_discount=access.can(C.MONEY_ADJUST), currency=branch.currency,
    )  # fmt: skip

    def run() -> HttpResponse:
        c = form.cleaned_data
        invoice = create_invoice(
            actor=acting_user(request), branch=branch, patient=patient,
            performed_ids=form.performed_ids(), promotion_code=c["promotion_code"].strip(),
            line_discounts=form.line_discounts() or None, issued_on=c["issued_on"],
            note=c["note"].strip(),
        )  # fmt: skip
        notice = _("Invoice %(number)s issued.") % {"number": invoice.number}
        return _done(request, notice, reverse("billing:invoice_detail", args=[invoice.pk]))

    return _attempt(form, run) or _patient_page(request, access, patient, {"invoice_form": form})


@require_POST
@capability_required(C.MONEY_COLLECT)
def payment_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    access, patient = _patient_of(request, patient_id, C.MONEY_COLLECT)
    form = PaymentForm(request.POST, patient=patient, branch=access.branch)

    def run() -> HttpResponse:
        c = form.cleaned_data
        payment = take_payment(
            actor=acting_user(request), branch=access.branch, patient=patient,
            amount=c["amount"], method=c["method"], kind=c["kind"],
            plan=c["plan"] if c["kind"] == PaymentKind.DEPOSIT else None,
            instalment=c["instalment"], prepaid_card_code=c["prepaid_card_code"],
            reference=c["reference"].strip(), received_on=c["received_on"],
            note=c["note"].strip(),
        )  # fmt: skip
        notice = _("%(amount)s received.") % {"amount": money(payment.amount, payment.currency)}
        return _done(request, notice, _patient_url(patient))

    return _attempt(form, run) or _patient_page(request, access, patient, {"payment_form": form})


@require_POST
@capability_required(C.MONEY_ADJUST)
def payment_refund(request: HttpRequest, patient_id: int) -> HttpResponse:
    access, patient = _patient_of(request, patient_id, C.MONEY_ADJUST)
    form = RefundForm(request.POST, patient=patient, branch=access.branch)

    def run() -> HttpResponse:
        c = form.cleaned_data
        refund = refund_payment(
            actor=acting_user(request), payment=c["payment"], amount=c["amount"],
            method=c["method"], reason=c["reason"],
        )  # fmt: skip
        notice = _("%(amount)s refunded.") % {"amount": money(refund.amount, c["payment"].currency)}
        return _done(request, notice, _patient_url(patient))

    return _attempt(form, run) or _patient_page(request, access, patient, {"refund_form": form})


@require_POST
@capability_required(C.MONEY_COLLECT)
def credit_apply(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Put the patient's held money (deposits, overpayments) on their open invoices."""
    access, patient = _patient_of(request, patient_id, C.MONEY_COLLECT)
    try:
        allocations = apply_credit(
            actor=acting_user(request), patient=patient, branch=access.branch
        )
    except InvalidInput as error:
        for messages_of_field in error.errors.values():
            for message in messages_of_field:
                messages.error(request, message)
        return redirect(_patient_url(patient))
    if not allocations:
        messages.info(request, _("There was no held money and open invoice to apply it to."))
        return redirect(_patient_url(patient))
    applied = sum((a.amount for a in allocations), start=Decimal(0))
    notice = _("%(amount)s of held money applied to open invoices.") % {
        "amount": money(applied, access.branch.currency)
    }
    return _done(request, notice, _patient_url(patient))


@require_POST
@capability_required(C.MONEY_COLLECT)
def instalment_schedule_create(request: HttpRequest, patient_id: int) -> HttpResponse:
    access, patient = _patient_of(request, patient_id, C.MONEY_COLLECT)
    form = InstalmentScheduleForm(request.POST, patient=patient, branch=access.branch)

    def run() -> HttpResponse:
        c = form.cleaned_data
        create_instalment_schedule(
            actor=acting_user(request), branch=access.branch, patient=patient,
            parts=form.parts(), plan=c["plan"], invoice=c["invoice"], note=c["note"].strip(),
        )  # fmt: skip
        return _done(request, _("Instalment schedule agreed."), _patient_url(patient))

    bound = {"instalment_form": form}
    return _attempt(form, run) or _patient_page(request, access, patient, bound)


def _sold(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    notice = _("Sold: invoice %(number)s issued.") % {"number": invoice.number}
    return _done(request, notice, reverse("billing:invoice_detail", args=[invoice.pk]))


@require_POST
@capability_required(C.MONEY_COLLECT)
def package_sell(request: HttpRequest, patient_id: int) -> HttpResponse:
    access, patient = _patient_of(request, patient_id, C.MONEY_COLLECT)
    form = SellPackageForm(request.POST, branch=access.branch)

    def run() -> HttpResponse:
        invoice = sell_package(
            actor=acting_user(request), branch=access.branch, patient=patient,
            package=form.cleaned_data["package"],
        )  # fmt: skip
        return _sold(request, invoice)

    return _attempt(form, run) or _patient_page(request, access, patient, {"package_form": form})


@require_POST
@capability_required(C.MONEY_COLLECT)
def club_sell(request: HttpRequest, patient_id: int) -> HttpResponse:
    access, patient = _patient_of(request, patient_id, C.MONEY_COLLECT)
    form = SellClubForm(request.POST, branch=access.branch)

    def run() -> HttpResponse:
        invoice = sell_club_membership(
            actor=acting_user(request), branch=access.branch, patient=patient,
            club=form.cleaned_data["club"], starts_on=form.cleaned_data["starts_on"],
        )  # fmt: skip
        return _sold(request, invoice)

    return _attempt(form, run) or _patient_page(request, access, patient, {"club_form": form})


@require_POST
@capability_required(C.MONEY_COLLECT)
def prepaid_card_sell(request: HttpRequest, patient_id: int) -> HttpResponse:
    access, patient = _patient_of(request, patient_id, C.MONEY_COLLECT)
    form = SellPrepaidCardForm(
        request.POST, currency=access.branch.currency, can_discount=access.can(C.MONEY_ADJUST)
    )

    def run() -> HttpResponse:
        c = form.cleaned_data
        _card, invoice = sell_prepaid_card(
            actor=acting_user(request), branch=access.branch, patient=patient,
            value=c["value"], price=c.get("price"), discount_reason=c.get("discount_reason", ""),
            expires_on=c["expires_on"],
        )  # fmt: skip
        return _sold(request, invoice)

    bound = {"prepaid_form": form}
    return _attempt(form, run) or _patient_page(request, access, patient, bound)


# --- one invoice ----------------------------------------------------------------------------
def _invoice_url(invoice: Invoice) -> str:
    return reverse("billing:invoice_detail", args=[invoice.pk])


def _invoice_page(
    request: HttpRequest,
    access: BranchAccess,
    invoice: Invoice,
    bound: Mapping[str, forms.Form] | None = None,
) -> HttpResponse:
    is_open = invoice.status == InvoiceStatus.OPEN
    collect, adjust = access.can(C.MONEY_COLLECT), access.can(C.MONEY_ADJUST)
    page_forms: dict[str, forms.Form | None] = {
        "allocate_form": AllocateForm(invoice=invoice) if collect and is_open else None,
        "write_off_form": (
            WriteOffForm(currency=invoice.currency)
            if adjust and is_open and invoice.balance
            else None
        ),
        "void_form": VoidForm() if adjust and invoice.status != InvoiceStatus.VOID else None,
    }
    page_forms.update(bound or {})
    context = {
        "invoice": invoice,
        "document": selectors.get_invoice_document(invoice=invoice),
        "opened": next(iter(bound or {}), ""),
        "can_see_patient": access.can(C.MONEY_VIEW),
        **page_forms,
    }
    return render(request, "billing/invoice_detail.html", context)


@capability_required(C.MONEY_VIEW)
def invoice_detail(request: HttpRequest, invoice_id: int) -> HttpResponse:
    access = branch_access_of(request)
    return _invoice_page(
        request, access, access_invoice(access, invoice_id, capability=C.MONEY_VIEW)
    )


def _printed_invoice(request: HttpRequest, invoice_id: int) -> tuple[Invoice, str]:
    """The printable invoice's HTML, in the patient's language."""
    access = branch_access_of(request)
    invoice = access_invoice(access, invoice_id)
    document = selectors.get_invoice_document(invoice=invoice)
    with translation.override(document.language):
        html = render_to_string(
            "billing/invoice_print.html", {"document": document}, request=request
        )
    return document.invoice, html


@capability_required(C.MONEY_VIEW)
def invoice_print(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The invoice (and receipt of what was paid) as a printable page in the patient's
    language, without the navigation."""
    _invoice, html = _printed_invoice(request, invoice_id)
    return HttpResponse(html)


@capability_required(C.MONEY_VIEW)
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The printable invoice as a PDF (the same page, drawn by WeasyPrint)."""
    invoice, html = _printed_invoice(request, invoice_id)
    return pdf_response(html, filename=f"invoice-{invoice.number}")


@require_POST
@capability_required(C.MONEY_ADJUST)
def invoice_void(request: HttpRequest, invoice_id: int) -> HttpResponse:
    access = branch_access_of(request)
    invoice = access_invoice(access, invoice_id, capability=C.MONEY_ADJUST)
    form = VoidForm(request.POST)

    def run() -> HttpResponse:
        void_invoice(
            actor=acting_user(request), invoice=invoice, reason=form.cleaned_data["reason"]
        )
        notice = _("Invoice %(number)s is void.") % {"number": invoice.number}
        return _done(request, notice, _invoice_url(invoice))

    return _attempt(form, run) or _invoice_page(request, access, invoice, {"void_form": form})


@require_POST
@capability_required(C.MONEY_ADJUST)
def invoice_write_off(request: HttpRequest, invoice_id: int) -> HttpResponse:
    access = branch_access_of(request)
    invoice = access_invoice(access, invoice_id, capability=C.MONEY_ADJUST)
    form = WriteOffForm(request.POST, currency=invoice.currency)

    def run() -> HttpResponse:
        c = form.cleaned_data
        written = write_off(
            actor=acting_user(request), invoice=invoice, amount=c["amount"], reason=c["reason"]
        )
        notice = _("%(amount)s written off.") % {"amount": money(written.amount, invoice.currency)}
        return _done(request, notice, _invoice_url(invoice))

    bound = {"write_off_form": form}
    return _attempt(form, run) or _invoice_page(request, access, invoice, bound)


@require_POST
@capability_required(C.MONEY_COLLECT)
def invoice_allocate(request: HttpRequest, invoice_id: int) -> HttpResponse:
    access = branch_access_of(request)
    invoice = access_invoice(access, invoice_id, capability=C.MONEY_COLLECT)
    form = AllocateForm(request.POST, invoice=invoice)

    def run() -> HttpResponse:
        c = form.cleaned_data
        allocation = allocate_payment(
            actor=acting_user(request), payment=c["payment"], invoice=invoice, amount=c["amount"]
        )
        notice = _("%(amount)s allocated.") % {"amount": money(allocation.amount, invoice.currency)}
        return _done(request, notice, _invoice_url(invoice))

    bound = {"allocate_form": form}
    return _attempt(form, run) or _invoice_page(request, access, invoice, bound)


# --- the branch -----------------------------------------------------------------------------
def _requested_day(request: HttpRequest, branch: Branch) -> tuple[date, str]:
    """The ?day= asked for, or the branch's today (with the reason when it was unreadable)."""
    return requested_day(
        request, parameter="day", today=_today(branch), first=FIRST_DAY, last=LAST_DAY
    )


@capability_required(C.MONEY_VIEW)
def cash_up(request: HttpRequest) -> HttpResponse:
    """The day's money in the active branch: by method, by staff member, deposits, prepaid
    redemptions apart, invoices issued. Printable."""
    branch = branch_access_of(request).branch
    day, date_error = _requested_day(request, branch)
    context = {
        "day": day, "date_error": date_error, "currency": branch.currency,
        "report": selectors.get_cash_up(branch=branch, day=day),
    }  # fmt: skip
    return render(request, "billing/cash_up.html", context)


@capability_required(C.MONEY_VIEW)
def ageing(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    today = _today(branch)
    context = {
        "today": today, "currency": branch.currency,
        "report": selectors.list_ageing(branch=branch, today=today),
    }  # fmt: skip
    return render(request, "billing/ageing.html", context)


def _may_create_promotions(access: BranchAccess) -> bool:
    return access.can(C.MARKETING_EDIT) or access.can(C.MONEY_ADJUST)


@capability_required(C.BRANCH_VIEW)
def promotion_list(request: HttpRequest) -> HttpResponse:
    """The organisation's promotion codes, for those who see money or marketing (`money.view`
    or `marketing.view`); those who run marketing or adjust money add one here."""
    access = branch_access_of(request)
    if not (access.can(C.MONEY_VIEW) or access.can(C.MARKETING_VIEW)):
        raise NotFound
    branch = access.branch
    form: PromotionForm | None = None
    if _may_create_promotions(access):
        form = PromotionForm(request.POST or None, branch=branch)
    elif request.method == "POST":
        raise NotFound
    if request.method == "POST" and form is not None:

        def run() -> HttpResponse:
            c = form.cleaned_data
            promotion = create_promotion(
                actor=acting_user(request), organization=branch.organization, code=c["code"],
                name=c["name"], kind=c["kind"], value=c["value"], valid_from=c["valid_from"],
                valid_until=c["valid_until"], max_uses=c["max_uses"],
                currency=branch.currency if c["kind"] == Promotion.Kind.AMOUNT else "",
                channel=c["channel"],
            )  # fmt: skip
            notice = _("Promotion %(code)s created.") % {"code": promotion.code}
            return _done(request, notice, reverse("billing:promotion_list"))

        done = _attempt(form, run)
        if done is not None:
            return done
    context = {
        "promotions": selectors.list_promotions(branch=branch),
        "form": form, "today": _today(branch),
    }  # fmt: skip
    return render(request, "billing/promotion_list.html", context)


@capability_required(C.MONEY_VIEW)
def prepaid_card_list(request: HttpRequest) -> HttpResponse:
    """Prepaid cards and vouchers issued by the branch, with their balances; vouchers are
    given away by those who may adjust money."""
    access = branch_access_of(request)
    branch = access.branch
    form: VoucherForm | None = None
    if access.can(C.MONEY_ADJUST):
        form = VoucherForm(request.POST or None, branch=branch)
    elif request.method == "POST":
        access.require(C.MONEY_ADJUST)  # refused: 404
    if request.method == "POST" and form is not None:

        def run() -> HttpResponse:
            c = form.cleaned_data
            card = issue_voucher(
                actor=acting_user(request), branch=branch, value=c["value"],
                patient=c["patient_number"], expires_on=c["expires_on"],
            )  # fmt: skip
            notice = _("Voucher %(code)s issued.") % {"code": card.code}
            return _done(request, notice, reverse("billing:prepaid_card_list"))

        done = _attempt(form, run)
        if done is not None:
            return done
    page = Paginator(selectors.list_prepaid_cards(branch=branch), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "form": form, "currency": branch.currency}
    return render(request, "billing/prepaid_card_list.html", context)


@capability_required(C.MONEY_VIEW)
def package_list(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    context = {"packages": selectors.list_packages(branch=branch), "currency": branch.currency}
    return render(request, "billing/package_list.html", context)


@capability_required(C.MONEY_VIEW)
def club_list(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    context = {
        "clubs": selectors.list_clubs(branch=branch, today=_today(branch)),
        "currency": branch.currency,
    }
    return render(request, "billing/club_list.html", context)


@capability_required(C.MONEY_VIEW)
def lock_date(request: HttpRequest) -> HttpResponse:
    """The branch's financial lock date; those who close periods move it here."""
    access = branch_access_of(request)
    branch = access.branch
    form: LockDateForm | None = None
    if access.can(C.MONEY_CLOSE_PERIOD):
        initial = {"lock_date": branch.financial_lock_date}
        form = LockDateForm(request.POST or None, initial=initial)
    elif request.method == "POST":
        access.require(C.MONEY_CLOSE_PERIOD)  # refused: 404
    if request.method == "POST" and form is not None:

        def run() -> HttpResponse:
            set_lock_date(
                actor=acting_user(request), branch=branch, lock_date=form.cleaned_data["lock_date"]
            )
            return _done(request, _("Lock date moved."), reverse("billing:lock_date"))

        done = _attempt(form, run)
        if done is not None:
            return done
    context = {"lock_date": branch.financial_lock_date, "form": form, "today": _today(branch)}
    return render(request, "billing/lock_date.html", context)
