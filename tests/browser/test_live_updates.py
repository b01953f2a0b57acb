"""Live updates of the book (ADR 14) in a real browser: two people in two browser
contexts. The receptionist cancels an appointment from her day view; the doctor's day
view and morning meeting, open all along, show it without anyone reloading them. Then a
booking made elsewhere appears on the doctor's day view the same way.

The pages poll /desk/version/ (static/js/live.js); the test sets the interval to 400 ms
(CHAIRTIME_LIVE_POLL_MS) instead of the 10 s default.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.roles import Role
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_appointment_book import watch_console
from tests.browser.test_patient_flow import log_in
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    ProcedureFactory,
    make_doctor,
    open_branch,
)

pytestmark = pytest.mark.browser

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), HO_CHI_MINH)


def second_page(browser: Browser) -> Page:
    context = browser.new_context(locale="en-GB", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    return context.new_page()


def test_a_cancellation_and_a_booking_reach_the_other_users_pages_without_a_reload(
    live_server, page, browser, world, persona, settings
):
    settings.CHAIRTIME_LIVE_POLL_MS = 400
    branch = world.branch_a
    open_branch(branch, weekdays=range(7))
    today = timezone.localdate(timezone=HO_CHI_MINH)
    doctor = make_doctor(branch, first_name="An", last_name="Trần", weekdays=range(7))
    watching_doctor = persona(Role.DOCTOR)  # the doctor who watches: another user
    chair = ChairFactory(branch=branch, name="Chair 1", sort_order=1)
    filling = ProcedureFactory(organization=world.acme, code="FIL", name="Filling")
    patient = PatientFactory(home_branch=branch, family_name="Nguyễn", given_name="Thị Ánh")
    booked = AppointmentFactory(
        branch=branch, patient=patient, procedure=filling, doctor=doctor, chair=chair,
        starts_at=at(today, 15), ends_at=at(today, 15) + timedelta(minutes=30),
    )  # fmt: skip
    day_url = f"{live_server.url}{reverse('scheduling:day_view')}?date={today.isoformat()}"

    watcher = second_page(browser)
    violations = watch_console(watcher)
    log_in(watcher, live_server.url, watching_doctor)
    watcher.goto(day_url)
    block = watcher.locator(f"#appointment-{booked.pk}")
    expect(block).to_contain_text("Nguyễn Thị Ánh")
    meeting = watcher.context.new_page()
    meeting.goto(live_server.url + reverse("frontdesk:morning_meeting"))
    expect(meeting.locator("#unconfirmed")).to_contain_text("Nguyễn Thị Ánh")
    # Marks on the open pages: a reload would wipe them.
    watcher.evaluate("() => { window.notReloaded = true; }")
    meeting.evaluate("() => { window.notReloaded = true; }")

    log_in(page, live_server.url, persona(Role.RECEPTIONIST))
    page.goto(day_url)
    page.locator(f"#appointment-{booked.pk} a.open").click()
    dialog = page.locator("#book-dialog")
    dialog.get_by_label("The clinic").check()
    dialog.get_by_label("Reason").fill("Doctor ill")
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(dialog.locator(".notice")).to_have_text("Cancelled.")

    expect(block).to_have_count(0)
    expect(watcher.locator(f"#released-{booked.pk}")).to_contain_text("The clinic: Doctor ill")
    expect(meeting.locator("#unconfirmed")).not_to_contain_text("Nguyễn Thị Ánh")
    assert watcher.evaluate("() => window.notReloaded") is True
    assert meeting.evaluate("() => window.notReloaded") is True

    # A booking made elsewhere (here straight to the table, as the API would) appears too.
    newcomer = PatientFactory(home_branch=branch, family_name="Phạm", given_name="Văn Long")
    walked_in = AppointmentFactory(
        branch=branch, patient=newcomer, procedure=filling, doctor=doctor, chair=chair,
        starts_at=at(today, 16), ends_at=at(today, 16) + timedelta(minutes=30),
        status=AppointmentStatus.CONFIRMED,
    )  # fmt: skip
    expect(watcher.locator(f"#appointment-{walked_in.pk}")).to_contain_text("Phạm Văn Long")
    assert watcher.evaluate("() => window.notReloaded") is True
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    watcher.screenshot(path=str(SCREENSHOTS / "live_day_view.png"))
    meeting.screenshot(path=str(SCREENSHOTS / "morning_meeting.png"), full_page=True)
    assert Appointment.objects.get(pk=booked.pk).status == AppointmentStatus.CANCELLED
    assert violations == []
    watcher.context.close()
