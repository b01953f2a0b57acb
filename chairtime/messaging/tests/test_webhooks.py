"""Provider callbacks and inbound messages through the public webhooks: signatures checked,
unknown messages refused, status never backwards, inbound deduplicated, matched and acted
on (STOP in four languages, "C" confirms, call-back requests), each effect audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chairtime.audit.models import AuditEvent
from chairtime.messaging.choices import InboundKind
from chairtime.messaging.models import InboundMessage, Message
from chairtime.messaging.replies import classify_reply
from chairtime.messaging.signatures import body_signature, twilio_signature
from chairtime.messaging.tests.conftest import ZALO_SECRET
from chairtime.messaging.tests.fakes import TOKEN
from chairtime.messaging.tests.helpers import MOBILE_VN, patient_with_phone, sms
from chairtime.patients.models import Consent
from tests.factories import AppointmentFactory

STATUS = "/hooks/messaging/twilio/status"
INBOUND = "/hooks/messaging/twilio/inbound"


def post_twilio(client, path: str, data: dict[str, str], *, token: str = TOKEN, query: str = ""):
    url = f"http://testserver{path}{query}"
    signature = twilio_signature(url, data, token)
    return client.post(path + query, data, HTTP_X_TWILIO_SIGNATURE=signature)


def sent_sms(world, key: str = "reminder:1", **fields) -> Message:
    message = sms(world.branch_a, key, now=timezone.now(), **fields)
    Message.objects.filter(pk=message.pk).update(
        status="sent", provider_message_id=f"SM-{key}", sent_at=timezone.now()
    )
    message.refresh_from_db()
    return message


@pytest.fixture
def twilio(to_fakes):
    return to_fakes


def test_urls_are_public_and_named(world):
    assert reverse("messaging_hooks:status", kwargs={"provider": "twilio"}) == STATUS
    assert reverse("messaging_hooks:inbound", kwargs={"provider": "twilio"}) == INBOUND


def test_delivered_report_moves_sent_to_delivered(client, world, twilio):
    message = sent_sms(world)

    response = post_twilio(
        client, STATUS, {"MessageSid": "SM-reminder:1", "MessageStatus": "delivered"}
    )

    assert (response.status_code, response.content) == (200, b"delivered")
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at is not None


def test_reports_never_move_a_message_backwards(client, world, twilio):
    message = sent_sms(world)
    post_twilio(client, STATUS, {"MessageSid": "SM-reminder:1", "MessageStatus": "delivered"})

    late = post_twilio(client, STATUS, {"MessageSid": "SM-reminder:1", "MessageStatus": "sent"})
    failed = post_twilio(client, STATUS, {"MessageSid": "SM-reminder:1", "MessageStatus": "failed"})

    assert (late.status_code, failed.status_code) == (200, 200)
    message.refresh_from_db()
    assert message.status == "delivered"
    assert list(message.events.values_list("kind", flat=True))[-2:] == ["callback", "callback"]


def test_undelivered_report_fails_the_message_with_the_reason(client, world, twilio):
    message = sent_sms(world)

    post_twilio(
        client,
        STATUS,
        {"MessageSid": "SM-reminder:1", "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )

    message.refresh_from_db()
    assert (message.status, message.reason) == ("failed", "not_delivered")
    assert "30003" in message.error_text


def test_report_with_our_reference_settles_an_unknown_outcome(client, world, twilio):
    message = sms(world.branch_a)
    Message.objects.filter(pk=message.pk).update(
        status="unknown", reason="outcome_unknown", attempts=1
    )

    response = post_twilio(
        client, STATUS, {"MessageSid": "SM777", "MessageStatus": "sent"}, query=f"?ref={message.pk}"
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "SM777")


def test_bad_signature_is_refused_and_changes_nothing(client, world, twilio):
    message = sent_sms(world)
    data = {"MessageSid": "SM-reminder:1", "MessageStatus": "delivered"}

    forged = post_twilio(client, STATUS, data, token="not-the-token")
    unsigned = client.post(STATUS, data)

    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert forged.content == b"Bad signature."
    message.refresh_from_db()
    assert message.status == "sent"
    assert message.events.filter(kind="callback").count() == 0


def test_report_about_an_unknown_message_is_404_with_a_clear_body(client, world, twilio):
    response = post_twilio(
        client, STATUS, {"MessageSid": "SM-nobody", "MessageStatus": "delivered"}
    )

    assert (response.status_code, response.content) == (404, b"Unknown message: SM-nobody")


def test_unconfigured_provider_refuses_every_call(client, world, settings):
    settings.MESSAGING_TWILIO = {**settings.MESSAGING_TWILIO, "AUTH_TOKEN": ""}

    response = post_twilio(client, STATUS, {"MessageSid": "x", "MessageStatus": "sent"}, token="")

    assert response.status_code == 403


def test_webhooks_take_no_get_and_no_unknown_provider(client, world, twilio):
    assert client.get(STATUS).status_code == 405
    assert client.post("/hooks/messaging/pigeon/status", {}).status_code == 404


# --- inbound -----------------------------------------------------------------------------------
def inbound_sms(client, body: str, *, sid: str = "SMin1", sender: str = MOBILE_VN):
    return post_twilio(
        client, INBOUND, {"MessageSid": sid, "From": sender, "To": "+15005550006", "Body": body}
    )


@pytest.mark.parametrize(
    "text",
    ["STOP", "stop", "Stop.", "đừng nhắn nữa", "ĐỪNG NHẮN NỮA!", "Dung nhan nua", "退订", "回复TD退订",
     "No me escriban más", "no me escriban mas por favor", "Baja", "please stop texting me", "unsubscribe"],
)  # fmt: skip
def test_opt_out_words_in_four_languages_are_recognised(text):
    assert classify_reply(text, is_reply=True) == InboundKind.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "CANCEL",
        "cancel.",
        "Please stop",
        "PLEASE STOP!!",
        "Stop texting me",
        "could you please stop",
    ],
)
def test_carrier_keywords_and_plain_english_requests_stop(text):
    assert classify_reply(text, is_reply=True) == InboundKind.OPT_OUT


@pytest.mark.parametrize(
    "text",
    ["ĐỪNG GỬI NỮA", "Không muốn nhận tin nữa ạ", "NGỪNG GỬI tin nhắn", "Không nhắn tin cho tôi",
     "Hủy Đăng Ký", "TỪ CHỐI", "No me envíen más mensajes", "NO ME ENVÍES NADA", "Dejen de ESCRIBIRME",
     "Quiero DARME DE BAJA", "¡Cancelar suscripción!", "NO QUIERO RECIBIR más", "不要再发了",
     "别再发短信", "请退訂", "取消订阅。"],
)  # fmt: skip
def test_free_text_requests_match_whatever_their_case_and_diacritics(text):
    assert classify_reply(text, is_reply=True) == InboundKind.OPT_OUT


def test_cancel_inside_a_sentence_is_a_reply_for_staff_not_a_stop():
    assert classify_reply("I need to cancel my appointment", is_reply=True) == "reply"


@pytest.mark.parametrize("text", ["C", "c", "YES", "Có", "có", "Sí", "si!", "确认", "OK", "Đồng ý"])
def test_confirmation_words_are_recognised(text):
    assert classify_reply(text, is_reply=True) == InboundKind.CONFIRMATION


@pytest.mark.parametrize(
    "text",
    ["Call me please", "gọi lại cho em", "Llámame mañana", "请给我打电话，回电"],  # noqa: RUF001 - Chinese punctuation
)
def test_callback_requests_are_recognised(text):
    assert classify_reply(text, is_reply=True) == InboundKind.CALLBACK_REQUEST


@pytest.mark.parametrize(
    ("text", "kind"), [("Can I come at 10 instead?", "reply"), ("Đúng", "reply")]
)
def test_anything_else_is_a_reply_for_staff(text, kind):
    assert classify_reply(text, is_reply=True) == kind


def test_stop_reply_refuses_sms_for_service_and_marketing_and_is_audited(client, world, twilio):
    patient = patient_with_phone(world.branch_a)
    sent_sms(world, patient=patient)

    response = inbound_sms(client, "Đừng nhắn nữa")

    assert response.status_code == 200 and response["Content-Type"] == "text/xml"
    inbound = InboundMessage.objects.get()
    assert (inbound.kind, inbound.patient, inbound.branch) == ("opt_out", patient, world.branch_a)
    assert inbound.handled_at is not None
    refusals = Consent.objects.filter(
        patient=patient, channel="sms", is_granted=False, origin="message_reply"
    )
    assert sorted(refusals.values_list("purpose", flat=True)) == ["marketing", "service"]
    assert (
        AuditEvent.objects.filter(object_type="patients.consent", patient_id=patient.pk).count()
        == 1
    )
    assert AuditEvent.objects.filter(object_type="messaging.inboundmessage").count() == 1


def test_after_stop_the_next_reminder_is_blocked_as_opted_out(client, world, twilio):
    from chairtime.messaging.tests.helpers import Clock, dispatcher

    patient = patient_with_phone(world.branch_a)
    sent_sms(world, patient=patient)
    inbound_sms(client, "STOP")
    message = sms(world.branch_a, "reminder:2", patient=patient)

    dispatcher(Clock()).run_once()  # refusals block before any clock rule is asked

    message.refresh_from_db()
    assert (message.status, message.reason) == ("blocked", "opted_out")
    assert twilio.sends() == 0


def test_stop_from_a_shared_phone_refuses_every_patient_of_the_organisation_there(
    client, world, twilio
):
    mother = patient_with_phone(world.branch_a)
    son = patient_with_phone(world.branch_b)  # the same family phone, another branch
    stranger = patient_with_phone(world.rival_branch)  # the same number, another clinic
    sent_sms(world, patient=mother)

    inbound_sms(client, "STOP")

    refused = Consent.objects.filter(channel="sms", is_granted=False, origin="message_reply")
    assert sorted(refused.values_list("patient_id", "purpose")) == sorted(
        (patient.pk, purpose) for patient in (mother, son) for purpose in ("service", "marketing")
    )
    assert not Consent.objects.filter(patient=stranger).exists()
    audited = AuditEvent.objects.filter(object_type="patients.consent")
    assert sorted(audited.values_list("patient_id", flat=True)) == sorted([mother.pk, son.pk])
    assert InboundMessage.objects.get().effect == (
        "sms messages stopped (service and marketing) for 2 patients"
    )


def test_after_a_stop_every_message_to_that_phone_is_blocked_whoever_it_is_for(
    client, world, twilio
):
    from chairtime.messaging.tests.helpers import Clock, dispatcher

    sister = patient_with_phone(world.branch_a)
    sent_sms(world, patient=sister)
    inbound_sms(client, "STOP")
    newcomer = patient_with_phone(world.branch_a)  # registered on that phone afterwards
    for_newcomer = sms(world.branch_a, "reminder:newcomer", patient=newcomer)
    without_patient = sms(world.branch_a, "reply:1")
    other_clinic = sms(world.rival_branch, "reminder:rival")

    dispatcher(Clock()).run_once()

    statuses = {
        m.idempotency_key: (m.status, m.reason)
        for m in Message.objects.filter(
            pk__in=[for_newcomer.pk, without_patient.pk, other_clinic.pk]
        )
    }
    assert statuses == {
        "reminder:newcomer": ("blocked", "opted_out"),
        "reply:1": ("blocked", "opted_out"),
        "reminder:rival": ("sent", ""),  # the STOP was said to acme, not to the rival clinic
    }
    assert [r.body for r in twilio.received()] == ["Reminder reminder:rival"]


def test_a_consent_granted_after_the_stop_lets_that_patient_be_messaged_again(
    client, world, twilio
):
    from chairtime.messaging.tests.helpers import NOON_VN, Clock, dispatcher

    patient = patient_with_phone(world.branch_a)
    sent_sms(world, patient=patient)
    inbound_sms(client, "STOP")
    InboundMessage.objects.update(received_at=NOON_VN - timedelta(hours=2))
    Consent.objects.create(patient=patient, channel="sms", purpose="service", is_granted=True,
                           origin="verbal", recorded_at=NOON_VN - timedelta(hours=1))  # fmt: skip
    message = sms(world.branch_a, "reminder:2", patient=patient)
    sibling = sms(world.branch_a, "reminder:sibling", patient=patient_with_phone(world.branch_a))

    dispatcher(Clock()).run_once()

    sibling.refresh_from_db()
    assert (sibling.status, sibling.reason) == ("blocked", "opted_out")  # asked nothing again

    message.refresh_from_db()
    assert (message.status, message.reason) == ("sent", "")


def test_retried_webhook_is_stored_once(client, world, twilio):
    patient = patient_with_phone(world.branch_a)
    sent_sms(world, patient=patient)

    inbound_sms(client, "STOP", sid="SMdup")
    inbound_sms(client, "STOP", sid="SMdup")

    assert InboundMessage.objects.count() == 1
    assert Consent.objects.filter(patient=patient).count() == 2


def test_c_reply_confirms_the_patients_next_booked_appointment(client, world, twilio):
    patient = patient_with_phone(world.branch_a)
    now = timezone.now()
    later = AppointmentFactory(
        branch=world.branch_a, patient=patient, starts_at=now + timedelta(days=3)
    )
    sooner = AppointmentFactory(
        branch=world.branch_a, patient=patient, starts_at=now + timedelta(days=1)
    )
    sent_sms(world, patient=patient)

    inbound_sms(client, "C")

    sooner.refresh_from_db()
    later.refresh_from_db()
    assert (sooner.status, later.status) == ("confirmed", "booked")
    inbound = InboundMessage.objects.get()
    assert inbound.kind == "confirmation" and inbound.handled_at is not None
    assert inbound.effect.startswith(f"confirmed appointment {sooner.pk}")
    event = AuditEvent.objects.get(object_type="scheduling.appointment", object_id=str(sooner.pk))
    assert (event.action, event.actor_id, event.changes) == (
        "update",
        None,
        {"status": ["booked", "confirmed"]},
    )
    assert event.summary.endswith(" · by the patient's reply")


def test_c_reply_with_nothing_to_confirm_waits_in_the_inbox(client, world, twilio):
    patient = patient_with_phone(world.branch_a)
    sent_sms(world, patient=patient)

    inbound_sms(client, "Có")

    inbound = InboundMessage.objects.get()
    assert (inbound.kind, inbound.handled_at, inbound.effect) == (
        "confirmation", None, "no booked appointment to confirm"
    )  # fmt: skip


def test_callback_request_is_an_unhandled_inbox_item_of_the_home_branch(client, world, twilio):
    patient = patient_with_phone(world.branch_b)

    inbound_sms(client, "Gọi lại cho tôi nhé")

    inbound = InboundMessage.objects.get()
    assert (inbound.kind, inbound.patient, inbound.branch, inbound.handled_at) == (
        "callback_request", patient, world.branch_b, None
    )  # fmt: skip
    assert inbound.in_reply_to is None


def test_message_from_an_unknown_number_is_kept_unrouted(client, world, twilio):
    response = inbound_sms(client, "Hello?", sender="+84987654321")

    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.organization_id, inbound.branch_id, inbound.kind) == (None, None, "other")


def test_unknown_number_stays_with_the_organisation_the_webhook_url_names(
    client, world, twilio, persona, logged_in
):
    from chairtime.tenancy.roles import Role

    patient_with_phone(world.rival_branch, phone="+84987654321")  # the number, at another clinic
    data = {"MessageSid": "SMorg", "From": "+84987654321", "To": "+15005550006", "Body": "Hello?"}

    response = post_twilio(client, INBOUND, data, query="?org=acme")

    assert response.status_code == 200
    inbound = InboundMessage.objects.get()
    assert (inbound.organization_id, inbound.branch_id, inbound.patient_id) == (
        world.acme.pk, None, None
    )  # fmt: skip
    owner_inbox = logged_in(persona(Role.OWNER)).get(reverse("messaging:inbox_list"))
    assert [i.pk for i in owner_inbox.context["page"]] == [inbound.pk]
    assert "No branch (unknown sender)" in owner_inbox.content.decode()
    detail = reverse("messaging:inbound_detail", args=[inbound.pk])
    assert logged_in(persona(Role.OWNER)).get(detail).status_code == 200
    receptionist = logged_in(persona(Role.RECEPTIONIST))  # branch A only: not hers
    assert list(receptionist.get(reverse("messaging:inbox_list")).context["page"]) == []
    assert receptionist.get(detail).status_code == 404


def test_webhook_naming_an_unknown_organisation_is_refused(client, world, twilio):
    data = {"MessageSid": "SMx", "From": "+84987654321", "Body": "Hello?"}

    response = post_twilio(client, INBOUND, data, query="?org=nobody")

    assert (response.status_code, response.content) == (404, b"Unknown organisation: nobody")
    assert InboundMessage.objects.count() == 0


def test_a_single_clinic_keeps_messages_from_unknown_numbers_in_its_branch(client, db, twilio):
    from tests.factories import BranchFactory, OrganizationFactory

    branch = BranchFactory(organization=OrganizationFactory(slug="solo"))

    inbound_sms(client, "Do you open on Sunday?", sender="+84987654321")

    inbound = InboundMessage.objects.get()
    assert (inbound.organization_id, inbound.branch_id) == (branch.organization_id, branch.pk)


def test_non_ascii_signatures_are_refused_with_403_not_an_error(client, world, twilio):
    data = {"MessageSid": "SM-reminder:1", "MessageStatus": "delivered"}
    body = json.dumps({"msg_id": "zin9", "sender": "84912345678", "text": "STOP"}).encode()

    twilio_call = client.post(STATUS, data, HTTP_X_TWILIO_SIGNATURE="chữ ký")
    zalo_call = client.post("/hooks/messaging/zalo/inbound", body, content_type="application/json",
                            HTTP_X_CHAIRTIME_SIGNATURE="sha256=é")  # fmt: skip

    assert (twilio_call.status_code, zalo_call.status_code) == (403, 403)
    assert InboundMessage.objects.count() == 0


def test_zalo_inbound_with_our_hmac_signature(client, world, twilio):
    patient = patient_with_phone(world.branch_a)
    body = json.dumps({"msg_id": "zin1", "sender": "84912345678", "text": "Hủy đăng ký",
                       "timestamp": "1893992400000"}).encode()  # fmt: skip

    bad = client.post("/hooks/messaging/zalo/inbound", body, content_type="application/json",
                      HTTP_X_CHAIRTIME_SIGNATURE="sha256=00")  # fmt: skip
    good = client.post("/hooks/messaging/zalo/inbound", body, content_type="application/json",
                       HTTP_X_CHAIRTIME_SIGNATURE=body_signature(body, ZALO_SECRET))  # fmt: skip

    assert (bad.status_code, good.status_code, good.content) == (403, 200, b"opt_out")
    inbound = InboundMessage.objects.get()
    assert (inbound.channel, inbound.from_address, inbound.patient) == ("zalo", MOBILE_VN, patient)
    assert set(Consent.objects.filter(patient=patient).values_list("channel", flat=True)) == {
        "zalo"
    }
