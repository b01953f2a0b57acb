"""Each transport against a real local server: what it sends, and how every failure is
classified (temporary, permanent, unknown) — the dispatcher's decisions rest on it."""

from __future__ import annotations

import pytest

from chairtime.messaging.services import enqueue_message
from chairtime.messaging.tests.fakes import ACCOUNT, free_port
from chairtime.messaging.tests.helpers import MOBILE_VN, sms
from chairtime.messaging.transports import get_transport
from chairtime.messaging.transports.base import (
    NotFound,
    Permanent,
    Sent,
    Temporary,
    Unknown,
    Unsupported,
)
from chairtime.messaging.transports.console import ConsoleTransport
from chairtime.messaging.transports.smtp import message_id

REMINDER = {"patient_name": "Nguyễn An", "appointment_time": "07/01 09:00", "branch_name": "Quận 1"}


def test_console_is_the_default_and_sends_nothing_anywhere(world, provider):
    message = sms(world.branch_a)

    outcome = get_transport("sms").send(message)

    assert isinstance(get_transport("sms"), ConsoleTransport)
    assert isinstance(outcome, Sent) and outcome.provider_id.startswith("console-")
    assert provider.sends() == 0


def test_twilio_posts_the_form_with_basic_auth_and_returns_the_sid(world, to_fakes, settings):
    settings.MESSAGING_PUBLIC_BASE_URL = "https://clinic.example"
    message = sms(world.branch_a, body="Nhắc lịch hẹn 9:00")

    outcome = get_transport("sms").send(message)

    assert outcome == Sent("SM00000001")
    method, path, form = to_fakes.state.requests[0]
    assert (method, path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json")
    assert form == {
        "To": MOBILE_VN, "From": "+15005550006", "Body": "Nhắc lịch hẹn 9:00",
        "StatusCallback": f"https://clinic.example/hooks/messaging/twilio/status?ref={message.pk}",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("500", Temporary),
        ("429", Temporary),
        ("400", Permanent),
        ("garbage", Unknown),
        ("slow", Unknown),
        ("drop", Unknown),
    ],
)
def test_twilio_failures_are_classified(world, to_fakes, fault, expected):
    to_fakes.fail_next(fault)

    outcome = get_transport("sms").send(sms(world.branch_a))

    assert type(outcome) is expected
    accepted = fault in {"garbage", "slow", "drop"}  # the provider got it; we cannot tell
    assert len(to_fakes.received()) == (1 if accepted else 0)


def test_twilio_429_passes_on_retry_after_and_400_its_error_code(world, to_fakes):
    to_fakes.fail_next("429", "400")
    transport = get_transport("sms")

    assert transport.send(sms(world.branch_a, "a")) == Temporary("HTTP 429: fault 429", 7.0)
    rejected = transport.send(sms(world.branch_a, "b"))
    assert isinstance(rejected, Permanent) and rejected.code == "21211"


def test_twilio_unreachable_is_temporary_nothing_was_sent(world, settings):
    settings.MESSAGING_TRANSPORTS = {**settings.MESSAGING_TRANSPORTS, "sms": "twilio"}
    settings.MESSAGING_TWILIO = {"BASE_URL": f"http://127.0.0.1:{free_port()}", "ACCOUNT_SID": "AC1",
                                 "AUTH_TOKEN": "t", "FROM": "+15005550006"}  # fmt: skip

    outcome = get_transport("sms").send(sms(world.branch_a))

    assert isinstance(outcome, Temporary) and "connection failed" in outcome.error


def test_twilio_lookup_finds_a_dropped_send_by_recipient_and_body_and_not_another(world, to_fakes):
    dropped = sms(world.branch_a, "k1", body="Same text")
    to_fakes.fail_next("drop")
    transport = get_transport("sms")
    assert isinstance(transport.send(dropped), Unknown)
    never_sent = sms(world.branch_a, "k2", body="Other text")

    assert transport.lookup(dropped) == Sent("SM00000001")
    assert transport.lookup(never_sent) == NotFound()
    assert ("GET", "To") in {(m, next(iter(q), "")) for m, _p, q in to_fakes.state.requests}


def test_twilio_lookup_skips_a_sid_another_message_already_holds(world, to_fakes):
    transport = get_transport("sms")
    first = sms(world.branch_a, "k1", body="Same text")
    sid = transport.send(first)
    first.provider_message_id = sid.provider_id  # type: ignore[union-attr]
    first.save()
    second = sms(world.branch_a, "k2", body="Same text")

    assert transport.lookup(second) == NotFound()


def test_twilio_lookup_by_sid(world, to_fakes):
    transport = get_transport("sms")
    message = sms(world.branch_a)
    message.provider_message_id = transport.send(message).provider_id  # type: ignore[union-attr]

    assert transport.lookup(message) == Sent(message.provider_message_id)
    message.provider_message_id = "SM99999999"
    assert transport.lookup(message) == NotFound()


def test_smtp_sends_with_a_message_id_derived_from_the_key(world, to_fakes, smtp):
    message = sms(world.branch_a, channel="email", to_address="An@Example.COM",
                  subject="Lịch hẹn", body="Hẹn gặp bạn lúc 9:00")  # fmt: skip

    outcome = get_transport("email").send(message)

    assert outcome == Sent(message_id(message))
    [received] = smtp.messages
    assert (received["To"], received["Message-ID"]) == ("An@example.com", message_id(message))
    assert received["Subject"] == "Lịch hẹn"
    assert get_transport("email").lookup(message) == Unsupported()


