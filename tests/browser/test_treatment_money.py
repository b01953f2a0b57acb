"""A treatment plan from proposal to a paid invoice, in a real browser (Debian's chromium
via Playwright, set up as in test_patient_flow.py).

A consultant presents a plan with two options, an implant and a bridge, teeth typed in FDI;
the patient signs for the implant on the signature pad and the consultant books it from the
plan. The front desk takes a deposit, marks the patient arrived and seated, completes the
visit in its dialog, invoices the implant, applies the deposit and takes the rest: the
balance reaches zero. Dialogs, htmx redirects, the signature pad and the Content Security
Policy working together, which the test client cannot show.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from chairtime.accounts.models import User
from chairtime.billing.models import Allocation, Invoice, InvoiceStatus, Payment, PaymentKind
from chairtime.billing.selectors import get_patient_balance
from chairtime.clinical.models import (
    AcceptanceMethod,
    ItemStatus,
    LadderStep,
    OptionStatus,
    PerformedProcedure,
    PlanStatus,
    Procedure,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_appointment_book import watch_console
from tests.browser.test_patient_flow import log_in
from tests.factories import (
    ChairFactory,
    PatientFactory,
    ProcedureFactory,
    ProcedurePriceFactory,
    make_doctor,
    make_nurse,
    open_branch,
)

pytestmark = pytest.mark.browser

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Clinic:
    branch: Branch
    doctor: User
    consultant: User
    receptionist: User
    patient: Patient
    implant: Procedure
    crown: Procedure
    bridge: Procedure


@pytest.fixture
def clinic(world, persona) -> Clinic:
    """Branch A (Ho Chi Minh City, VND) open Monday to Saturday 08:00-20:00: doctor An Trần,
    nurse Hoa Lê, two chairs, and an implant, a crown and a bridge unit at the branch's
    prices."""
    branch = world.branch_a
    open_branch(branch)
    ChairFactory(branch=branch, name="Chair 1", sort_order=1)
    ChairFactory(branch=branch, name="Chair 2", sort_order=2)
    make_nurse(branch, first_name="Hoa", last_name="Lê")

    def procedure(code: str, name: str, category: str, tier: str, price: int) -> Procedure:
        made = ProcedureFactory(
            organization=world.acme, code=code, name=name, category=category, ladder_tier=tier,
            default_duration_minutes=60,
        )  # fmt: skip
        ProcedurePriceFactory(branch=branch, procedure=made, price=Decimal(price))
        return made

    return Clinic(
        branch=branch,
        doctor=make_doctor(branch, first_name="An", last_name="Trần"),
        consultant=persona(Role.CONSULTANT),
        receptionist=persona(Role.RECEPTIONIST),
        patient=PatientFactory(home_branch=branch, family_name="Nguyễn", given_name="Văn An"),
        implant=procedure("IMP", "Implant", "implant", "brand", 20_000_000),
        crown=procedure("CRN", "Crown", "restorative", "flagship", 5_000_000),
        bridge=procedure("BRG", "Bridge unit", "restorative", "flagship", 4_000_000),
    )


@pytest.fixture
def front_desk(browser: Browser) -> Iterator[Page]:
    """A second browser, for the receptionist, beside the consultant's `page`."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_plan_is_accepted_booked_done_invoiced_and_paid(live_server, page, front_desk, clinic):
    violations = watch_console(page)
    desk_violations = watch_console(front_desk)
    patient = clinic.patient
    plans_url = live_server.url + reverse("clinical:patient_plans", args=[patient.pk])
    money_url = live_server.url + reverse("billing:patient_money", args=[patient.pk])
    notice = page.locator("ul.messages")
    dialog = page.locator("#book-dialog")

    # The consultant opens the patient and their (empty) treatment plans.
    log_in(page, live_server.url, clinic.consultant)
    page.goto(live_server.url + reverse("patients:patient_detail", args=[patient.pk]))
    page.get_by_role("link", name="Treatment plans").click()
    expect(page).to_have_url(plans_url)
    expect(page.locator("section.plan")).to_have_count(0)

    # A plan whose first option is the implant.
    page.fill("#id_title", "Replace 36")
    page.select_option("#id_doctor", label="An Trần")
    page.select_option("#id_consultant", str(clinic.consultant.pk))
    page.fill("#id_option_label", "Implant")
    page.get_by_role("button", name="Create plan").click()
    expect(notice).to_have_text("Plan created: now add its procedures.")
    plan = TreatmentPlan.objects.get()
    card = page.locator(f"#plan-{plan.pk}")
    expect(card.locator("h2 .badge")).to_have_text("Proposed")

    add_item(page, card, "Implant", "IMP Implant", teeth="36")
    add_item(page, card, "Implant", "CRN Crown", teeth="36", phase="2")
    card.get_by_label("Another option").fill("Bridge")
    card.get_by_role("button", name="Add option").click()
    expect(notice).to_have_text("Option added.")
    add_item(page, card, "Bridge", "BRG Bridge unit", teeth="35 36 37", quantity="3")

    implant_column, bridge_column = option_column(card, "Implant"), option_column(card, "Bridge")
    expect(implant_column.locator("tr.total td.num")).to_have_text("₫25,000,000")
    expect(bridge_column.locator("tr.total td.num")).to_have_text("₫12,000,000")
    expect(bridge_column.locator("tbody tr.item-planned td").nth(1)).to_have_text("35, 36, 37")
    page.screenshot(path=str(screenshot("plan_two_options.png")), full_page=True)

    # The patient chooses the implant and signs for it on the pad.
    card.get_by_role("link", name="Accept an option").click()
    expect(dialog).to_be_visible()
    dialog.get_by_label("Implant").check()
    expect(dialog.locator("canvas#signature-pad")).to_be_visible()
    expect(dialog.locator("fieldset[data-acceptance=verbal]")).to_be_hidden()
    sign(page, dialog.locator("canvas#signature-pad"))
    expect(dialog.locator("#id_signature")).to_have_value(re.compile(r"^data:image/png;base64,"))
    dialog.get_by_label("Signed by").fill("Nguyễn Văn An")
    page.screenshot(path=str(screenshot("plan_accept_signed.png")))
    with reloaded(page):
        dialog.get_by_role("button", name="Record acceptance").click()

    expect(notice).to_have_text("Plan accepted.")
    expect(card.locator("h2 .badge")).to_have_text("Accepted")
    expect(option_column(card, "Implant").locator("h3 .badge")).to_have_text("Accepted")
    expect(option_column(card, "Bridge").locator("h3 .badge")).to_have_text("Declined")
    expect(card.locator(".plan-head p.muted").first).to_contain_text("(Signed: Nguyễn Văn An)")
    plan.refresh_from_db()
    assert (plan.status, plan.acceptance_method, plan.signed_name, plan.accepted_by) == (
        PlanStatus.ACCEPTED, AcceptanceMethod.SIGNATURE, "Nguyễn Văn An", clinic.consultant,
    )  # fmt: skip
    assert plan.signature.startswith("data:image/png;base64,")
    assert dict(plan.options.values_list("label", "status")) == {
        "Implant": OptionStatus.ACCEPTED, "Bridge": OptionStatus.DECLINED,
    }  # fmt: skip

    # Book the implant from the plan: the dialog offers the next openings.
    implant = TreatmentItem.objects.get(procedure=clinic.implant)
    implant_row = page.locator(f"#item-{implant.pk}")
    implant_row.get_by_role("link", name="Book").click()
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("Book Implant")
    opening = dialog.locator("#slot-list button.opening").first
    expect(opening).to_contain_text("An Trần")
    page.screenshot(path=str(screenshot("plan_book_item.png")))
    chosen = opening.inner_text()
    with reloaded(page):
        opening.click()
    expect(notice).to_have_text("Booked.")
    expect(implant_row.locator(".badge")).to_have_text("Scheduled")
    booked = Appointment.objects.get()
    implant.refresh_from_db()
    assert (implant.status, implant.appointment) == (ItemStatus.SCHEDULED, booked)
    assert (booked.patient, booked.procedure, booked.doctor, booked.status) == (
        patient, clinic.implant, clinic.doctor, AppointmentStatus.BOOKED,
    )  # fmt: skip
    assert f"· {booked.chair.name} · An Trần" in chosen

    # The front desk takes a deposit for the plan.
    log_in(front_desk, live_server.url, clinic.receptionist)
    front_desk.goto(money_url)
    desk_notice = front_desk.locator("ul.messages")
    owed, held = front_desk.locator("#balance-owed"), front_desk.locator("#credit-held")
    expect(owed).to_have_text("₫0")
    take_money(front_desk, "5000000", "Cash", kind="Deposit", plan="Replace 36 (Accepted)")
    expect(desk_notice).to_have_text("₫5,000,000 received.")
    expect(held).to_have_text("₫5,000,000")
    expect(front_desk.locator("#deposits tbody tr")).to_have_text(
        re.compile(r"Replace 36\s+₫5,000,000\s+₫5,000,000")
    )

    # On the day: arrived, seated, and the visit completed in its dialog.
    day = timezone.localdate(booked.starts_at, HO_CHI_MINH)
    front_desk.goto(f"{live_server.url}{reverse('scheduling:day_view')}?date={day.isoformat()}")
    front_desk.locator(f"#appointment-{booked.pk} a.open").click()
    panel = front_desk.locator("#book-dialog")
    expect(panel).to_be_visible()
    panel.get_by_role("button", name="Arrived").click()
    expect(panel.locator(".notice")).to_have_text("Now: Arrived.")
    panel.get_by_role("button", name="Seated").click()
    expect(panel.locator(".notice")).to_have_text("Now: In the chair.")
    panel.get_by_role("button", name="Completed").click()
    expect(panel.locator("h2")).to_have_text("Complete Nguyễn Văn An\u2019s visit")
    first_row = panel.locator("table.visit-rows tbody tr").first
    expect(first_row.locator("select")).to_have_value(str(clinic.implant.pk))
    expect(first_row.locator("input[name$=teeth]")).to_have_value("36")
    panel.get_by_label("Chair time (minutes)").fill("60")
    front_desk.screenshot(path=str(screenshot("visit_complete.png")))
    panel.get_by_role("button", name="Complete the visit").click()
    expect(panel.locator(".notice")).to_have_text("Visit completed: 1 procedure recorded.")
    expect(panel.locator(".visit-done li")).to_have_text("IMP Implant · 36")

    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.COMPLETED
    performed = PerformedProcedure.objects.get()
    assert (
        performed.plan_item, performed.appointment, performed.procedure, performed.teeth,
        performed.amount, performed.chair_minutes, performed.doctor, performed.recorded_by,
    ) == (
        implant, booked, clinic.implant, [36], Decimal(20_000_000), 60, clinic.doctor,
        clinic.receptionist,
    )  # fmt: skip
    plan.refresh_from_db()
    implant.refresh_from_db()
    assert (plan.status, implant.status) == (PlanStatus.IN_PROGRESS, ItemStatus.COMPLETED)
    assert list(LadderStep.objects.values_list("patient", "tier")) == [(patient.pk, "brand")]

    # The implant invoiced from the patient's money page.
    front_desk.goto(money_url)
    invoicing = front_desk.locator("#new-invoice")
    invoicing.locator("summary").click()
    expect(invoicing.locator("summary")).to_have_text("Invoice performed procedures (1)")
    row = invoicing.locator("table.invoice-rows tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("input[name=performed]")).to_be_checked()
    expect(row).to_contain_text("IMP Implant")
    expect(row.locator("td.num")).to_have_text("₫20,000,000")
    invoicing.get_by_role("button", name="Issue the invoice").click()
    expect(desk_notice).to_have_text(re.compile(r"^Invoice \S+ issued\.$"))
    invoice = Invoice.objects.get()
    expect(desk_notice).to_have_text(f"Invoice {invoice.number} issued.")
    expect(front_desk.locator("#invoice-balance")).to_have_text("₫20,000,000")
    front_desk.get_by_role("link", name="The patient's money").click()
    expect(owed).to_have_text("₫20,000,000")
    expect(held).to_have_text("₫5,000,000")

    # The deposit goes onto the invoice, and the rest is paid by card.
    front_desk.get_by_role("button", name="Apply held credit (₫5,000,000) to open invoices").click()
    expect(desk_notice).to_have_text("₫5,000,000 of held money applied to open invoices.")
    expect(owed).to_have_text("₫15,000,000")
    expect(held).to_have_text("₫0")
    take_money(front_desk, "15000000", "Card")
    expect(desk_notice).to_have_text("₫15,000,000 received.")
    expect(owed).to_have_text("₫0")
    expect(held).to_have_text("₫0")
    invoice_row = front_desk.locator("#invoices tbody tr")
    expect(invoice_row.locator(".badge")).to_have_text("Paid")
    expect(invoice_row.locator("td.num").last).to_have_text("₫0")
    front_desk.screenshot(path=str(screenshot("patient_money_paid.png")), full_page=True)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.total, invoice.paid_total, invoice.balance) == (
        InvoiceStatus.PAID, Decimal(20_000_000), Decimal(20_000_000), Decimal(0),
    )  # fmt: skip
    assert list(invoice.lines.values_list("performed", "amount")) == [
        (performed.pk, Decimal(20_000_000))
    ]
    deposit = Payment.objects.get(kind=PaymentKind.DEPOSIT)
    card_payment = Payment.objects.get(kind=PaymentKind.PAYMENT)
    assert (deposit.plan, deposit.method, deposit.amount, deposit.unallocated) == (
        plan, "cash", Decimal(5_000_000), Decimal(0),
    )  # fmt: skip
    assert (card_payment.method, card_payment.amount, card_payment.unallocated) == (
        "card", Decimal(15_000_000), Decimal(0),
    )  # fmt: skip
    allocations = Allocation.objects.filter(invoice=invoice)
    assert sorted(allocations.values_list("payment", "amount")) == sorted(
        [(deposit.pk, Decimal(5_000_000)), (card_payment.pk, Decimal(15_000_000))]
    )
    assert allocations.aggregate(total=Sum("amount"))["total"] == invoice.total
    balance = get_patient_balance(
        patient=patient, branch=clinic.branch, today=timezone.localdate(timezone=HO_CHI_MINH)
    )
    assert (balance.invoiced, balance.paid, balance.balance, balance.credit) == (
        Decimal(20_000_000), Decimal(20_000_000), Decimal(0), Decimal(0),
    )  # fmt: skip
    assert violations == []
    assert desk_violations == []


