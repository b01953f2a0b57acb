"""The front desk's appointment book in a real browser (Debian's chromium via Playwright,
set up as in test_patient_flow.py).

A receptionist clicks an empty cell, finds the patient, picks an opening and books; moves
the appointment to another time; cancels it with a reason. The dialog, htmx, the grid
placed by app.js and the Content Security Policy working together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import ConsoleMessage, Page, expect

from chairtime.accounts.models import User
from chairtime.clinical.models import Procedure
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment, Chair
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_patient_flow import log_in
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    ProcedureFactory,
    TagFactory,
    make_doctor,
    open_branch,
)

pytestmark = pytest.mark.browser

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class Clinic:
    branch: Branch
    day: date  # a Tuesday one to two weeks ahead
    doctor: User
    chairs: list[Chair]
    filling: Procedure
    patient: Patient

    def at(self, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(self.day, time(hour, minute), HO_CHI_MINH)


@pytest.fixture
def clinic(world) -> Clinic:
    """Branch A open Monday to Saturday 08:00-20:00, three chairs, two doctors."""
    branch = world.branch_a
    open_branch(branch)
    soon = timezone.localdate(timezone=HO_CHI_MINH) + timedelta(days=7)
    doctor = make_doctor(branch, first_name="An", last_name="Trần")
    make_doctor(branch, first_name="Bình", last_name="Lê")
    return Clinic(
        branch=branch,
        day=soon + timedelta(days=(1 - soon.weekday()) % 7),
        doctor=doctor,
        chairs=[ChairFactory(branch=branch, name=f"Chair {n}", sort_order=n) for n in (1, 2, 3)],
        filling=ProcedureFactory(
            organization=world.acme, code="FIL", name="Filling", category="restorative"
        ),
        patient=PatientFactory(home_branch=branch, family_name="Nguyễn", given_name="Thị Ánh"),
    )


def watch_console(page: Page) -> list[str]:
    """Every console message about the Content Security Policy, as the page runs."""
    violations: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("console", collect)
    return violations


def test_receptionist_books_moves_and_cancels_from_the_day_view(live_server, page, clinic, persona):
    violations = watch_console(page)
    log_in(page, live_server.url, persona(Role.RECEPTIONIST))
    page.click(f"nav.sidebar a[href='{reverse('scheduling:day_view')}']")
    expect(page.locator("main h1")).to_have_text("Appointment book")
    page.fill("#day-picker", clinic.day.isoformat())
    page.locator("form.date-picker button[type=submit]").click()
    expect(page.locator("#day-picker")).to_have_value(clinic.day.isoformat())
    dialog = page.locator("#book-dialog")
    blocks = page.locator("#calendar article.appointment")
    expect(blocks).to_have_count(0)

    # Click the empty cell of Chair 2 at 09:00: the dialog opens with it as the earliest.
    page.locator("a.cell[aria-label='Chair 2 9 a.m.']").click()
    expect(dialog).to_be_visible()
    expect(page.locator("#id_earliest")).to_have_value(f"{clinic.day.isoformat()}T09:00")
    page.locator("#patient-search").press_sequentially("nguyen thi anh", delay=30)
    choice = page.locator("#patient-choices input[name=patient]")
    expect(choice).to_have_count(1)
    choice.check()
    page.select_option("#id_procedure", label="FIL Filling")
    expect(page.locator("#slot-list button.opening").first).to_be_visible()
    page.select_option("#id_doctor", label="An Trần")
    first = page.locator("#slot-list button.opening").first
    expect(first).to_contain_text("9 a.m. · Chair 2 · An Trần")  # the cell that was clicked
    page.screenshot(path=str(screenshot("booking_dialog.png")))
    first.click()

    expect(dialog.locator(".notice")).to_have_text("Booked.")
    page.screenshot(path=str(screenshot("appointment_panel.png")))
    booked = Appointment.objects.get()
    assert (booked.chair, booked.doctor, booked.starts_at) == (
        clinic.chairs[1], clinic.doctor, clinic.at(9),
    )  # fmt: skip
    page.click("[data-close-dialog]")
    expect(dialog).to_be_hidden()
    block = page.locator(f"#appointment-{booked.pk}")
    expect(block).to_contain_text("Nguyễn Thị Ánh")
    expect(block).to_have_attribute("data-row", "5")  # 09:00 is the fifth quarter from 08:00
    assert block.evaluate("element => element.style.gridRow") == "5 / span 2"
    assert column_of(block) == "Chair 2"

    # Move it to 11:00 in Chair 1 from the appointment's panel.
    block.locator("a.open").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("link", name="Move").click()
    # htmx wires the new form's change trigger as it settles the swap; a change typed
    # before that sends no search (a person is never that quick; the test is).
    page.wait_for_function(
        "() => document.querySelector('.move-fields')?.['htmx-internal-data']?.initHash"
    )
    page.fill("#id_starts_at", f"{clinic.day.isoformat()}T11:00")
    page.select_option("#id_chair", label="Chair 1")
    first_opening = page.locator("#slot-list button.opening").first
    expect(first_opening).to_contain_text("11 a.m. · Chair 1 · An Trần")  # searched from there
    page.screenshot(path=str(screenshot("move_dialog.png")))
    dialog.get_by_role("button", name="Move here").click()
    expect(dialog.locator(".notice")).to_have_text("Moved.")
    page.click("[data-close-dialog]")
    expect(block).to_have_attribute("data-row", "13")  # the calendar reloaded itself
    assert column_of(block) == "Chair 1"
    booked.refresh_from_db()
    assert (booked.starts_at, booked.chair, booked.rescheduled_count) == (
        clinic.at(11), clinic.chairs[0], 1,
    )  # fmt: skip

    # Cancel it, saying who and why: it leaves the grid for the list below it.
    block.locator("a.open").click()
    dialog.get_by_label("The patient").check()
    dialog.get_by_label("Reason").fill("Has the flu")
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(dialog.locator(".notice")).to_have_text("Cancelled.")
    page.click("[data-close-dialog]")
    expect(blocks).to_have_count(0)
    released = page.locator(f"#released-{booked.pk}")
    expect(released).to_contain_text("Nguyễn Thị Ánh")
    expect(released).to_contain_text("The patient: Has the flu")
    booked.refresh_from_db()
    assert (booked.status, booked.cancelled_by, booked.cancel_reason) == (
        AppointmentStatus.CANCELLED, "patient", "Has the flu",
    )  # fmt: skip
    assert violations == []


FAMILY_NAMES = ["Phạm", "Võ", "Đỗ", "Bùi", "Hoàng", "Huỳnh", "Đặng", "Ngô"]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#ff7f0e"]  # fmt: skip
LENGTHS = [30, 45, 60, 30, 90, 30, 45]
STATUSES = [AppointmentStatus.COMPLETED, AppointmentStatus.COMPLETED, AppointmentStatus.SEATED,
            AppointmentStatus.ARRIVED, AppointmentStatus.CONFIRMED]  # fmt: skip


def fill_busy_day(clinic: Clinic, world) -> int:
    """20 chairs and 10 doctors, each doctor working two chairs in turn from morning to
    evening (the next patient sits down while the last chair is cleaned); every seventh
    patient a VIP, a few cancellations. Returns how many appointments the grid shows."""
    doctors = [clinic.doctor, User.objects.get(last_name="Lê")] + [
        make_doctor(clinic.branch, first_name="Bác sĩ", last_name=name) for name in FAMILY_NAMES
    ]
    for doctor, colour in zip(doctors, COLOURS, strict=True):
        doctor.staff_profile.calendar_colour = colour
        doctor.staff_profile.save()
    chairs = clinic.chairs + [
        ChairFactory(branch=clinic.branch, name=f"Chair {n}", sort_order=n) for n in range(4, 21)
    ]
    vip = TagFactory(organization=world.acme, name="VIP")
    shown = 0
    for number, doctor in enumerate(doctors):
        start = clinic.at(8) + timedelta(minutes=15 * (number % 3))
        visit = 0
        while start < clinic.at(19):
            minutes = LENGTHS[(number + visit) % len(LENGTHS)]
            patient = PatientFactory(home_branch=clinic.branch)
            if (number + visit) % 7 == 0:
                patient.tags.add(vip)
            cancelled = (number + visit) % 11 == 5
            status = AppointmentStatus.CANCELLED if cancelled else STATUSES[min(visit, 4)]
            AppointmentFactory(
                branch=clinic.branch, chair=chairs[2 * number + visit % 2], patient=patient,
                procedure=clinic.filling, doctor=doctor, starts_at=start,
                ends_at=start + timedelta(minutes=minutes),
                blocked_until=start + timedelta(minutes=minutes + 10), status=status,
                cancelled_by="patient" if cancelled else "",
                cancel_reason="Travelling" if cancelled else "",
            )  # fmt: skip
            shown += not cancelled
            start += timedelta(minutes=minutes + 10)
            visit += 1
    return shown


def test_a_busy_day_on_twenty_chairs_reads_as_a_grid(live_server, page, clinic, persona, world):
    violations = watch_console(page)
    shown = fill_busy_day(clinic, world)
    day_view = f"{live_server.url}{reverse('scheduling:day_view')}?date={clinic.day}"

    log_in(page, live_server.url, persona(Role.RECEPTIONIST))
    page.goto(day_view)
    expect(page.locator(".book-column")).to_have_count(20)
    expect(page.locator("#calendar article.appointment")).to_have_count(shown)
    page.screenshot(path=str(screenshot("day_view.png")))
    page.goto(day_view + "&by=doctor")
    expect(page.locator(".book-column")).to_have_count(10)
    page.screenshot(path=str(screenshot("day_view_by_doctor.png")))
    page.goto(f"{live_server.url}{reverse('scheduling:week_view')}?date={clinic.day}")
    expect(page.locator(".book-column")).to_have_count(7)
    page.screenshot(path=str(screenshot("week_view.png")))
    page.goto(f"{live_server.url}{reverse('scheduling:day_sheet')}?date={clinic.day}")
    page.emulate_media(media="print")
    page.screenshot(path=str(screenshot("day_sheet_print.png")), full_page=True)
    assert violations == []


def column_of(block) -> str:
    """The label of the calendar column an appointment's block is in."""
    return str(block.evaluate("element => element.closest('.book-column').ariaLabel"))


def screenshot(name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name