def test_smtp_server_down_is_temporary(world, settings):
    settings.MESSAGING_TRANSPORTS = {**settings.MESSAGING_TRANSPORTS, "email": "smtp"}
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    message = sms(world.branch_a, channel="email", to_address="an@example.com", subject="S")

    assert isinstance(get_transport("email").send(message), Temporary)


def test_zalo_sends_the_mapped_template_with_our_key_as_tracking_id(world, to_fakes):
    message = enqueue_message(
        actor=None, branch=world.branch_a, channel="zalo", purpose="service",
        to_address=MOBILE_VN, idempotency_key="reminder:appointment:5:rule:1",
        template_code="appointment_reminder", params=REMINDER,
    )  # fmt: skip

    assert get_transport("zalo").send(message) == Sent("z00000001")
    [(_method, path, payload)] = to_fakes.state.requests
    assert path == "/message/template"
    assert payload == {
        "phone": "84912345678", "template_id": "231234",
        "template_data": {"customer_name": "Nguyễn An", "booking_time": "07/01 09:00", "clinic_name": "Quận 1"},
        "tracking_id": "reminder:appointment:5:rule:1",
    }  # fmt: skip


def test_wechat_sends_the_mapped_template_with_our_key_as_client_msg_id(world, to_fakes):
    message = enqueue_message(
        actor=None, branch=world.branch_a, channel="wechat", purpose="service",
        to_address="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", idempotency_key="reminder:9",
        template_code="appointment_reminder",
        params={"patient_name": "王小明", "appointment_time": "2030-01-07 09:00", "branch_name": "上海店"},
    )  # fmt: skip

    assert get_transport("wechat").send(message) == Sent("1000001")
    [(_method, path, payload)] = to_fakes.state.requests
    assert path.startswith("/cgi-bin/message/template/send?access_token=wechat-token")
    assert payload["data"] == {"thing1": {"value": "王小明"}, "time2": {"value": "2030-01-07 09:00"},
                               "thing3": {"value": "上海店"}}  # fmt: skip
    assert (payload["touser"], payload["client_msg_id"]) == (
        "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "reminder:9",
    )


def test_chat_template_without_a_configured_id_fails_permanently_sending_nothing(
    world, to_fakes, settings
):
    settings.MESSAGING_ZALO_TEMPLATES = []
    message = enqueue_message(
        actor=None, branch=world.branch_a, channel="zalo", purpose="service",
        to_address=MOBILE_VN, idempotency_key="z", template_code="appointment_reminder", params=REMINDER,
    )  # fmt: skip

    outcome = get_transport("zalo").send(message)

    assert isinstance(outcome, Permanent) and "no Zalo template id" in outcome.error
    assert to_fakes.sends() == 0


def test_settings_refuse_a_provider_transport_without_its_address():
    import os
    import subprocess
    import sys

    from django.conf import settings as django_settings

    environment = {
        **os.environ,
        "CHAIRTIME_SMS_TRANSPORT": "twilio",
        "CHAIRTIME_TWILIO_BASE_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=django_settings.BASE_DIR,
        env=environment, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 1
    assert "CHAIRTIME_SMS_TRANSPORT=twilio needs CHAIRTIME_TWILIO_BASE_URL" in result.stderr


def test_a_send_is_cut_at_its_deadline_whatever_step_it_is_in(world, to_fakes):
    import time

    to_fakes.fail_next("dribble")  # the answer trickles in over 3 s: no single read times out

    outcome = get_transport("sms").send(sms(world.branch_a), deadline=time.monotonic() + 1)

    assert isinstance(outcome, Unknown) and "send's deadline" in outcome.error
    assert len(to_fakes.received()) == 1  # the provider has it: for the look-up to find


def test_a_send_with_no_time_left_is_not_attempted(world, to_fakes):
    import time

    outcome = get_transport("sms").send(sms(world.branch_a), deadline=time.monotonic() - 1)

    assert outcome == Temporary("no time left before the send's deadline")
    assert to_fakes.sends() == 0


def test_twilio_lookup_ignores_identical_texts_made_before_the_attempt_started(world, to_fakes):
    from datetime import timedelta

    from chairtime.messaging.models import Message
    from chairtime.messaging.tests.helpers import NOON_VN, Clock

    clock = Clock(NOON_VN - timedelta(days=2))
    to_fakes.use_clock(clock)
    transport = get_transport("sms")
    transport.send(sms(world.branch_a, "old-1", body="Same text"))  # two days before
    clock.now = NOON_VN - timedelta(hours=1)
    transport.send(sms(world.branch_a, "old-2", body="Same text"))  # an hour before
    message = sms(world.branch_a, "k", body="Same text")  # made long ago, attempted at noon
    Message.objects.filter(pk=message.pk).update(
        created_at=NOON_VN - timedelta(days=3), attempt_started_at=NOON_VN
    )
    message.refresh_from_db()

    assert transport.lookup(message) == NotFound()
    clock.now = NOON_VN + timedelta(seconds=2)
    transport.send(message)  # the attempt did reach the provider
    assert transport.lookup(message) == Sent("SM00000003")


def test_chat_answer_without_its_error_code_is_unknown_not_a_failure(world, to_fakes, settings):
    from chairtime.messaging.transports.base import Response
    from chairtime.messaging.transports.zalo import ZaloTransport

    transport = ZaloTransport.from_settings()

    assert transport._outcome(Response(200, b'{"data": {"msg_id": "z1"}}', {})) == Unknown(
        'unreadable answer: {"data": {"msg_id": "z1"}}'
    )
    assert transport._outcome(Response(200, b'{"error": -32, "message": "quota"}', {})) == (
        Temporary("Zalo error -32: quota")
    )
