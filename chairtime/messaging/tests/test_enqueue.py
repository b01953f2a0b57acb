"""Enqueueing: one row per idempotency key (also when transactions race), written with the
event that causes it, and bad input refused naming the field, writing nothing."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from chairtime.audit.models import AuditEvent
from chairtime.core.errors import InvalidInput
from chairtime.messaging.models import Message, MessageEvent
from chairtime.messaging.services import enqueue_message
from chairtime.messaging.tests.helpers import LANDLINE_VN, MOBILE_VN, NOON_VN, sms
from tests.factories import BranchFactory, PatientFactory


def test_enqueued_message_is_queued_due_now_with_its_history_and_audit(world):
    message = sms(world.branch_a, "reminder:appointment:12:rule:4", cause="appointment:12")

    assert (message.status, message.not_before, message.attempts) == ("queued", NOON_VN, 0)
    assert message.organization_id == world.acme.pk
    assert message.to_address == MOBILE_VN
    assert list(message.events.values_list("kind", "status_after")) == [("enqueued", "queued")]
    event = AuditEvent.objects.get(object_type="messaging.message", object_id=str(message.pk))
    assert (event.action, event.branch_id, event.organization_id) == (
        "create",
        world.branch_a.pk,
        world.acme.pk,
    )


def test_second_enqueue_with_the_same_key_returns_the_first_and_writes_nothing(world):
    first = sms(world.branch_a, "reminder:appointment:12:rule:4")

    second = sms(world.branch_a, "reminder:appointment:12:rule:4", body="Changed text")

    assert second.pk == first.pk
    assert second.body == "Reminder reminder:appointment:12:rule:4"
    assert Message.objects.count() == 1
    assert MessageEvent.objects.count() == 1
    assert AuditEvent.objects.filter(object_type="messaging.message").count() == 1


def test_the_same_key_in_another_organisation_is_another_message(world):
    sms(world.branch_a, "birthday:2030")
    sms(world.rival_branch, "birthday:2030")

    assert Message.objects.count() == 2


def test_message_rolls_back_with_the_event_that_caused_it(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        sms(world.branch_a, "reminder:1")
        raise RuntimeError("the booking failed")

    assert Message.objects.count() == 0


def test_losing_a_race_on_the_key_inside_a_transaction_keeps_the_callers_work(world):
    patient = PatientFactory(home_branch=world.branch_a)
    first = sms(world.branch_a, "reminder:7")
    with transaction.atomic():
        patient.notes = "kept"
        patient.save()
        # The fast path misses (as if the other transaction had not committed yet): the
        # insert then meets the unique constraint, and the savepoint keeps our work.
        original = Message.objects.filter
        calls = {"n": 0}

        def miss_once(*args, **kwargs):
            calls["n"] += 1
            rows = original(*args, **kwargs)
            return rows.none() if calls["n"] == 1 else rows

        Message.objects.filter = miss_once  # type: ignore[method-assign]
        try:
            again = sms(world.branch_a, "reminder:7")
        finally:
            Message.objects.filter = original  # type: ignore[method-assign]
    patient.refresh_from_db()
    assert (again.pk, patient.notes, Message.objects.count()) == (first.pk, "kept", 1)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_concurrent_enqueues_of_one_key_make_one_row():
    branch = BranchFactory()
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def enqueue() -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                results.append(sms(branch, "race:1").pk)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=enqueue) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1 and len(results) == 6
    assert Message.objects.filter(idempotency_key="race:1").count() == 1
    assert MessageEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("channel", "address", "field", "text"),
    [
        ("sms", LANDLINE_VN, "to_address", "cannot receive text messages"),
        ("sms", "+84 12", "to_address", "is not a valid phone number"),
        ("sms", "call me", "to_address", "is not a phone number"),
        ("email", "ana@", "to_address", "is not an e-mail address"),
        ("wechat", "x y", "to_address", "is not a WeChat ID"),
        ("phone", MOBILE_VN, "channel", "cannot be sent on this channel"),
        ("whatsapp", MOBILE_VN, "channel", "cannot be sent on this channel"),
    ],
)
def test_bad_address_or_channel_is_refused_naming_the_field(world, channel, address, field, text):
    params = {"patient_name": "An", "appointment_time": "9:00", "branch_name": "Q1"}
    with pytest.raises(InvalidInput) as error:
        enqueue_message(
            actor=None, branch=world.branch_a, channel=channel, purpose="service",
            to_address=address, idempotency_key="k", body="Hello",
            template_code="appointment_reminder", params=params,
        )  # fmt: skip

    assert list(error.value.errors) == [field]
    assert text in error.value.errors[field][0]
    assert Message.objects.count() == 0


def test_national_mobile_number_is_stored_in_e164_for_the_branch_country(world):
    message = sms(world.branch_a, to_address="0912 345 678")

    assert message.to_address == MOBILE_VN


@pytest.mark.parametrize(
    ("template_code", "params", "errors"),
    [
        ("birthday_offer", {}, {"template_code"}),
        ("appointment_reminder", {"patient_name": "An", "appointment_time": "9:00"}, {"params.branch_name"}),
        ("appointment_reminder", {"patient_name": "An", "appointment_time": "9:00", "branch_name": "Q1",
                                  "discount": "10%"}, {"params.discount"}),
        ("appointment_reminder", {"patient_name": "A" * 31, "appointment_time": "9:00", "branch_name": "Q1"},
         {"params.patient_name"}),
    ],
)  # fmt: skip
def test_chat_template_problems_name_the_template_or_the_parameter(
    world, template_code, params, errors
):
    with pytest.raises(InvalidInput) as error:
        enqueue_message(
            actor=None, branch=world.branch_a, channel="zalo", purpose="service",
            to_address=MOBILE_VN, idempotency_key="z1", template_code=template_code, params=params,
        )  # fmt: skip

    assert set(error.value.errors) == errors
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"body": "  "}, "body"),
        ({"body": "x" * 1601}, "body"),
        ({"purpose": "gossip"}, "purpose"),
        ({"idempotency_key": " "}, "idempotency_key"),
    ],
)
def test_other_bad_input_names_the_field(world, fields, field):
    with pytest.raises(InvalidInput) as error:
        sms(world.branch_a, **fields)

    assert list(error.value.errors) == [field]
    assert Message.objects.count() == 0


def test_patient_of_another_organisation_is_refused(world):
    stranger = PatientFactory(home_branch=world.rival_branch)

    with pytest.raises(InvalidInput) as error:
        sms(world.branch_a, patient=stranger)

    assert list(error.value.errors) == ["patient"]
