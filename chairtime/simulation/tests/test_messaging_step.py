"""The simulator's messaging step: what the automation rules sent (reminders, confirmation
requests with links, instructions, greetings), confirmations matching the book (by reply
and by link), other replies; and the book's no-shows lowered where reminders reached."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from chairtime.messaging.models import (
    AutomationRule,
    ConfirmationLink,
    InboundMessage,
    Message,
    MessageEvent,
)
from chairtime.simulation.bookings import REMINDER_EFFECT, reminder_reaches, reminder_rescues
from chairtime.simulation.messaging import simulate_messaging
from tests.factories import AppointmentFactory, PatientFactory, ProcedureFactory

NOW = datetime(2030, 1, 20, 3, 0, tzinfo=UTC)


def book(world, days=(*range(-40, 2), 1, 1, 2, 2)):
    implant = ProcedureFactory(organization=world.acme, category="implant", code="IMP")
    rows = []
    for day in days:
        patient = PatientFactory(home_branch=world.branch_a, phone=f"+849123{len(rows):05d}",
                                 birth_date=date(1990, 1, 1) + timedelta(days=day + 20))  # fmt: skip
        starts_at = NOW + timedelta(days=day, hours=1)
        past = starts_at < NOW
        rows.append(AppointmentFactory(
            branch=world.branch_a, patient=patient, starts_at=starts_at,
            procedure=implant if day % 5 == 0 else ProcedureFactory(organization=world.acme),
            status="completed" if past else "booked",
            completed_at=starts_at + timedelta(minutes=40) if past else None,
            confirmed_at=starts_at - timedelta(hours=20) if day % 2 == 0 else None,
        ))  # fmt: skip
    return rows


def test_step_writes_what_the_rules_send_with_outcomes_and_replies(world):
    appointments = book(world)

    result = simulate_messaging(
        world.acme, [world.branch_a, world.branch_b], random.Random(3), now=NOW
    )

    assert result.messages == Message.objects.count() > 60
    causes = {cause.split(":")[0] for cause in Message.objects.values_list("cause", flat=True)}
    assert causes == {"reminder", "confirmation_request", "post_visit", "birthday"}
    statuses = set(Message.objects.values_list("status", flat=True))
    assert {"delivered", "queued"} <= statuses
    assert (
        not Message.objects.filter(not_before__gt=NOW)
        .exclude(status__in=["queued", "waiting"])
        .exists()
    )
    assert not Message.objects.filter(not_before__gt=NOW + timedelta(days=1)).exists()
    assert MessageEvent.objects.filter(kind="enqueued").count() == result.messages
    reached = {a.pk for a in appointments if reminder_reaches(a.starts_at, a.created_at)}
    assert set(Message.objects.exclude(cause__startswith="post_visit").exclude(appointment=None)
               .values_list("appointment_id", flat=True)) <= reached  # fmt: skip
    rules = {r.pk: r for r in AutomationRule.objects.all()}
    for message in Message.objects.exclude(rule=None):
        assert message.idempotency_key.split(":")[0] in {
            "reminder",
            "confirm",
            "post_visit",
            "birthday",
        }
        assert rules[message.rule_id].organization_id == world.acme.pk
    assert Message.objects.filter(cause__startswith="birthday", purpose="marketing").exists()
    assert result.links == ConfirmationLink.objects.count() > 0
    assert result.inbound == InboundMessage.objects.count()
    assert set(InboundMessage.objects.values_list("kind", flat=True)) <= {
        "confirmation", "opt_out", "callback_request", "reply",
    }  # fmt: skip
    assert not InboundMessage.objects.filter(received_at__gt=NOW).exists()


def test_confirmations_match_the_book_by_reply_or_by_link(world):
    appointments = book(world, days=range(-60, 0))

    simulate_messaging(world.acme, [world.branch_a], random.Random(5), now=NOW)

    by_reply = {
        i.in_reply_to.appointment_id: i for i in InboundMessage.objects.filter(kind="confirmation")
    }
    by_link = {
        link.appointment_id: link for link in ConfirmationLink.objects.exclude(confirmed_at=None)
    }
    assert by_reply and by_link and not set(by_reply) & set(by_link)
    for row in appointments:
        if row.pk in by_reply:
            assert by_reply[row.pk].received_at == row.confirmed_at
        if row.pk in by_link:
            assert by_link[row.pk].confirmed_at == row.confirmed_at
        if row.confirmed_at is None:
            assert row.pk not in by_reply and row.pk not in by_link


def test_reminders_reach_most_appointments_booked_an_hour_ahead_and_lower_no_shows():
    starts = [NOW + timedelta(minutes=5 * n) for n in range(10_000)]
    reached = sum(
        reminder_reaches(s, s - timedelta(days=2, seconds=n)) for n, s in enumerate(starts)
    )

    assert 9_100 < reached < 9_300
    assert not reminder_reaches(NOW, NOW - timedelta(minutes=59))
    assert not any(reminder_reaches(s, s - timedelta(days=2), walk_in=True) for s in starts[:100])
    rescued = sum(
        reminder_rescues(s, s - timedelta(days=2, seconds=n)) for n, s in enumerate(starts)
    )
    assert REMINDER_EFFECT == 0.8
    assert 0.17 * reached < rescued < 0.23 * reached  # a fifth of the reached no-shows come
