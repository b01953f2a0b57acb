"""Generation of automated messages: reminders (closest wins), idempotency, moved and
cancelled appointments, confirmation requests, instructions, summaries, greetings, the
run's summary, and two runs at once."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from chairtime.audit.models import AuditEvent
from chairtime.clinical.models import TreatmentItem, TreatmentOption, TreatmentPlan
from chairtime.messaging.automation.generation import cancel_obsolete
from chairtime.messaging.models import (
    AutomationRule,
    AutomationRun,
    ConfirmationLink,
    Message,
    MessageEvent,
    MessageTemplate,
)
from chairtime.messaging.tests.automation_helpers import (
    NOW,
    appointment,
    keys,
    only_rules,
    patient,
    reminder,
    run,
    with_chat,
)
from chairtime.messaging.tests.helpers import Clock, dispatcher
from chairtime.scheduling.services import cancel_appointment, confirm_appointment
from chairtime.tenancy.roles import Role
from tests.factories import BranchFactory, ProcedureFactory, UserFactory

ISO = "%Y-%m-%dT%H:%M:%SZ"


def key(prefix: str, row, rule) -> str:
    return f"{prefix}:appointment:{row.pk}:rule:{rule.pk}:{row.starts_at.astimezone(UTC):{ISO}}"


def test_reminder_is_queued_for_its_moment_with_the_text_in_the_patients_language(world):
    (rule,) = only_rules(world.branch_a, reminder(1, "days"))
    who = patient(world.branch_a, family_name="Lê", given_name="Thị Hoa", display_name="Lê Thị Hoa",
                  preferred_language="vi")  # fmt: skip
    world.branch_a.phone = "028 3822 1234"
    world.branch_a.save()
    row = appointment(world.branch_a, who, starts_at=NOW + timedelta(hours=30))

    counts = run(world.branch_a)

    message = Message.objects.get()
    assert (counts.created, counts.existing, counts.without_address) == (1, 0, 0)
    assert message.idempotency_key == key("reminder", row, rule)
    assert (message.channel, message.purpose, message.status) == ("sms", "service", "queued")
    assert message.not_before == row.starts_at - timedelta(days=1)
    assert message.to_address == who.phones.get().number
    assert (message.appointment_id, message.appointment_starts_at, message.rule_id) == (
        row.pk, row.starts_at, rule.pk,
    )  # fmt: skip
    # 09:00 UTC on the 8th is 16:00 in Ho Chi Minh City.
    assert message.body == (
        "Chào Lê Thị Hoa, Acme Quận 1 xin nhắc lịch hẹn của bạn vào 16:00 Thứ Ba, 8 tháng 1, "
        "2030 với bác sĩ An Trần. Trả lời C để xác nhận hoặc gọi 028 3822 1234 nếu cần đổi lịch."
    )
    assert list(MessageEvent.objects.values_list("kind", "status_after")) == [
        ("enqueued", "queued")
    ]


def test_a_second_run_adds_nothing(world):
    only_rules(world.branch_a, reminder(4), reminder(2))
    for hours in (5, 10, 20):
        appointment(world.branch_a, starts_at=NOW + timedelta(hours=hours))
    first = run(world.branch_a)

    second = run(world.branch_a)

    assert (first.created, second.created, second.existing) == (6, 0, 6)
    assert Message.objects.count() == MessageEvent.objects.count() == 6
    assert AutomationRun.objects.count() == 1  # the second changed nothing: no run, no event


def test_only_the_horizon_is_generated(world):
    only_rules(world.branch_a, reminder(1, "days"))
    appointment(world.branch_a, starts_at=NOW + timedelta(hours=24))
    later = appointment(world.branch_a, starts_at=NOW + timedelta(hours=48, minutes=1))

    run(world.branch_a)
    assert Message.objects.count() == 1

    run(world.branch_a, now=NOW + timedelta(hours=24, minutes=1))
    assert Message.objects.filter(appointment=later).count() == 1


# --- closest wins -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("booked_before", "generated_at", "expected"),
    [
        # Booked a week ahead: both, each at its moment.
        (timedelta(days=7), timedelta(days=3), {"2 days": "on time", "3 hours": "on time"}),
        # Booked exactly at the 2-day moment: still on time.
        (timedelta(days=2), timedelta(days=2), {"2 days": "on time", "3 hours": "on time"}),
        # A second later the 2-day reminder is late, and the 3-hour one is ahead: it wins.
        (timedelta(days=2) - timedelta(seconds=1), timedelta(days=2) - timedelta(seconds=1),
         {"3 hours": "on time"}),
        # The case: booked 20 hours before.
        (timedelta(hours=20), timedelta(hours=20), {"3 hours": "on time"}),
        # Booked 2 hours before: both late; only the closest goes, at once.
        (timedelta(hours=2), timedelta(hours=2), {"3 hours": "now"}),
        # An hour before is the last moment a late reminder goes.
        (timedelta(hours=2), timedelta(hours=1), {"3 hours": "now"}),
        (timedelta(hours=2), timedelta(minutes=59), {}),
    ],
    ids=["week", "at-2d-moment", "just-after", "20h", "2h", "1h-left", "59min-left"],
)  # fmt: skip
def test_overlapping_reminders_closest_wins(world, booked_before, generated_at, expected):
    two_days, _three_hours = only_rules(world.branch_a, reminder(2, "days"), reminder(3))
    starts_at = NOW + timedelta(days=5)
    now = starts_at - generated_at
    row = appointment(world.branch_a, starts_at=starts_at, booked_at=starts_at - booked_before)
    # Generation runs every 15 minutes: the run just after booking, and each after.
    for step in range(0, int(generated_at.total_seconds() // 900) + 1):
        run(world.branch_a, now=now + timedelta(minutes=15 * step))

    got = {}
    for message in Message.objects.all():
        name = "2 days" if message.rule_id == two_days.pk else "3 hours"
        moment = starts_at - (timedelta(days=2) if name == "2 days" else timedelta(hours=3))
        got[name] = "on time" if message.not_before == moment else "now"
        assert message.appointment_id == row.pk
    assert got == expected
    if "3 hours" in expected and expected["3 hours"] == "now":
        assert Message.objects.get().not_before == now


def test_after_an_outage_a_long_missed_reminder_gives_way_to_the_next(world):
    only_rules(world.branch_a, reminder(2, "days"), reminder(1, "days"))
    starts_at = NOW + timedelta(days=3)
    appointment(world.branch_a, starts_at=starts_at, booked_at=starts_at - timedelta(days=10))
    two_days = starts_at - timedelta(days=2)

    run(world.branch_a, now=two_days + timedelta(minutes=59))  # still on time: the grace
    assert sorted(m.not_before for m in Message.objects.all()) == [
        two_days, starts_at - timedelta(days=1),
    ]  # fmt: skip
    Message.objects.all().delete()
    run(world.branch_a, now=two_days + timedelta(minutes=61))
    assert [m.not_before for m in Message.objects.all()] == [starts_at - timedelta(days=1)]


def test_day_offsets_keep_the_wall_clock_time_across_daylight_saving(world):
    madrid = BranchFactory(organization=world.acme, country="ES", time_zone="Europe/Madrid",
                           currency="EUR", locale="es_ES", code="mad")  # fmt: skip
    only_rules(madrid, reminder(1, "days"))
    # Monday 31 March 2030, 10:00 in Madrid (CEST, UTC+2); the clocks went forward on
    # Sunday 30 March at 02:00: a day before is 10:00 CET, 23 hours earlier.
    starts_at = datetime(2030, 3, 31, 8, 0, tzinfo=UTC)
    appointment(madrid, patient(madrid, phone="+34612345678"), starts_at=starts_at)

    run(madrid, now=starts_at - timedelta(hours=30))

    assert Message.objects.get().not_before == datetime(2030, 3, 30, 9, 0, tzinfo=UTC)


# --- moved and cancelled appointments ----------------------------------------------------------
def test_a_moved_appointment_gets_a_new_reminder_and_the_old_one_is_cancelled(world):
    (rule,) = only_rules(world.branch_a, reminder(3))
    row = appointment(world.branch_a, starts_at=NOW + timedelta(hours=10))
    run(world.branch_a)
    old = Message.objects.get()

    from chairtime.scheduling.models import Appointment

    Appointment.objects.filter(pk=row.pk).update(starts_at=NOW + timedelta(hours=12),
                                                 ends_at=NOW + timedelta(hours=12, minutes=30),
                                                 blocked_until=NOW + timedelta(hours=12, minutes=40))  # fmt: skip
    row.refresh_from_db()
    counts = run(world.branch_a, now=NOW + timedelta(minutes=15))

    old.refresh_from_db()
    assert (counts.created, counts.cancelled) == (1, 1)
    assert (old.status, old.reason) == ("cancelled", "appointment_changed")
    assert keys(status="queued") == [key("reminder", row, rule)]
    assert list(old.events.values_list("kind", "status_before", "status_after")) == [
        ("enqueued", "", "queued"), ("cancelled", "queued", "cancelled"),
    ]  # fmt: skip


def test_a_cancelled_appointments_queued_reminder_is_cancelled(world, persona):
    only_rules(world.branch_a, reminder(3))
    row = appointment(world.branch_a, starts_at=NOW + timedelta(hours=10))
    run(world.branch_a)
    cancel_appointment(actor=persona(Role.RECEPTIONIST), appointment=row, cancelled_by="patient",
                       reason="Travelling", now=NOW + timedelta(minutes=5))  # fmt: skip

    counts = run(world.branch_a, now=NOW + timedelta(minutes=15))

    assert counts.cancelled == 1
    assert list(Message.objects.values_list("status", "reason")) == [
        ("cancelled", "appointment_changed")
    ]
    events = AuditEvent.objects.filter(object_type="messaging.automationrun").order_by("pk")
    assert [e.summary for e in events] == [
        "messages generated (schedule): 1 new, 0 already there, 0 cancelled, 0 without an "
        "address, 0 without a template",
        "messages generated (schedule): 0 new, 0 already there, 1 cancelled, 0 without an "
        "address, 0 without a template",
    ]


def test_the_dispatcher_cancels_a_reminder_whose_appointment_changed_since_the_run(world, persona):
    only_rules(world.branch_a, reminder(3))
    row = appointment(world.branch_a, starts_at=NOW + timedelta(hours=4))
    run(world.branch_a)
    cancel_appointment(actor=persona(Role.RECEPTIONIST), appointment=row, cancelled_by="clinic",
                       reason="Doctor ill", now=NOW)  # fmt: skip
    clock = Clock(NOW + timedelta(hours=1, minutes=1))

    dispatcher(clock).run_once()

    message = Message.objects.get()
    assert (message.status, message.reason, message.attempts) == (
        "cancelled",
        "appointment_changed",
        0,
    )


def test_switching_a_rule_off_cancels_its_queued_messages(world):
    (rule,) = only_rules(world.branch_a, reminder(3))
    appointment(world.branch_a, starts_at=NOW + timedelta(hours=10))
    run(world.branch_a)
    AutomationRule.objects.filter(pk=rule.pk).update(is_enabled=False)

    assert cancel_obsolete(organization_id=world.acme.pk, now=NOW) == 1
    assert list(Message.objects.values_list("status", "reason")) == [("cancelled", "rule_off")]


# --- confirmation requests ------------------------------------------------------------------
def test_confirmation_request_carries_a_link_and_goes_only_to_unconfirmed_appointments(
    world, persona
):
    (rule,) = only_rules(world.branch_a, {"kind": "confirmation_request", "offset_value": 2,
                                          "offset_unit": "days"})  # fmt: skip
    booked = appointment(world.branch_a, starts_at=NOW + timedelta(hours=40))
    confirmed = appointment(world.branch_a, starts_at=NOW + timedelta(hours=41))
    confirm_appointment(actor=persona(Role.RECEPTIONIST), appointment=confirmed, now=NOW)

    run(world.branch_a)

    message = Message.objects.get()
    assert message.idempotency_key == key("confirm", booked, rule)
    link = ConfirmationLink.objects.get()
    assert (link.appointment_id, link.starts_at, link.expires_at) == (
        booked.pk, booked.starts_at, booked.starts_at,
    )  # fmt: skip
    assert "/c/" in message.body
    token = message.body.split("/c/")[1].split()[0]
    assert len(token) == 32 and token not in link.token_hash

    confirm_appointment(actor=persona(Role.RECEPTIONIST), appointment=booked, now=NOW)
    assert run(world.branch_a, now=NOW + timedelta(minutes=15)).cancelled == 1


# --- channels and addresses -------------------------------------------------------------------
def test_the_first_preferred_channel_with_an_address_is_used_and_others_are_counted(world):
    only_rules(world.branch_a, reminder(3, channels=["zalo", "sms", "email"]))
    on_zalo = with_chat(patient(world.branch_a), "zalo", "0912000111")
    on_sms = patient(world.branch_a)
    by_email = patient(world.branch_a, phone=None, email="ana@example.com", preferred_language="es")
    landline = patient(world.branch_a, phone="+842838221234")  # cannot receive text messages
    nothing = patient(world.branch_a, phone=None)
    for hours, who in enumerate((on_zalo, on_sms, by_email, landline, nothing), start=5):
        appointment(world.branch_a, who, starts_at=NOW + timedelta(hours=hours))

    counts = run(world.branch_a)

    sent = {m.patient_id: (m.channel, m.to_address) for m in Message.objects.all()}
    assert sent == {
        on_zalo.pk: ("zalo", "+84912000111"), on_sms.pk: ("sms", on_sms.phones.get().number),
        by_email.pk: ("email", "ana@example.com"),
    }  # fmt: skip
    assert (counts.created, counts.without_address) == (3, 2)
    zalo = Message.objects.get(channel="zalo")
    assert zalo.template_code == "appointment_reminder"
    assert set(zalo.params) == {"patient_name", "appointment_time", "branch_name"}
    email = Message.objects.get(channel="email")
    assert email.subject == "Su cita en Acme Quận 1"
    assert "Confírmela aquí: /c/" in email.body


# --- after visits, plans, greetings -----------------------------------------------------------
def test_instructions_after_a_visit_follow_the_rule_for_its_category(world):
    general, implants = only_rules(
        world.branch_a,
        {"kind": "post_visit", "offset_value": 2, "offset_unit": "hours"},
        {"kind": "post_visit", "offset_value": 1, "offset_unit": "hours",
         "procedure_categories": ["implant"]},
    )  # fmt: skip
    implant = ProcedureFactory(organization=world.acme, category="implant", name="Implant")
    filling = ProcedureFactory(organization=world.acme, category="restorative", name="Filling")
    done = NOW - timedelta(hours=3)
    a = appointment(world.branch_a, starts_at=done, procedure=implant, status="completed",
                    completed_at=done + timedelta(minutes=40))  # fmt: skip
    b = appointment(world.branch_a, starts_at=done, procedure=filling, status="completed",
                    completed_at=done + timedelta(minutes=30))  # fmt: skip

    run(world.branch_a)

    assert keys() == sorted([f"post_visit:appointment:{a.pk}:rule:{implants.pk}",
                             f"post_visit:appointment:{b.pk}:rule:{general.pk}"])  # fmt: skip
    message = Message.objects.get(appointment=a)
    assert message.not_before == a.completed_at + timedelta(hours=1)
    assert "Sau buổi Implant" in message.body


def test_plan_summary_gives_the_total_in_the_branch_currency_and_language(world):
    (rule,) = only_rules(
        world.branch_a, {"kind": "plan_summary", "offset_value": 1, "offset_unit": "hours"}
    )
    who = patient(world.branch_a, preferred_language="en", display_name="Hoa Le")
    doctor = UserFactory(first_name="An", last_name="Tran")
    plan = TreatmentPlan.objects.create(branch=world.branch_a, patient=who, title="Implant 36",
                                        doctor=doctor, presented_at=NOW - timedelta(minutes=30),
                                        expires_on=date(2030, 4, 7))  # fmt: skip
    procedure = ProcedureFactory(organization=world.acme)
    first = TreatmentOption.objects.create(plan=plan, label="A", position=1)
    best = TreatmentOption.objects.create(plan=plan, label="B", position=2, is_recommended=True)
    TreatmentItem.objects.create(option=first, procedure=procedure, unit_price=1, amount=Decimal(1))
    for amount in (Decimal("12000000"), Decimal("500000")):
        TreatmentItem.objects.create(
            option=best, procedure=procedure, unit_price=amount, amount=amount
        )

    run(world.branch_a)

    message = Message.objects.get()
    assert message.idempotency_key == f"plan_summary:plan:{plan.pk}:rule:{rule.pk}"
    assert message.body == (
        "Hi Hoa Le, here is the treatment plan An Tran presented to you: Implant 36, ₫12,500,000 "
        "in total. Questions, or ready to book? Call Acme Quận 1 on ."
    )


def test_birthday_greeting_goes_on_the_day_at_the_local_time_as_marketing(world):
    (rule,) = only_rules(world.branch_a, {"kind": "birthday", "offer": "10% off a cleaning",
                                          "send_at": time(9)})  # fmt: skip
    today = patient(world.branch_a, birth_date=date(1990, 1, 7), preferred_language="en")
    tomorrow = patient(world.branch_a, birth_date=date(1985, 1, 8))
    patient(world.branch_a, birth_date=date(1985, 1, 9))

    run(world.branch_a)  # 10:00 on the 7th: today's at 09:00 (due now), tomorrow's at 09:00

    rows = {m.patient_id: m for m in Message.objects.all()}
    assert set(rows) == {today.pk, tomorrow.pk}
    assert rows[today.pk].idempotency_key == f"birthday:rule:{rule.pk}:patient:{today.pk}:2030"
    assert rows[today.pk].purpose == "marketing"
    assert rows[today.pk].not_before == datetime(2030, 1, 7, 2, 0, tzinfo=UTC)
    assert rows[tomorrow.pk].not_before == datetime(2030, 1, 8, 2, 0, tzinfo=UTC)
    assert "Our gift: 10% off a cleaning." in rows[today.pk].body


def test_a_birthday_on_29_february_is_kept_on_the_28th(world):
    only_rules(world.branch_a, {"kind": "birthday", "offer": "A gift"})
    leap = patient(world.branch_a, birth_date=date(2000, 2, 29))

    run(world.branch_a, now=datetime(2030, 2, 27, 20, 0, tzinfo=UTC))  # 03:00 on the 28th

    assert list(Message.objects.values_list("patient_id", flat=True)) == [leap.pk]


def test_holiday_greeting_goes_on_its_day_to_active_patients_once(world):
    (rule,) = only_rules(world.branch_a, {"kind": "holiday", "offer": "Tết gift", "send_on": date(2030, 1, 7),
                                          "send_at": time(11), "branch": world.branch_a})  # fmt: skip
    one, two = patient(world.branch_a), patient(world.branch_a)
    patient(world.branch_a, status="inactive")
    patient(world.branch_b)

    assert run(world.branch_a).created == 0  # 10:00: not yet
    assert run(world.branch_a, now=NOW + timedelta(hours=1)).created == 2
    rule.refresh_from_db()
    assert rule.completed_at == NOW + timedelta(hours=1)
    assert set(Message.objects.values_list("patient_id", flat=True)) == {one.pk, two.pk}


# --- two runs at once -------------------------------------------------------------------------
@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_make_each_message_once():
    branch = BranchFactory()
    only_rules(branch, reminder(2), reminder(3))
    for n in range(60):
        appointment(branch, starts_at=NOW + timedelta(hours=4, minutes=n))
    errors: list[BaseException] = []
    created: list[int] = []
    barrier = threading.Barrier(3)

    def generate() -> None:
        try:
            barrier.wait()
            created.append(run(branch).created)
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=generate) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(created) == 120 == Message.objects.count()
    assert MessageEvent.objects.count() == 120
    assert Message.objects.values("idempotency_key").distinct().count() == 120


def test_a_template_broken_by_hand_is_passed_over_and_counted(world):
    only_rules(world.branch_a, reminder(3))
    MessageTemplate.objects.filter(code="appointment_reminder", channel="sms").update(body="Hi {x")
    appointment(world.branch_a, starts_at=NOW + timedelta(hours=5))

    counts = run(world.branch_a)

    assert (counts.created, counts.without_template) == (0, 1)
    assert Message.objects.count() == 0
