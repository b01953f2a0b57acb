"""A receptionist cancels an appointment on the day view; the freed slot is offered at
once to the top-ranked waiting patient (a VIP, ahead of a potential customer who waited
longer); the VIP opens the claim link from the message and takes it; the day view shows
the VIP's appointment in the slot. In a real browser (Debian's chromium via Playwright),
with the Content Security Policy intact.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from playwright.sync_api import expect

from chairtime.crm.choices import CustomerGroup
from chairtime.messaging.models import Message
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.roles import Role
from chairtime.waitlist.choices import InviteState, OfferStatus, Tier
from chairtime.waitlist.models import OfferInvite, SlotOffer, WaitlistEntry
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_appointment_book import watch_console
from tests.browser.test_patient_flow import log_in
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    PatientProfileFactory,
    ProcedureFactory,
    make_doctor,
    open_branch,
)

pytestmark = pytest.mark.browser

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")


def waiting(branch, procedure, family, given, group, days):
    patient = PatientFactory(home_branch=branch, family_name=family, given_name=given,
                             phone=f"+8491234{days:04d}")  # fmt: skip
    PatientProfileFactory(patient=patient, group=group)
    return WaitlistEntry.objects.create(
        branch=branch, patient=patient, procedure=procedure,
        waiting_since=timezone.now() - timedelta(days=days),
    )  # fmt: skip


def test_a_cancelled_slot_goes_to_the_waitlisted_vip_who_claims_it_by_link(
    live_server, page, browser, world, persona, settings, monkeypatch
):
    settings.MESSAGING_PUBLIC_BASE_URL = ""
    settings.CHAIRTIME_LIVE_POLL_MS = 400  # the day view polls the book's version (live.js)
    monkeypatch.setattr("chairtime.waitlist.services.INVITES_PER_OFFER", 1)
    branch = world.branch_a
    open_branch(branch)
    doctor = make_doctor(branch, first_name="An", last_name="Trần")
    soon = timezone.localdate(timezone=HO_CHI_MINH) + timedelta(days=2)
    day = soon + timedelta(days=1 if soon.weekday() == 6 else 0)  # shut on Sundays
    starts_at = datetime.combine(day, time(10), tzinfo=HO_CHI_MINH)
    filling = ProcedureFactory(organization=world.acme, code="FIL", name="Filling")
    booked = AppointmentFactory(
        branch=branch, doctor=doctor, starts_at=starts_at, procedure=filling,
        chair=ChairFactory(branch=branch, name="Chair 1", sort_order=1),
        patient=PatientFactory(home_branch=branch, family_name="Lê", given_name="Văn Hủy"),
    )  # fmt: skip
    waiting(branch, filling, "Võ", "Thị Lâu", CustomerGroup.POTENTIAL, days=40)
    waiting(branch, filling, "Đỗ", "Văn Cát", CustomerGroup.LOW_VALUE, days=60)
    vip = waiting(branch, filling, "Phạm", "Minh Thư", CustomerGroup.LOYAL, days=2)
    violations = watch_console(page)

    # The receptionist cancels the appointment in the day view's dialog.
    log_in(page, live_server.url, persona(Role.RECEPTIONIST))
    day_url = f"{live_server.url}{reverse('scheduling:day_view')}?date={day.isoformat()}"
    page.goto(day_url)
    page.locator(f"#appointment-{booked.pk} a.open").click()
    dialog = page.locator("#book-dialog")
    dialog.get_by_label("The patient").check()
    dialog.get_by_label("Reason").fill("Travelling")
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(dialog.locator(".notice")).to_have_text("Cancelled.")

    # The refill ran when the cancellation committed: one offer, to the VIP only.
    offer = SlotOffer.objects.get()
    invite = OfferInvite.objects.get()
    sent = Message.objects.get(idempotency_key__startswith="waitlist:offer:")
    assert (offer.source_appointment_id, offer.starts_at, offer.status) == (
        booked.pk, starts_at, OfferStatus.OPEN,
    )  # fmt: skip
    assert (invite.entry_id, invite.rank, invite.tier, invite.message_id) == (
        vip.pk, 1, Tier.ROCK, sent.pk,
    )  # fmt: skip
    assert (sent.patient_id, sent.idempotency_key, sent.channel, sent.to_address) == (
        vip.patient_id, f"waitlist:offer:{invite.pk}", "sms", "+84912340002",
    )  # fmt: skip

    # "Fill this gap" shows the slot's offer and who has it.
    dialog.get_by_role("button", name="Fill this gap").click()
    expect(dialog.locator("#refill-notice")).to_have_text(
        "The slot is already offered; the invites are still open."
    )
    row = dialog.locator(f"#invite-table tr[data-invite='{invite.pk}']")
    expect(row).to_contain_text("Phạm Minh Thư")
    expect(row).to_contain_text("VIP")
    expect(row).to_contain_text("Invited")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "waitlist_offer.png"), full_page=True)

    # The VIP opens the link from the message, on their own phone (no login), and takes it.
    link = sent.body[sent.body.index("/w/") :].split()[0]
    phone = browser.new_context(locale="vi-VN")
    patient_page = phone.new_page()
    patient_violations = watch_console(patient_page)
    patient_page.goto(live_server.url + link)
    expect(patient_page.locator("#claim h1")).to_have_text(branch.name)
    patient_page.locator("button[value=take]").click()
    with translation.override("vi"):  # the branch's language: the patient set none
        yours = translation.gettext("It is yours: the appointment is booked. See you then!")
    expect(patient_page.locator("#claim-state")).to_have_text(yours)
    phone.close()

    # The front desk's day view, still open and never reloaded, shows the VIP in the slot.
    page.evaluate("window.neverReloaded = true")
    page.keyboard.press("Escape")  # close the dialog
    new = Appointment.objects.exclude(pk=booked.pk).get()
    block = page.locator(f"#appointment-{new.pk}")
    expect(block).to_contain_text("Phạm Minh Thư")
    assert page.evaluate("window.neverReloaded") is True
    assert (new.patient_id, new.starts_at, new.chair_id, new.doctor_id, new.status) == (
        vip.patient_id, starts_at, booked.chair_id, doctor.pk, "booked",
    )  # fmt: skip
    offer.refresh_from_db()
    invite.refresh_from_db()
    vip.refresh_from_db()
    assert (offer.status, offer.appointment_id, invite.state, vip.status, vip.appointment_id) == (
        OfferStatus.FILLED, new.pk, InviteState.CLAIMED, "booked", new.pk,
    )  # fmt: skip
    assert violations == patient_violations == []
