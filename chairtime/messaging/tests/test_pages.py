"""The outbox and inbox pages and the API: filters, history, inbox actions, and scope —
a user sees only messages of branches where they hold messaging.view (else 404)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chairtime.messaging.models import InboundMessage, Message
from chairtime.messaging.tests.helpers import MOBILE_VN, patient_with_phone, sms
from chairtime.tenancy.roles import Role


def inbound(
    branch, patient=None, *, kind="reply", body="Can I come at 10?", pid="SMin"
) -> InboundMessage:
    return InboundMessage.objects.create(
        organization_id=branch.organization_id, branch=branch, channel="sms", provider="twilio",
        provider_message_id=pid, from_address=MOBILE_VN, body=body, received_at=timezone.now(),
        patient=patient, kind=kind,
    )  # fmt: skip


@pytest.fixture
def receptionist(persona):
    return persona(Role.RECEPTIONIST)  # branch A only


def test_outbox_lists_the_branches_messages_with_status_and_reason(world, receptionist, logged_in):
    now = timezone.now()
    sms(world.branch_a, "a", body="Hello A", now=now)
    blocked = sms(world.branch_a, "b", now=now)
    Message.objects.filter(pk=blocked.pk).update(status="blocked", reason="no_consent")
    sms(world.branch_b, "c", now=now)

    response = logged_in(receptionist).get(reverse("messaging:outbox_list"))

    assert response.status_code == 200
    page = response.context["page"]
    assert {m.idempotency_key for m in page} == {"a", "b"}
    assert "No consent for marketing on this channel" in response.content.decode()


def test_outbox_filters_by_status_channel_and_day(world, persona, logged_in):
    owner = persona(Role.OWNER)
    now = timezone.now()
    sms(world.branch_a, "a", now=now)
    failed = sms(world.branch_b, "b", now=now)
    Message.objects.filter(pk=failed.pk).update(status="failed")
    old = sms(world.branch_a, "old", now=now)
    Message.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=3))
    client = logged_in(owner)
    url = reverse("messaging:outbox_list")

    def keys(query: dict) -> set[str]:
        return {m.idempotency_key for m in client.get(url, query).context["page"]}

    assert keys({}) == {"a", "b", "old"}
    assert keys({"status": "failed"}) == {"b"}
    assert keys({"branch": world.branch_b.pk}) == {"b"}
    assert keys({"channel": "email"}) == set()
    today = timezone.localdate(now, world.branch_a.zone)
    assert keys({"day": today.isoformat()}) == {"a", "b"}
    fragment = client.get(url, {"status": "failed"}, HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<div id="outbox-rows">')


def test_branch_filter_cannot_reach_a_branch_the_user_has_no_access_to(
    world, receptionist, logged_in
):
    sms(world.branch_a, "a")
    sms(world.branch_b, "b")

    response = logged_in(receptionist).get(
        reverse("messaging:outbox_list"), {"branch": world.branch_b.pk}
    )

    # The branch B choice is refused: the filter falls back to her own branches.
    assert [m.idempotency_key for m in response.context["page"]] == ["a"]


def test_message_detail_shows_the_history(world, receptionist, logged_in):
    message = sms(world.branch_a)

    response = logged_in(receptionist).get(reverse("messaging:message_detail", args=[message.pk]))

    assert response.status_code == 200
    assert [e.kind for e in response.context["events"]] == ["enqueued"]


def test_message_of_another_branch_or_organisation_is_not_found(
    world, receptionist, outsider, logged_in
):
    other_branch = sms(world.branch_b, "b")
    acme = sms(world.branch_a, "a")

    assert (
        logged_in(receptionist)
        .get(reverse("messaging:message_detail", args=[other_branch.pk]))
        .status_code
        == 404
    )
    assert (
        logged_in(outsider).get(reverse("messaging:message_detail", args=[acme.pk])).status_code
        == 404
    )


def test_inbox_shows_unhandled_first_and_handling_audits(world, receptionist, logged_in):
    patient = patient_with_phone(world.branch_a)
    waiting = inbound(world.branch_a, patient, pid="1")
    done = inbound(world.branch_a, patient, pid="2")
    done.handled_at = timezone.now()
    done.save()
    client = logged_in(receptionist)

    open_page = client.get(reverse("messaging:inbox_list"))
    all_page = client.get(reverse("messaging:inbox_list"), {"show": "all"})
    response = client.post(reverse("messaging:inbound_handle", args=[waiting.pk]))

    assert [i.pk for i in open_page.context["page"]] == [waiting.pk]
    assert [i.pk for i in all_page.context["page"]] == [waiting.pk, done.pk]
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert (waiting.handled_by, waiting.handled_at is not None) == (receptionist, True)


def test_reply_enqueues_a_service_message_on_the_same_channel_once(world, receptionist, logged_in):
    patient = patient_with_phone(world.branch_a)
    item = inbound(world.branch_a, patient)
    client = logged_in(receptionist)
    url = reverse("messaging:inbound_reply", args=[item.pk])

    first = client.post(url, {"text": "Yes, 10:00 is fine."})
    second = client.post(url, {"text": "Yes, 10:00 is fine."})  # a double click

    assert (first.status_code, second.status_code) == (302, 302)
    reply = Message.objects.get()
    assert (reply.channel, reply.purpose, reply.to_address, reply.patient) == (
        "sms",
        "service",
        MOBILE_VN,
        patient,
    )
    assert reply.cause == f"inbound:{item.pk}"
    item.refresh_from_db()
    assert item.handled_by == receptionist


def test_empty_reply_is_refused_and_sends_nothing(world, receptionist, logged_in):
    item = inbound(world.branch_a)

    response = logged_in(receptionist).post(
        reverse("messaging:inbound_reply", args=[item.pk]), {"text": " "}
    )

    assert response.status_code == 422
    assert Message.objects.count() == 0


def test_marketer_reads_the_inbox_but_cannot_act_on_it(world, persona, logged_in):
    item = inbound(world.branch_a)
    client = logged_in(persona(Role.MARKETER))

    assert client.get(reverse("messaging:inbound_detail", args=[item.pk])).status_code == 200
    assert (
        client.post(reverse("messaging:inbound_reply", args=[item.pk]), {"text": "Hi"}).status_code
        == 404
    )
    assert client.post(reverse("messaging:inbound_handle", args=[item.pk])).status_code == 404
    item.refresh_from_db()
    assert item.handled_at is None and Message.objects.count() == 0


def test_send_again_is_refused_while_the_providers_look_up_is_pending(
    world, persona, logged_in, to_fakes
):
    from chairtime.core.errors import InvalidInput
    from chairtime.messaging.services import resolve_unknown_message

    owner = persona(Role.OWNER)
    pending = sms(world.branch_a, "sms")  # Twilio can be asked: the look-up will decide
    Message.objects.filter(pk=pending.pk).update(status="unknown", reason="outcome_unknown")
    email = sms(world.branch_a, "mail", channel="email", to_address="an@example.com", subject="S")
    Message.objects.filter(pk=email.pk).update(status="unknown", reason="outcome_unknown")
    url = reverse("messaging:message_resolve", args=[pending.pk])

    page = logged_in(owner).post(url, {"decision": "resend"}, follow=True)

    assert "The provider is still being asked whether it got this message" in page.content.decode()
    pending.refresh_from_db()
    assert (pending.status, pending.reason) == ("unknown", "outcome_unknown")
    with pytest.raises(InvalidInput) as refusal:
        resolve_unknown_message(actor=owner, message=pending, was_sent=False)
    assert list(refusal.value.errors) == ["decision"]
    assert resolve_unknown_message(actor=owner, message=pending, was_sent=True).status == "sent"
    # SMTP cannot be asked: a person may send it again at once.
    assert resolve_unknown_message(actor=owner, message=email, was_sent=False).status == "queued"


def test_resolving_an_unknown_outcome_needs_messaging_configure(
    world, persona, receptionist, logged_in
):
    message = sms(world.branch_a)
    Message.objects.filter(pk=message.pk).update(status="unknown", reason="lookup_unsupported")
    url = reverse("messaging:message_resolve", args=[message.pk])

    refused = logged_in(receptionist).post(url, {"decision": "sent"})
    done = logged_in(persona(Role.OWNER)).post(url, {"decision": "sent"})

    assert (refused.status_code, done.status_code) == (404, 302)
    message.refresh_from_db()
    assert message.status == "sent"


# --- the API -----------------------------------------------------------------------------------
def test_api_lists_and_shows_messages_of_the_active_branch(world, receptionist, logged_in):
    message = sms(world.branch_a, "a")
    sms(world.branch_b, "b")
    client = logged_in(receptionist)

    listing = client.get("/api/v1/messages", HTTP_X_BRANCH=str(world.branch_a.pk))
    detail = client.get(f"/api/v1/messages/{message.pk}", HTTP_X_BRANCH=str(world.branch_a.pk))

    assert [row["idempotency_key"] for row in listing.json()] == ["a"]
    assert detail.json()["events"][0]["kind"] == "enqueued"
    assert client.get("/api/v1/messages", HTTP_X_BRANCH=str(world.branch_b.pk)).status_code == 404


def test_api_enqueue_is_service_only_idempotent_and_names_bad_fields(
    world, receptionist, logged_in
):
    client = logged_in(receptionist)
    body = {
        "channel": "sms",
        "to_address": "0912345678",
        "idempotency_key": "api:1",
        "body": "Hello",
    }

    created = client.post("/api/v1/messages", body, content_type="application/json")
    again = client.post("/api/v1/messages", body, content_type="application/json")
    landline = client.post("/api/v1/messages", {**body, "idempotency_key": "api:2", "to_address": "+842838221234"},
                           content_type="application/json")  # fmt: skip

    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["id"] == again.json()["id"]
    assert (created.json()["purpose"], created.json()["to_address"]) == ("service", MOBILE_VN)
    assert landline.status_code == 422 and list(landline.json()["errors"]) == ["to_address"]
    assert Message.objects.count() == 1


def test_api_keys_never_reach_our_own_messages(world, receptionist, logged_in):
    internal = sms(world.branch_a, "reminder:appointment:1:rule:1")
    client = logged_in(receptionist)
    body = {"channel": "sms", "to_address": MOBILE_VN, "idempotency_key": "reminder:appointment:1:rule:1",
            "body": "Hello"}  # fmt: skip

    created = client.post("/api/v1/messages", body, content_type="application/json")
    again = client.post("/api/v1/messages", body, content_type="application/json")

    assert (created.status_code, again.status_code) == (201, 200)
    assert created.json()["id"] != internal.pk and again.json()["id"] == created.json()["id"]
    assert created.json()["idempotency_key"] == "reminder:appointment:1:rule:1"
    stored = Message.objects.get(pk=created.json()["id"])
    assert stored.idempotency_key == "api:reminder:appointment:1:rule:1"
    listing = client.get("/api/v1/messages", HTTP_X_BRANCH=str(world.branch_a.pk)).json()
    assert sorted(row["idempotency_key"] for row in listing) == [
        "reminder:appointment:1:rule:1", "reminder:appointment:1:rule:1"
    ]  # fmt: skip


def test_api_refuses_a_not_before_without_its_time_zone(world, receptionist, logged_in):
    body = {"channel": "sms", "to_address": MOBILE_VN, "idempotency_key": "k", "body": "Hello"}
    client = logged_in(receptionist)

    naive = client.post("/api/v1/messages", {**body, "not_before": "2030-01-08T09:00:00"},
                        content_type="application/json")  # fmt: skip
    aware = client.post("/api/v1/messages", {**body, "not_before": "2030-01-08T09:00:00+07:00"},
                        content_type="application/json")  # fmt: skip

    assert naive.status_code == 422
    assert naive.json()["errors"] == {"not_before": ["Give the time with its time zone."]}
    assert aware.status_code == 201
    assert Message.objects.get().not_before == datetime(2030, 1, 8, 2, 0, tzinfo=UTC)


def test_api_enqueue_needs_care_work_too(world, persona, logged_in):
    client = logged_in(persona(Role.ANALYST))
    body = {"channel": "sms", "to_address": MOBILE_VN, "idempotency_key": "api:1", "body": "Hello"}

    assert client.get("/api/v1/messages").status_code == 200
    assert client.post("/api/v1/messages", body, content_type="application/json").status_code == 404
    assert Message.objects.count() == 0


def test_api_inbox_unhandled_first(world, receptionist, logged_in):
    item = inbound(world.branch_a)

    response = logged_in(receptionist).get("/api/v1/inbox", HTTP_X_BRANCH=str(world.branch_a.pk))

    assert [row["id"] for row in response.json()] == [item.pk]
