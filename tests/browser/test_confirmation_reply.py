"""A patient answers a reminder with "C" and the front desk sees the appointment confirmed
in the day view, in a real browser (Debian's chromium via Playwright, as in
test_patient_flow.py).

The reminder is made by the automation rules (a generation run) and taken as sent (the
dispatcher's sending is tested in chairtime/messaging/tests; here the hour of the day
would hold it back at night). The reply reaches the public inbound webhook over HTTP, as
the SMS provider would send it, signed with X-Twilio-Signature; the day view then shows
the appointment confirmed, with the Content Security Policy intact.
"""

from __future__ import annotations

import urllib.request
from datetime import datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from chairtime.messaging.automation.generation import generate_messages
from chairtime.messaging.models import InboundMessage, Message
from chairtime.messaging.signatures import twilio_signature
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
TOKEN = "browser-twilio-token"
MOBILE = "+84912345679"


def post_signed(url: str, fields: dict[str, str]) -> tuple[int, str]:
    """POST the form as the provider does, signed over the URL and the sorted fields."""
    request = urllib.request.Request(  # noqa: S310 - http to the test's live server
        url, data=urlencode(fields).encode(), method="POST",
        headers={"X-Twilio-Signature": twilio_signature(url, fields, TOKEN),
                 "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the live server
        return answer.status, answer.read().decode()


def test_a_c_reply_to_a_reminder_confirms_the_appointment_in_the_day_view(
    live_server, page, world, persona, settings
):
    settings.MESSAGING_TWILIO = {**settings.MESSAGING_TWILIO, "AUTH_TOKEN": TOKEN}
    settings.MESSAGING_PUBLIC_BASE_URL = ""
    branch = world.branch_a
    open_branch(branch)
    doctor = make_doctor(branch, first_name="An", last_name="Trần")
    soon = timezone.localdate(timezone=HO_CHI_MINH) + timedelta(days=2)
    day = soon + timedelta(days=1 if soon.weekday() == 6 else 0)  # the branch is shut on Sundays
    starts_at = datetime.combine(day, time(10), tzinfo=HO_CHI_MINH)
    patient = PatientFactory(home_branch=branch, family_name="Phạm", given_name="Minh Thư",
                             phone=MOBILE)  # fmt: skip
    appointment = AppointmentFactory(
        branch=branch, patient=patient, doctor=doctor, starts_at=starts_at,
        chair=ChairFactory(branch=branch, name="Chair 1", sort_order=1),
        procedure=ProcedureFactory(organization=world.acme, code="FIL", name="Filling"),
    )  # fmt: skip
    generate_messages(organization=world.acme, now=starts_at - timedelta(days=1, minutes=5))
    # The organisation's default rules: a reminder 1 day before (due now) and 3 hours before.
    reminder = Message.objects.filter(rule__kind="reminder", appointment=appointment).earliest(
        "not_before"
    )
    Message.objects.filter(pk=reminder.pk).update(status="sent", sent_at=timezone.now())
    violations = watch_console(page)

    status, body = post_signed(
        live_server.url + reverse("messaging_hooks:inbound", args=["twilio"]),
        {"MessageSid": "SMbrowser1", "From": MOBILE, "To": "+15005550006", "Body": "C"},
    )

    assert (status, body) == (200, "<Response></Response>")
    inbound = InboundMessage.objects.get()
    assert (inbound.kind, inbound.in_reply_to_id, inbound.handled_at is not None) == (
        "confirmation", reminder.pk, True,
    )  # fmt: skip
    log_in(page, live_server.url, persona(Role.RECEPTIONIST))
    page.goto(f"{live_server.url}{reverse('scheduling:day_view')}?date={day.isoformat()}")
    expect(page.locator("main h1")).to_have_text("Appointment book")
    block = page.locator(f"#appointment-{appointment.pk}")
    expect(block).to_contain_text("Phạm Minh Thư")
    expect(block).to_have_class("appointment status-confirmed")
    expect(block.locator(".badge")).to_have_text("Confirmed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "confirmed_by_reply.png"), full_page=True)
    appointment.refresh_from_db()
    assert appointment.status == "confirmed" and appointment.confirmed_at is not None
    assert Appointment.objects.filter(status="confirmed").count() == 1
    assert violations == []
