"""The waitlist's pages and API: adding and removing entries (with the service's refusals
beside their fields), "Fill this gap", the claim page, and who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone, translation

from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import default_branch_access
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from chairtime.waitlist.choices import EntryStatus
from chairtime.waitlist.models import OfferInvite, SlotOffer, WaitlistEntry
from chairtime.waitlist.services import refill_slot
from chairtime.waitlist.tests.helpers import ZONE, make_clinic
from tests.factories import ProcedureFactory, make_doctor

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(world):
    return make_clinic(world.branch_a)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_adding_removing_and_filling_need_schedule_book(role, world, persona, logged_in):
    user = persona(role)
    access = default_branch_access(user)
    clinic = make_clinic(access.branch if access else world.branch_a)
    client = logged_in(user)
    patient = clinic.patient()
    allowed = Capability.SCHEDULE_BOOK in ROLE_CAPABILITIES[role]

    added = client.post(reverse("waitlist:entry_create"),
                        {"patient": patient.number, "procedure": clinic.filling.pk,
                         "part_of_day": "any"})  # fmt: skip
    entry = WaitlistEntry.objects.filter(patient=patient).first()
    if entry is None:
        entry = clinic.wait(patient, actor=persona(Role.OWNER))
    removed = client.post(reverse("waitlist:entry_remove", args=[entry.pk]))
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")
    filled = client.post(reverse("waitlist:refill", args=[clinic.booked.pk]))

    entry.refresh_from_db()
    if allowed:
        assert (added.status_code, removed.status_code, filled.status_code) == (302, 302, 302)
        assert entry.status == EntryStatus.REMOVED
    else:
        assert (added.status_code, removed.status_code, filled.status_code) == (404, 404, 404)
        assert (WaitlistEntry.objects.count(), entry.status) == (1, EntryStatus.ACTIVE)


def test_a_procedure_no_doctor_does_is_refused_beside_the_field(clinic, world, persona, logged_in):
    client = logged_in(persona(Role.RECEPTIONIST))
    nobody_does = ProcedureFactory(organization=world.acme, code="ORT", category="surgery")
    patient = clinic.patient()

    response = client.post(reverse("waitlist:entry_create"),
                           {"patient": patient.number, "procedure": nobody_does.pk,
                            "part_of_day": "any"})  # fmt: skip

    assert response.status_code == 422
    assert response.context["form"].errors == {
        "procedure": ["No doctor of this branch does this procedure."]
    }
    assert WaitlistEntry.objects.count() == 0


def test_a_second_active_entry_for_the_same_need_is_refused(clinic, persona, logged_in):
    clerk = persona(Role.RECEPTIONIST)
    patient = clinic.patient()
    clinic.wait(patient, actor=clerk)

    response = logged_in(clerk).post(reverse("waitlist:entry_create"),
                                     {"patient": patient.number, "procedure": clinic.filling.pk,
                                      "part_of_day": "any"})  # fmt: skip

    assert response.status_code == 422
    assert response.context["form"].errors == {
        "procedure": ["This patient is already on the waitlist for this procedure."]
    }
    assert WaitlistEntry.objects.count() == 1


def test_the_list_shows_who_waits_and_the_day_view_dialog_offers_fill_this_gap(
    clinic, persona, logged_in
):
    clerk = persona(Role.RECEPTIONIST)
    entry = clinic.wait(clinic.patient(), actor=clerk)
    client = logged_in(clerk)
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")

    listed = client.get(reverse("waitlist:entry_list"))
    dialog = client.get(reverse("scheduling:appointment_detail", args=[clinic.booked.pk]))
    viewer = logged_in(persona(Role.NURSE)).get(
        reverse("scheduling:appointment_detail", args=[clinic.booked.pk])
    )

    assert entry.patient.display_name in listed.content.decode()
    fill = reverse("waitlist:refill", args=[clinic.booked.pk])
    assert f'hx-post="{fill}"' in dialog.content.decode()
    assert viewer.status_code == 200 and fill not in viewer.content.decode()


def test_fill_this_gap_shows_the_offer_in_the_dialog(clinic, persona, logged_in):
    clerk = persona(Role.RECEPTIONIST)
    entry = clinic.wait(clinic.patient(), actor=clerk)
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")

    response = logged_in(clerk).post(
        reverse("waitlist:refill", args=[clinic.booked.pk]), HTTP_HX_REQUEST="true"
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "Offered to 1 waiting patients." in body
    assert entry.patient.display_name in body and "<html" not in body


def test_another_branch_cannot_fill_this_branch_gap(clinic, world, persona, logged_in):
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")
    outsider_client = logged_in(persona(Role.RECEPTIONIST))
    other = make_clinic(world.branch_b)
    Appointment.objects.filter(pk=other.booked.pk).update(status="cancelled")

    response = outsider_client.post(reverse("waitlist:refill", args=[other.booked.pk]))

    assert response.status_code == 404
    assert SlotOffer.objects.count() == 0


def offered_token(world, persona) -> str:
    """A slot next week (the claim books at the real time, within the booking horizon)
    offered to one waiting patient who reads English: the token of their link."""
    today = timezone.localdate(timezone=ZONE)
    day = today + timedelta(days=7 + (1 - today.weekday()) % 7)  # a Tuesday
    slot = datetime.combine(day, time(10), tzinfo=ZONE)
    clinic = make_clinic(world.branch_a, slot=slot)
    clinic.wait(clinic.patient(preferred_language="en"), actor=persona(Role.RECEPTIONIST))
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")
    refill = refill_slot(actor=None, appointment_id=clinic.booked.pk, reason="cancelled",
                         chair_id=clinic.chair.pk, doctor_id=clinic.doctor.pk, starts_at=slot,
                         ends_at=slot + timedelta(minutes=30))  # fmt: skip
    return refill.invited[0].message.body.rsplit("/w/", 1)[1]


def test_the_claim_page_books_once_and_says_so_the_second_time(world, persona, client, settings):
    settings.MESSAGING_PUBLIC_BASE_URL = ""
    token = offered_token(world, persona)
    url = reverse("claim:link", args=[token])

    shown = client.get(url)
    taken = client.post(url, {"action": "take"})
    again = client.post(url, {"action": "take"})

    assert shown.status_code == taken.status_code == again.status_code == 200
    assert shown.context["state"] == "open" and "Take it" in shown.content.decode()
    assert "It is yours: the appointment is booked." in taken.content.decode()
    assert "You already have this appointment." in again.content.decode()
    assert Appointment.objects.exclude(status="cancelled").count() == 1
    assert OfferInvite.objects.get().state == "claimed"


def test_an_unknown_claim_link_is_a_404_page(client):
    response = client.get(reverse("claim:link", args=["0" * 32]))

    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


# --- API --------------------------------------------------------------------------------------
def test_api_adds_lists_refills_and_shows_offers(clinic, persona, logged_in, world):
    client = logged_in(persona(Role.RECEPTIONIST))
    patient = clinic.patient()
    headers = {"HTTP_X_BRANCH": str(world.branch_a.pk)}

    made = client.post("/api/v1/waitlist/entries", {"patient_id": patient.pk,
                       "procedure_id": clinic.filling.pk, "weekdays": [1]},
                       content_type="application/json", **headers)  # fmt: skip
    duplicate = client.post("/api/v1/waitlist/entries", {"patient_id": patient.pk,
                            "procedure_id": clinic.filling.pk},
                            content_type="application/json", **headers)  # fmt: skip
    listed = client.get("/api/v1/waitlist/entries", **headers)
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")
    refilled = client.post(f"/api/v1/waitlist/refill/{clinic.booked.pk}", **headers)
    offers = client.get("/api/v1/waitlist/offers", **headers)

    assert made.status_code == 201 and made.json()["weekdays"] == [1]
    assert duplicate.status_code == 422
    assert duplicate.json()["errors"] == {
        "procedure_id": ["This patient is already on the waitlist for this procedure."]
    }
    assert [row["patient_id"] for row in listed.json()] == [patient.pk]
    assert (refilled.status_code, refilled.json()["outcome"]) == (200, "invited")
    assert [o["source_appointment_id"] for o in offers.json()] == [clinic.booked.pk]
    assert [i["patient_id"] for i in offers.json()[0]["invites"]] == [patient.pk]


def test_the_claim_page_shows_when_the_offer_ends_in_the_branch_time(world, persona, client,
                                                                      settings):  # fmt: skip
    settings.MESSAGING_PUBLIC_BASE_URL = ""
    token = offered_token(world, persona)
    invite = OfferInvite.objects.get()
    local = invite.expires_at.astimezone(ZONE)  # the branch is in Asia/Ho_Chi_Minh
    utc = invite.expires_at.astimezone(UTC)

    shown = client.get(reverse("claim:link", args=[token]))

    with translation.override(shown["Content-Language"]):
        expected = formats.time_format(local, "TIME_FORMAT")
        wrong = formats.time_format(utc, "TIME_FORMAT")
    body = shown.content.decode()
    assert expected != wrong
    assert f"The offer stands until {expected}." in body
    assert wrong not in body


# --- cross-branch and cross-organisation ----------------------------------------------------
@pytest.fixture
def elsewhere(world, persona):
    """An entry and an offer in acme's branch B and in the rival organisation, none of
    which a receptionist of branch A may see or change."""
    found = []
    for branch in (world.branch_b, world.rival_branch):
        other = make_clinic(branch)
        entry = other.wait(other.patient(), actor=persona(Role.OWNER))
        Appointment.objects.filter(pk=other.booked.pk).update(status="cancelled")
        offer = refill_slot(actor=None, appointment_id=other.booked.pk, reason="cancelled",
                            chair_id=other.chair.pk, doctor_id=other.doctor.pk,
                            starts_at=other.booked.starts_at, ends_at=other.booked.ends_at,
                            now=other.booked.starts_at - timedelta(days=1)).offer  # fmt: skip
        assert offer is not None
        found.append((entry, offer))
    return found


def test_another_branch_or_organisation_entries_and_offers_are_not_found(
    elsewhere, world, persona, logged_in
):
    client = logged_in(persona(Role.RECEPTIONIST))
    headers = {"HTTP_X_BRANCH": str(world.branch_a.pk)}

    for entry, offer in elsewhere:
        removed = client.post(reverse("waitlist:entry_remove", args=[entry.pk]))
        shown = client.get(reverse("waitlist:offer_detail", args=[offer.pk]))
        api_entry = client.get(f"/api/v1/waitlist/entries/{entry.pk}", **headers)
        api_delete = client.delete(f"/api/v1/waitlist/entries/{entry.pk}", **headers)
        api_offer = client.get(f"/api/v1/waitlist/offers/{offer.pk}", **headers)

        assert (removed.status_code, shown.status_code, api_entry.status_code,
                api_delete.status_code, api_offer.status_code) == (404, 404, 404, 404, 404)  # fmt: skip
    assert set(WaitlistEntry.objects.values_list("status", flat=True)) == {EntryStatus.ACTIVE}


def test_api_names_the_payload_field_the_service_refused(clinic, world, persona, logged_in):
    client = logged_in(persona(Role.RECEPTIONIST))
    headers = {"HTTP_X_BRANCH": str(world.branch_a.pk)}
    nobody_does = ProcedureFactory(organization=world.acme, code="ORT", category="surgery")
    outsider = make_doctor(world.branch_b)
    patient = clinic.patient()

    refused = client.post("/api/v1/waitlist/entries", {"patient_id": patient.pk,
                          "procedure_id": nobody_does.pk},
                          content_type="application/json", **headers)  # fmt: skip
    wrong_doctor = client.post("/api/v1/waitlist/entries", {"patient_id": patient.pk,
                               "procedure_id": clinic.filling.pk, "doctor_id": outsider.pk,
                               "weekdays": [9]},
                               content_type="application/json", **headers)  # fmt: skip

    assert (refused.status_code, wrong_doctor.status_code) == (422, 422)
    assert refused.json()["errors"] == {
        "procedure_id": ["No doctor of this branch does this procedure."]
    }
    assert wrong_doctor.json()["errors"] == {
        "doctor_id": ["This doctor does not work in this branch."],
        "weekdays": ["Choose days of the week from the list."],
    }
    assert WaitlistEntry.objects.count() == 0
