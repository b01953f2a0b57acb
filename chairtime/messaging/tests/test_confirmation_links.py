"""The patient's confirmation link (/c/<token>, no login): confirm, "I need to change it",
used twice, expired, moved, cancelled, unknown; only a hash is stored; the page shows the
branch, time and doctor and nothing else about the patient; staff of another branch never
see the message that carries it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.audit.models import AuditEvent
from chairtime.messaging.automation.confirmations import link_token, token_hash
from chairtime.messaging.models import ConfirmationLink, InboundMessage, Message
from chairtime.messaging.tests.automation_helpers import appointment, only_rules, patient, run
from chairtime.scheduling.services import cancel_appointment
from chairtime.tenancy.roles import Role
from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def sent(world):
    """A confirmation request generated for an appointment in two days, on SMS."""
    only_rules(world.branch_a, {"kind": "confirmation_request", "offset_value": 2,
                                "offset_unit": "days"})  # fmt: skip
    world.branch_a.phone = "028 3822 1234"
    world.branch_a.save()
    who = patient(world.branch_a, display_name="Võ Thị Lan", preferred_language="en")
    now = timezone.now()
    row = appointment(world.branch_a, who, starts_at=now + timedelta(days=2, hours=3))
    run(world.branch_a, now=now + timedelta(hours=4))
    message = Message.objects.get()
    token = message.body.split("/c/")[1].split()[0]
    return row, message, token


def test_only_the_hash_of_the_token_is_stored(sent):
    row, _message, token = sent

    link = ConfirmationLink.objects.get()
    assert link.token_hash == token_hash(token) != token
    assert token == link_token(organization_id=row.branch.organization_id, appointment_id=row.pk,
                               starts_at=row.starts_at)  # fmt: skip
    assert len(token) == 32


def test_the_page_shows_branch_time_and_doctor_and_nothing_else_about_the_patient(client, sent):
    row, _message, token = sent

    response = client.get(reverse("confirm:link", args=[token]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme Quận 1" in html and "An Trần" in html and "028 3822 1234" in html
    assert "Võ Thị Lan" not in html and "Scaling" not in html and row.patient.number not in html
    assert response["Content-Language"] == "en"


def test_confirming_writes_back_to_the_appointment_once(sent):
    row, _message, token = sent
    client = Client(enforce_csrf_checks=True)
    url = reverse("confirm:link", args=[token])

    assert client.post(url, {"action": "confirm"}).status_code == 403  # no CSRF token
    client.get(url)
    csrf = client.cookies["csrftoken"].value
    first = client.post(url, {"action": "confirm", "csrfmiddlewaretoken": csrf})
    second = client.post(url, {"action": "confirm", "csrfmiddlewaretoken": csrf})

    row.refresh_from_db()
    assert row.status == "confirmed" and row.confirmed_at is not None
    assert "Thank you: your appointment is confirmed." in first.content.decode()
    assert "This appointment is already confirmed." in client.get(url).content.decode()
    assert second.status_code == 200
    assert ConfirmationLink.objects.get().confirmed_at == row.confirmed_at
    [confirmed] = AuditEvent.objects.filter(
        object_type="scheduling.appointment", object_id=str(row.pk), actor__isnull=True
    )
    assert confirmed.summary.endswith(" · by the patient's confirmation link")
    assert AuditEvent.objects.filter(summary="appointment confirmed by link").count() == 1


def test_asking_to_change_raises_one_call_back_request_in_the_branch_inbox(client, sent):
    row, message, token = sent
    url = reverse("confirm:link", args=[token])

    response = client.post(url, {"action": "change"})
    client.post(url, {"action": "change"})

    assert "We will call you to find another time." in response.content.decode()
    inbound = InboundMessage.objects.get()
    assert (inbound.kind, inbound.branch_id, inbound.patient_id, inbound.handled_at) == (
        "callback_request", row.branch_id, row.patient_id, None,
    )  # fmt: skip
    assert (inbound.channel, inbound.from_address, inbound.in_reply_to_id, inbound.provider) == (
        "sms", message.to_address, message.pk, "link",
    )  # fmt: skip
    row.refresh_from_db()
    assert row.status == "booked"


def test_a_moved_appointments_old_link_says_so(client, sent):
    row, _message, token = sent
    type(row).objects.filter(pk=row.pk).update(starts_at=row.starts_at + timedelta(hours=1),
                                               ends_at=row.ends_at + timedelta(hours=1),
                                               blocked_until=row.blocked_until + timedelta(hours=1))  # fmt: skip

    response = client.post(reverse("confirm:link", args=[token]), {"action": "confirm"})

    assert "This appointment was moved to another time." in response.content.decode()
    row.refresh_from_db()
    assert row.confirmed_at is None


def test_a_cancelled_appointments_link_says_so(client, sent, persona):
    row, _message, token = sent
    cancel_appointment(actor=persona(Role.RECEPTIONIST), appointment=row, cancelled_by="patient",
                       reason="Travelling")  # fmt: skip

    response = client.get(reverse("confirm:link", args=[token]))

    assert "This appointment was cancelled." in response.content.decode()


def test_an_expired_link_says_so_and_confirms_nothing(client, sent):
    row, _message, token = sent
    ConfirmationLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    response = client.post(reverse("confirm:link", args=[token]), {"action": "confirm"})

    assert response.status_code == 200
    assert "This link has expired." in response.content.decode()
    row.refresh_from_db()
    assert row.confirmed_at is None


@pytest.mark.parametrize("token", ["A" * 32, "short", "A" * 33])
def test_an_unknown_link_is_a_clear_404_page(client, sent, token):
    response = client.get(reverse("confirm:link", args=[token]))

    assert response.status_code == 404
    assert "This link does not work" in response.content.decode()


def test_staff_of_another_branch_never_see_the_message_carrying_the_link(world, sent, logged_in):
    _row, message, token = sent
    other = UserFactory()
    MembershipFactory(user=other, organization=world.acme, branch=world.branch_b,
                      role=Role.RECEPTIONIST)  # fmt: skip
    client = logged_in(other)

    assert client.get(reverse("messaging:message_detail", args=[message.pk])).status_code == 404
    assert token not in client.get(reverse("messaging:outbox_list")).content.decode()