def option_column(card, label: str):
    """The column of one option of a plan card, by its label."""
    return card.locator("div.plan-option").filter(
        has=card.page.locator("h3", has_text=re.compile(f"^{label} "))
    )


def add_item(page: Page, card, option: str, procedure: str, *, teeth: str, **fields: str) -> None:
    """Add a procedure to an option of a proposed plan through its dialog."""
    option_column(card, option).get_by_role("link", name="Add a procedure").click()
    dialog = page.locator("#book-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Procedure").select_option(label=procedure)
    dialog.get_by_label("Teeth").fill(teeth)
    for name, value in fields.items():
        dialog.locator(f"#id_{name}").fill(value)
    with reloaded(page):  # htmx follows the redirect back to the plans
        dialog.get_by_role("button", name="Add procedure").click()
    expect(page.locator("ul.messages")).to_have_text("Procedure added.")


def sign(page: Page, canvas) -> None:
    """A signature drawn with the mouse: a few strokes across the pad."""
    box = canvas.bounding_box()
    assert box is not None
    left, top = box["x"], box["y"]
    for start, points in (
        ((40, 110), [(80, 40), (120, 110), (160, 50), (200, 115)]),
        ((240, 60), [(300, 100), (360, 55), (420, 105)]),
    ):
        page.mouse.move(left + start[0], top + start[1])
        page.mouse.down()
        for x, y in points:
            page.mouse.move(left + x, top + y, steps=6)
        page.mouse.up()


def take_money(page: Page, amount: str, method: str, *, kind: str = "Payment", plan: str = ""):
    form = page.locator("#take-payment")
    if form.get_attribute("open") is None:
        form.locator("summary").click()
    form.get_by_label("Amount").fill(amount)
    form.get_by_label("Method").select_option(label=method)
    form.get_by_label(kind, exact=True).check()
    if plan:
        form.get_by_label("Treatment plan (for a deposit)").select_option(label=plan)
    with reloaded(page):
        form.get_by_role("button", name="Take the money").click()


@contextmanager
def reloaded(page: Page) -> Iterator[None]:
    """Wait until what the block does has loaded a new page (not just moved the anchor)."""
    page.evaluate("window.oldPage = true")
    yield
    page.wait_for_function("() => window.oldPage === undefined")
    page.wait_for_load_state()


def screenshot(name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
