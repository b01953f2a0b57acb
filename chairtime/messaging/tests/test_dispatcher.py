"""The dispatcher in this process on a fixed clock: claims, send rules, outcomes, retries
with backoff, and reconciliation of what a crash or a lost answer left unclear — never a
blind second send."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chairtime.messaging.dispatcher import backoff_delay, claim_due
from chairtime.messaging.models import Message
from chairtime.messaging.tests.helpers import (
    MOBILE_VN,
    NOON_VN,
    TEST_CONFIG,
    Clock,
    dispatcher,
    patient_with_phone,
    sms,
)
from chairtime.patients.models import Consent


def history(message: Message) -> list[tuple[str, str]]:
    return list(message.events.order_by("occurred_at", "id").values_list("kind", "status_after"))


def test_due_message_is_sent_and_its_life_is_recorded(world, to_fakes):
    message = sms(world.branch_a)

    assert dispatcher(Clock()).run_once() == 1

    message.refresh_from_db()
    assert (message.status, message.provider_message_id, message.attempts) == (
        "sent",
        "SM00000001",
        1,
    )
    assert (message.sent_at, message.claimed_by, message.lease_until) == (NOON_VN, "", None)
    assert history(message) == [("enqueued", "queued"), ("attempt", "sending"), ("sent", "sent")]
    assert len(to_fakes.received()) == 1


def test_message_not_yet_due_is_not_claimed(world, to_fakes):
    sms(world.branch_a, not_before=NOON_VN + timedelta(minutes=5))

    assert dispatcher(Clock()).run_once() == 0
    assert to_fakes.sends() == 0


def test_a_claim_takes_each_due_row_once_in_order(world):
    first = sms(world.branch_a, "a", not_before=NOON_VN - timedelta(minutes=2))
    second = sms(world.branch_a, "b", not_before=NOON_VN - timedelta(minutes=1))
    sms(world.branch_a, "c", not_before=NOON_VN + timedelta(minutes=1))

    taken = claim_due(worker="w1", now=NOON_VN, lease=timedelta(seconds=60), limit=10)
    again = claim_due(worker="w2", now=NOON_VN, lease=timedelta(seconds=60), limit=10)

    assert (taken, again) == ([first.pk, second.pk], [])
    assert set(Message.objects.filter(claimed_by="w1").values_list("status", flat=True)) == {
        "sending"
    }


def test_temporary_failure_waits_with_backoff_then_succeeds(world, to_fakes):
    message = sms(world.branch_a)
    to_fakes.fail_next("500")
    clock = Clock()

    dispatcher(clock).run_once()
    message.refresh_from_db()
    assert (message.status, message.reason, message.attempts) == ("waiting", "retry", 1)
    assert NOON_VN + timedelta(seconds=15) <= message.not_before <= NOON_VN + timedelta(seconds=30)
    assert dispatcher(clock).run_once() == 0  # not yet

    clock.now = message.not_before
    dispatcher(clock).run_once()
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    assert len(to_fakes.received()) == 1


def test_retry_after_from_a_429_is_respected(world, to_fakes):
    message = sms(world.branch_a)
    to_fakes.fail_next("429")

    dispatcher(Clock(), backoff=timedelta(seconds=1)).run_once()

    message.refresh_from_db()
    assert message.not_before == NOON_VN + timedelta(seconds=7)


def test_temporary_failures_stop_at_the_maximum_attempts(world, to_fakes):
    message = sms(world.branch_a)
    to_fakes.fail_next("500", "500", "500")
    clock = Clock()

    for _attempt in range(3):
        dispatcher(clock).run_once()
        message.refresh_from_db()
        clock.now = max(clock.now, message.not_before)

    assert (message.status, message.reason, message.attempts) == ("failed", "max_attempts", 3)
    assert to_fakes.sends() == 3 and to_fakes.received() == []


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    import random

    rng = random.Random(1)
    delays = [backoff_delay(n, TEST_CONFIG, rng).total_seconds() for n in range(1, 8)]

    assert [15 <= d <= 30 for d in delays[:1]] == [True]
    assert 60 <= delays[2] <= 120
    assert all(300 <= d <= 600 for d in delays[5:])


def test_permanent_failure_fails_at_once_with_the_providers_error(world, to_fakes):
    message = sms(world.branch_a)
    to_fakes.fail_next("400")

    dispatcher(Clock()).run_once()

    message.refresh_from_db()
    assert (message.status, message.reason, message.error_code) == ("failed", "rejected", "21211")
    assert "fault 400" in message.error_text


@pytest.mark.parametrize("fault", ["drop", "garbage", "slow"])
def test_unknown_outcome_is_reconciled_not_resent_when_the_provider_has_it(world, to_fakes, fault):
    message = sms(world.branch_a)
    to_fakes.fail_next(fault)
    clock = Clock()
    to_fakes.use_clock(clock)

    dispatcher(clock).run_once()
    message.refresh_from_db()
    assert (message.status, message.reason) == ("unknown", "outcome_unknown")
    assert dispatcher(clock).run_once() == 0  # looked up only after a while

    clock.advance(seconds=30)
    dispatcher(clock, worker="another").run_once()

    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "SM00000001")
    assert message.sent_at == NOON_VN
    assert history(message)[-1] == ("reconciled_found", "sent")
    assert len(to_fakes.received()) == 1  # exactly once


def test_dead_dispatchers_row_is_sent_again_only_after_the_provider_says_it_never_got_it(
    world, to_fakes
):
    message = sms(world.branch_a)
    clock = Clock()
    # A dispatcher armed the message and died before (or while) calling the provider.
    to_fakes.use_clock(clock)
    claim_due(worker="dead", now=clock.now, lease=timedelta(seconds=60), limit=10)
    Message.objects.filter(pk=message.pk).update(attempt_started_at=clock.now, attempts=1)

    clock.advance(seconds=61)
    assert dispatcher(clock).run_once() == 0  # the lease ran out, but its sender may still be busy
    clock.advance(seconds=29)
    assert dispatcher(clock).run_once() == 0  # half a lease after it: the sender has given up
    clock.advance(seconds=1)
    dispatcher(clock).run_once()  # reconciled: not found → queued → sent in the same pass

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    kinds = [kind for kind, _status in history(message)]
    assert kinds[-3:] == ["reconciled_missing", "attempt", "sent"]
    assert len(to_fakes.received()) == 1


def test_dead_dispatchers_row_the_provider_has_is_marked_sent_without_sending(world, to_fakes):
    message = sms(world.branch_a)
    clock = Clock()
    to_fakes.use_clock(clock)
    claim_due(worker="dead", now=clock.now, lease=timedelta(seconds=60), limit=10)
    Message.objects.filter(pk=message.pk).update(attempt_started_at=clock.now, attempts=1)
    from chairtime.messaging.transports import get_transport

    get_transport("sms").send(message)  # it did reach the provider before dying

    clock.advance(seconds=91)
    dispatcher(clock).run_once()

    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "SM00000001")
    assert len(to_fakes.received()) == 1


def test_row_claimed_by_a_dispatcher_that_died_before_sending_is_queued_without_a_lookup(
    world, to_fakes
):
    message = sms(world.branch_a)
    clock = Clock()
    claim_due(worker="dead", now=clock.now, lease=timedelta(seconds=60), limit=10)

    clock.advance(seconds=91)
    dispatcher(clock).run_once()

    message.refresh_from_db()
    assert message.status == "sent"
    assert [k for k, _s in history(message)][1:] == ["lease_expired", "attempt", "sent"]
    assert [m for m, _p, _q in to_fakes.state.requests] == ["POST"]  # no look-up was needed


def test_smtp_unknown_outcome_stays_unknown_for_a_person(world, to_fakes, smtp, persona):
    from chairtime.messaging.services import resolve_unknown_message
    from chairtime.tenancy.roles import Role

    message = sms(world.branch_a, channel="email", to_address="an@example.com", subject="S")
    clock = Clock()
    claim_due(worker="dead", now=clock.now, lease=timedelta(seconds=60), limit=10)
    Message.objects.filter(pk=message.pk).update(attempt_started_at=clock.now, attempts=1)

    clock.advance(seconds=91)
    dispatcher(clock).run_once()
    clock.advance(hours=5)
    assert dispatcher(clock).run_once() == 0  # never retried on its own

    message.refresh_from_db()
    assert (message.status, message.reason) == ("unknown", "lookup_unsupported")
    assert smtp.messages == []
    resolved = resolve_unknown_message(actor=persona(Role.OWNER), message=message, was_sent=False)
    assert resolved.status == "queued"
    dispatcher(clock).run_once()
    message.refresh_from_db()
    assert message.status == "sent" and len(smtp.messages) == 1


def test_marketing_without_consent_is_blocked_with_the_reason(world, to_fakes):
    patient = patient_with_phone(world.branch_a)
    message = sms(world.branch_a, purpose="marketing", patient=patient)

    dispatcher(Clock()).run_once()

    message.refresh_from_db()
    assert (message.status, message.reason) == ("blocked", "no_consent")
    assert to_fakes.sends() == 0


def test_service_message_to_a_patient_who_refused_the_channel_is_blocked(world, to_fakes):
    patient = patient_with_phone(world.branch_a)
    Consent.objects.create(patient=patient, channel="sms", purpose="service", is_granted=False,
                           origin="verbal", recorded_at=NOON_VN - timedelta(days=1))  # fmt: skip
    message = sms(world.branch_a, patient=patient)

    dispatcher(Clock()).run_once()

    message.refresh_from_db()
    assert (message.status, message.reason) == ("blocked", "refused")


def test_message_without_an_address_is_blocked(world, to_fakes):
    message = sms(world.branch_a, to_address="")

    dispatcher(Clock()).run_once()

    message.refresh_from_db()
    assert (message.status, message.reason) == ("blocked", "no_address")


def test_marketing_at_night_waits_for_the_morning_window_then_goes(world, to_fakes):
    patient = patient_with_phone(world.branch_a)
    Consent.objects.create(patient=patient, channel="sms", purpose="marketing", is_granted=True,
                           origin="paper_form", recorded_at=NOON_VN - timedelta(days=30))  # fmt: skip
    night = NOON_VN + timedelta(hours=13)  # 23:00 in Ho Chi Minh City
    clock = Clock(night)
    message = sms(world.branch_a, purpose="marketing", patient=patient, now=night)

    dispatcher(clock).run_once()
    message.refresh_from_db()
    assert (message.status, message.reason) == ("waiting", "quiet_hours")
    assert message.not_before == NOON_VN + timedelta(hours=21)  # 07:00 the next morning

    clock.now = message.not_before
    dispatcher(clock).run_once()
    message.refresh_from_db()
    assert message.status == "sent"


def test_fourth_marketing_message_of_the_day_in_vietnam_waits_until_tomorrow(world, to_fakes):
    patient = patient_with_phone(world.branch_a)
    Consent.objects.create(patient=patient, channel="sms", purpose="marketing", is_granted=True,
                           origin="paper_form", recorded_at=NOON_VN - timedelta(days=30))  # fmt: skip
    messages = [
        sms(world.branch_a, f"offer:{n}", purpose="marketing", patient=patient) for n in range(4)
    ]

    dispatcher(Clock()).run_once()

    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    assert statuses == ["sent", "sent", "sent", "waiting"]
    assert Message.objects.get(pk=messages[3].pk).reason == "daily_cap"
    assert len(to_fakes.received()) == 3


def test_a_row_taken_over_by_another_dispatcher_is_never_overwritten(world, to_fakes):
    message = sms(world.branch_a)
    clock = Clock()
    slow = dispatcher(clock, worker="slow")
    claim_due(worker="slow", now=clock.now, lease=timedelta(seconds=60), limit=10)
    Message.objects.filter(pk=message.pk).update(claimed_by="other")

    slow.dispatch(message.pk)

    message.refresh_from_db()
    assert (message.status, message.claimed_by) == ("sending", "other")
    assert to_fakes.sends() == 0


def test_console_transport_marks_sent_and_sends_nothing(world, provider):
    message = sms(world.branch_a, to_address=MOBILE_VN)

    dispatcher(Clock()).run_once()

    message.refresh_from_db()
    assert message.status == "sent" and message.provider_message_id.startswith("console-")
    assert provider.sends() == 0


# --- a send's deadline, and the lease's margin --------------------------------------------
def test_an_answer_dribbling_past_the_sends_deadline_is_unknown_and_never_sent_again(
    world, to_fakes
):
    message = sms(world.branch_a)
    to_fakes.fail_next("dribble")  # accepted; the answer takes 3 s, no read waits 1 s
    clock = Clock()
    to_fakes.use_clock(clock)

    dispatcher(clock, lease=timedelta(seconds=2)).run_once()  # the send may take 1 s in all

    message.refresh_from_db()
    assert (message.status, message.reason, message.attempts) == ("unknown", "outcome_unknown", 1)
    assert message.error_text.startswith("no answer before the send's deadline")
    clock.advance(seconds=30)
    dispatcher(clock, worker="second").run_once()
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == ("sent", "SM00000001")
    assert history(message)[-1] == ("reconciled_found", "sent")
    assert len(to_fakes.received()) == 1


# --- daily caps per address ---------------------------------------------------------------
def test_a_family_phone_shares_one_daily_marketing_cap(world, to_fakes):
    mother = patient_with_phone(world.branch_a)
    daughter = patient_with_phone(world.branch_a)  # the same phone
    for patient in (mother, daughter):
        Consent.objects.create(patient=patient, channel="sms", purpose="marketing", is_granted=True,
                               origin="paper_form", recorded_at=NOON_VN - timedelta(days=30))  # fmt: skip
    messages = [
        sms(world.branch_a, f"offer:{n}", purpose="marketing", patient=patient)
        for n, patient in enumerate([mother, mother, daughter, daughter])
    ]

    dispatcher(Clock()).run_once()

    outcomes = [Message.objects.values_list("status", "reason").get(pk=m.pk) for m in messages]
    assert outcomes == [("sent", ""), ("sent", ""), ("sent", ""), ("waiting", "daily_cap")]
    assert len(to_fakes.received()) == 3


def test_messages_without_a_patient_are_capped_by_their_address(world, to_fakes):
    messages = [sms(world.branch_a, f"reply:{n}") for n in range(11)]  # service: 10 a day
    elsewhere = sms(world.branch_a, "reply:other", to_address="+84912345679")

    dispatcher(Clock(), batch=20).run_once()

    statuses = [Message.objects.values_list("status", "reason").get(pk=m.pk) for m in messages]
    assert statuses == [("sent", "")] * 10 + [("waiting", "daily_cap")]
    assert Message.objects.get(pk=elsewhere.pk).status == "sent"
    assert Message.objects.get(pk=messages[10].pk).not_before == NOON_VN + timedelta(hours=21)


# --- one provider id, one message -----------------------------------------------------------
def test_two_messages_of_a_channel_cannot_hold_one_provider_id(world):
    from django.db import IntegrityError, transaction

    first, second = sms(world.branch_a, "a"), sms(world.branch_a, "b")
    email = sms(world.branch_a, "c", channel="email", to_address="an@example.com", subject="S")
    Message.objects.filter(pk__in=[first.pk, email.pk]).update(provider_message_id="SM1")

    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.filter(pk=second.pk).update(provider_message_id="SM1")

    assert Message.objects.filter(provider_message_id="").count() == 1  # empty ids: any number


def test_a_look_up_answering_an_id_another_message_holds_leaves_it_unknown(world, to_fakes):
    from chairtime.messaging.dispatcher import Dispatcher
    from chairtime.messaging.transports.base import Sent

    class Answers:  # a provider that names the other message's send as ours
        name, can_lookup = "stub", True

        def send(self, message, *, deadline=None):
            raise AssertionError("must not send")

        def lookup(self, message):
            return Sent("SM-taken")

    holder = sms(world.branch_a, "holder")
    Message.objects.filter(pk=holder.pk).update(status="sent", provider_message_id="SM-taken")
    message = sms(world.branch_a, "unclear")
    Message.objects.filter(pk=message.pk).update(
        status="unknown", reason="outcome_unknown", attempts=1, attempt_started_at=NOON_VN
    )
    stub = Dispatcher(worker="w", config=TEST_CONFIG, transport_for=lambda _c: Answers(),
                      clock=Clock())  # fmt: skip

    stub.run_once()

    message.refresh_from_db()
    assert (message.status, message.reason, message.provider_message_id) == (
        "unknown", "outcome_unknown", ""
    )  # fmt: skip
    assert "held by another message" in message.error_text
    assert to_fakes.sends() == 0
