"""The simulated clinic's messages: what its automation rules sent, how it went, and what
patients answered.

`simulate_messaging(organization, branches, rng)` (wired by generator.py after the
appointment book) uses the organisation's real default rules and templates (made as the
product makes them) and the product's own timing, channel and template choice
(messaging/automation: `due_before_appointment`, `draft_for`), so the outbox reads as the
product writes it. For appointments from 60 days before `now` to the next 24 hours (the
generation horizon):

- reminders (1 day and 3 hours before; a late booking gets only the closest) and
  confirmation requests with their link (2 days before), for the appointments the book's
  `reminder_reaches` says were reached (the same ones whose no-show chance the book
  lowered); none for what was cancelled or confirmed before it was due. Outcomes: most
  delivered, some only sent, a few failed, blocked (refused, no address) or unknown;
  future ones queued, a handful waiting for the morning;
- confirmations, matching the book's `confirmed_at`: about 45% through the confirmation
  link (the link row confirmed), the rest by a one-word reply ("C", "Có", "确认", "Sí")
  to the last message before; none when nothing had been sent yet (confirmed by phone);
  1% of links used to ask for a change (a call-back request in the inbox);
- instructions 2 hours after completed surgical, implant, root-canal and gum visits;
- birthday greetings over the last 30 days (each branch's rule, with an offer in its
  language), blocked without a marketing consent on the channel; a holiday greeting
  (the country's latest public holiday in those 30 days) to the patients who agreed to
  marketing (those who did not would only add blocked rows);
- other replies to delivered reminders: about 1% a stop word (recorded as refusals,
  origin message_reply), some asking for a call back or writing free text (handled by
  the front desk unless in the last two days).

Rows are plain (ADR 5): written with `bulk.insert_rows`, no per-message service calls;
appointments are left as the book made them. Everything random comes from `rng`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from typing import Any

from django.db import transaction
from django.utils import timezone

from chairtime.messaging.automation.bulk import Draft
from chairtime.messaging.automation.generation import (
    HORIZON,
    Context,
    Intent,
    draft_for,
    key_time,
    load_names,
    load_people,
    timed_rules,
)
from chairtime.messaging.automation.selectors import TemplateBook, rules_for_branch
from chairtime.messaging.automation.services import ensure_defaults
from chairtime.messaging.automation.timing import (
    Offset,
    birthday_on,
    due_before_appointment,
    local_moment,
)
from chairtime.messaging.choices import RuleKind
from chairtime.messaging.models import (
    AutomationRule,
    ConfirmationLink,
    InboundMessage,
    Message,
    MessageEvent,
)
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Consent, Patient
from chairtime.scheduling.models import Appointment
from chairtime.simulation.bookings import reminder_reaches
from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
from chairtime.tenancy.models import Branch, Organization

HISTORY_DAYS, GREETING_DAYS = 60, 30
BY_LINK, CHANGE_BY_LINK = 0.45, 0.01
OPTED_OUT, CALLBACK, FREE_TEXT = 0.01, 0.02, 0.04
# Past outcomes: (status, reason, weight)
PAST_OUTCOMES = (
    ("delivered", "", 82), ("sent", "", 8), ("failed", "not_delivered", 2),
    ("failed", "rejected", 1), ("blocked", "refused", 3), ("blocked", "no_address", 2),
    ("unknown", "outcome_unknown", 1), ("waiting", "retry", 1),
)  # fmt: skip
SENT = ("sent", "delivered")
REPLIES = {
    "vi": {"confirm": ("C", "Có", "có ạ", "Xác nhận"), "stop": ("Đừng nhắn nữa", "STOP", "Hủy đăng ký"),
           "callback": ("Gọi lại cho em nhé", "Gọi lại giúp tôi"),
           "text": ("Em đến trễ 15 phút được không?", "Cho em đổi sang chiều được không ạ?")},
    "zh": {"confirm": ("确认", "好的", "C"), "stop": ("退订", "TD"), "callback": ("请给我回电",),
           "text": ("可以改到下午吗？", "我会晚到十分钟")},  # noqa: RUF001 - Chinese punctuation
    "es": {"confirm": ("Sí", "C", "Confirmo"), "stop": ("No me escriban más", "BAJA"),
           "callback": ("Llámenme, por favor",), "text": ("¿Puedo ir a las 11?", "Llegaré un poco tarde")},
    "en": {"confirm": ("C", "YES", "Yes"), "stop": ("STOP", "Please stop texting me"),
           "callback": ("Call me please",), "text": ("Can I come at 11 instead?", "Running 10 minutes late")},
}  # fmt: skip
CHANGE_TEXT = {
    "vi": "Tôi cần đổi lịch hẹn.", "zh": "我需要改约。", "es": "Necesito cambiar mi cita.",
    "en": "I need to change my appointment.",
}  # fmt: skip
BIRTHDAY_OFFERS = {
    "vi": "giảm 10% lấy cao răng trong tháng sinh nhật", "zh": "生日当月洗牙九折",
    "es": "un 10 % de descuento en su limpieza este mes", "en": "10% off a cleaning this month",
}  # fmt: skip
# Fixed-date public holidays (month, day, name) a clinic greets its patients for.
HOLIDAYS = {
    "VN": ((1, 1, "Tết Dương lịch"), (4, 30, "Giải phóng miền Nam"), (9, 2, "Quốc khánh")),
    "CN": ((1, 1, "元旦"), (5, 1, "劳动节"), (10, 1, "国庆节")),
    "ES": ((1, 6, "Reyes"), (10, 12, "Fiesta Nacional"), (12, 25, "Navidad")),
    "US": ((1, 1, "New Year's Day"), (7, 4, "Independence Day"), (12, 25, "Christmas")),
}
HOLIDAY_OFFERS = {
    "vi": "khám răng miễn phí trong tuần này", "zh": "本周免费口腔检查",
    "es": "revisión gratuita esta semana", "en": "a free check-up this week",
}  # fmt: skip
MESSAGE_COLUMNS = (
    "id", "organization", "branch", "patient", "channel", "purpose", "to_address", "subject",
    "body", "template_code", "params", "idempotency_key", "cause", "status", "reason",
    "not_before", "attempts", "sent_at", "delivered_at", "provider_message_id", "created_at",
    "updated_at", "claimed_by", "error_code", "error_text", "appointment",
    "appointment_starts_at", "rule",
)  # fmt: skip


@dataclass
class MessagingResult:
    messages: int = 0
    inbound: int = 0
    links: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Written:
    id: int
    status: str
    sent_at: datetime | None
    draft: Draft


def _language(branch: Branch) -> str:
    return {"vi": "vi", "zh": "zh", "es": "es"}.get(branch.locale[:2], "en")


class _Writer:
    """Collects rows with explicit ids, then writes them in a few statements."""

    def __init__(self, organization: Organization, rng: random.Random, now: datetime) -> None:
        self.organization, self.rng, self.now = organization, rng, now
        self.message_id, self.event_id = next_id(Message), next_id(MessageEvent)
        self.inbound_id = next_id(InboundMessage)
        self.messages: list[tuple[Any, ...]] = []
        self.events: list[tuple[Any, ...]] = []
        self.inbound: list[tuple[Any, ...]] = []
        self.consents: list[tuple[Any, ...]] = []
        self.links: dict[str, tuple[Any, ...]] = {}

    def message(self, draft: Draft, *, marketing_allowed: bool = True) -> Written:
        status, reason = self._outcome(draft.not_before)
        if not marketing_allowed and status not in ("queued", "waiting"):
            status, reason = "blocked", "no_consent"
        message_id = self.message_id
        self.message_id += 1
        due = draft.not_before
        # Generation runs every 15 minutes and makes what is due within a day; here: shortly before.
        created = min(due - timedelta(minutes=self.rng.randint(1, 15)), self.now)
        sent = due + timedelta(seconds=self.rng.randint(1, 90))
        is_sent = status in ("sent", "delivered", "failed") and reason != "rejected"
        delivered = (
            sent + timedelta(seconds=self.rng.randint(2, 600)) if status == "delivered" else None
        )
        attempts = 0 if status in ("queued", "blocked") else 1 + (self.rng.random() < 0.05)
        self.messages.append((
            message_id, draft.organization_id, draft.branch_id, draft.patient_id, draft.channel,
            draft.purpose, draft.to_address, draft.subject, draft.body, draft.template_code,
            draft.params, draft.idempotency_key, draft.cause, status, reason, due, attempts,
            sent if is_sent else None, delivered, f"sim-{message_id}" if is_sent else "", created,
            delivered or (sent if is_sent else created), "", "", "", draft.appointment_id,
            draft.appointment_starts_at, draft.rule_id,
        ))  # fmt: skip
        self._event(message_id, created, "enqueued", "", "queued", 0)
        if status != "queued":
            kind = {"delivered": "delivered", "sent": "sent", "failed": "failed", "blocked": "blocked",
                    "unknown": "unknown", "waiting": "retry"}[status]  # fmt: skip
            self._event(message_id, delivered or sent, kind, "sending", status, attempts)
        if draft.link is not None and draft.link.token_hash not in self.links:
            self.links[draft.link.token_hash] = (
                self.organization.pk, draft.branch_id, draft.link.appointment_id,
                draft.link.starts_at, draft.link.token_hash, draft.link.expires_at, created, None, None,
            )  # fmt: skip
        return Written(message_id, status, sent if status in SENT else None, draft)

    def _outcome(self, due: datetime) -> tuple[str, str]:
        if due > self.now:
            return ("waiting", "quiet_hours") if self.rng.random() < 0.03 else ("queued", "")
        statuses = [(s, r) for s, r, _w in PAST_OUTCOMES]
        return self.rng.choices(statuses, weights=[w for _s, _r, w in PAST_OUTCOMES])[0]

    def _event(
        self, message_id: int, at: datetime, kind: str, before: str, after: str, attempt: int
    ) -> None:
        self.events.append((self.event_id, message_id, at, kind, before, after, attempt, "", ""))
        self.event_id += 1

    def received(self, written: Written | None, *, branch: Branch, patient_id: int, channel: str,
                 address: str, body: str, kind: str, effect: str, at: datetime,
                 provider: str = "", handled: datetime | None = None) -> None:  # fmt: skip
        self.inbound.append((
            self.inbound_id, self.organization.pk, branch.pk, channel,
            provider or {"sms": "twilio", "email": "twilio"}.get(channel, channel),
            f"sim-in-{self.inbound_id}", address, body, at, patient_id,
            written.id if written else None, kind, effect, handled, at, at,
        ))  # fmt: skip
        self.inbound_id += 1

    def flush(self) -> None:
        insert_rows(Message, MESSAGE_COLUMNS, self.messages)
        insert_rows(MessageEvent, ("id", "message", "occurred_at", "kind", "status_before",
                                   "status_after", "attempt", "worker", "detail"), self.events)  # fmt: skip
        insert_rows(InboundMessage, (
            "id", "organization", "branch", "channel", "provider", "provider_message_id", "from_address",
            "body", "received_at", "patient", "in_reply_to", "kind", "effect", "handled_at",
            "created_at", "updated_at",
        ), self.inbound)  # fmt: skip
        insert_rows(ConfirmationLink, ("organization", "branch", "appointment", "starts_at", "token_hash",
                                       "expires_at", "created_at", "confirmed_at", "change_requested_at"),
                    self.links.values())  # fmt: skip
        insert_rows(Consent, ("patient", "channel", "purpose", "is_granted", "origin", "recorded_at",
                              "note"), self.consents)  # fmt: skip


def simulate_messaging(
    organization: Organization,
    branches: Sequence[Branch],
    rng: random.Random,
    *,
    now: datetime | None = None,
) -> MessagingResult:
    """The outbox history, confirmations and replies around `now` (default: the clock)."""
    started = time.perf_counter()
    now = now or timezone.now()
    ensure_defaults(organization=organization)
    writer = _Writer(organization, rng, now)
    with transaction.atomic():
        _greeting_rules(organization, branches, now)
        rules = list(
            AutomationRule.objects.filter(organization=organization).select_related("segment")
        )
        context = Context(organization, now, HORIZON, {b.pk: b for b in branches}, rules,
                          TemplateBook.of(organization.pk))  # fmt: skip
        marketing = _marketing_consents(organization)
        for branch in branches:
            _appointments(writer, context, branch)
        _greetings(writer, context, marketing)
        writer.flush()
        reset_sequences(Message, MessageEvent, InboundMessage, Consent, ConfirmationLink)
    return MessagingResult(len(writer.messages), len(writer.inbound), len(writer.links),
                           time.perf_counter() - started)  # fmt: skip


def _greeting_rules(organization: Organization, branches: Sequence[Branch], now: datetime) -> None:
    """Each branch greets birthdays with an offer in its language, and its country's latest
    public holiday of the last 30 days (if any)."""
    for branch in branches:
        language = _language(branch)
        AutomationRule.objects.create(
            organization=organization, branch=branch, name=f"Birthday greeting · {branch.name}",
            kind=RuleKind.BIRTHDAY, offer=BIRTHDAY_OFFERS[language], send_at=clock(9),
            channels=["zalo", "wechat", "sms", "email"],
        )  # fmt: skip
        today = now.astimezone(branch.zone).date()
        days = [
            date(year, month, day) for year in (today.year - 1, today.year)
            for month, day, _name in HOLIDAYS.get(branch.country, ())
        ]  # fmt: skip
        recent = [d for d in days if today - timedelta(days=GREETING_DAYS) <= d < today]
        if recent:
            day = max(recent)
            name = next(n for m, d, n in HOLIDAYS[branch.country] if (m, d) == (day.month, day.day))
            AutomationRule.objects.create(
                organization=organization, branch=branch, name=f"{name} · {branch.name}",
                kind=RuleKind.HOLIDAY, offer=HOLIDAY_OFFERS[language], send_on=day, send_at=clock(10),
                channels=["zalo", "wechat", "sms", "email"], completed_at=local_moment(day, clock(10), branch.zone),
            )  # fmt: skip


def _marketing_consents(organization: Organization) -> dict[tuple[int, str], bool]:
    """The newest marketing consent per patient and channel."""
    rows = (
        Consent.objects.filter(patient__organization=organization, purpose="marketing")
        .order_by("patient_id", "channel", "recorded_at", "pk")
        .values_list("patient_id", "channel", "is_granted")
    )
    return {
        (patient_id, channel): granted
        for patient_id, channel, granted in rows.iterator(chunk_size=20000)
    }


def _appointments(writer: _Writer, context: Context, branch: Branch) -> None:
    now = context.now
    by_id = {rule.pk: rule for rule in context.rules}
    reminders = timed_rules(rules_for_branch(context.rules, branch, RuleKind.REMINDER))
    requests = timed_rules(rules_for_branch(context.rules, branch, RuleKind.CONFIRMATION_REQUEST))
    aftercare = rules_for_branch(context.rules, branch, RuleKind.POST_VISIT)
    rows = (
        Appointment.objects.filter(branch=branch, starts_at__gte=now - timedelta(days=HISTORY_DAYS),
                                   starts_at__lt=now + HORIZON + timedelta(days=3))
        .order_by("starts_at", "pk")
        .values_list("pk", "patient_id", "starts_at", "created_at", "status", "confirmed_at",
                     "cancelled_at", "completed_at", "doctor_id", "procedure_id",
                     "procedure__category", "is_walk_in")
    )  # fmt: skip
    chunk: list[tuple[Any, ...]] = []
    for row in rows.iterator(chunk_size=2000):
        chunk.append(row)
        if len(chunk) == 2000:
            _appointment_chunk(
                writer, context, branch, chunk, (reminders, requests, aftercare, by_id)
            )
            chunk = []
    if chunk:
        _appointment_chunk(writer, context, branch, chunk, (reminders, requests, aftercare, by_id))


def _appointment_chunk(writer: _Writer, context: Context, branch: Branch,
                       rows: list[tuple[Any, ...]], rules: tuple[Any, ...]) -> None:  # fmt: skip
    reminders, requests, aftercare, by_id = rules
    now = context.now
    intents: list[Intent] = []
    confirmed: dict[int, datetime] = {}
    for (pk, patient_id, starts_at, booked_at, _status, confirmed_at, cancelled_at, completed_at,
         doctor_id, procedure_id, category, walk_in) in rows:  # fmt: skip
        facts = {"appointment_id": pk, "starts_at": starts_at, "doctor_id": doctor_id,
                 "procedure_id": procedure_id}  # fmt: skip
        if confirmed_at is not None:
            confirmed[pk] = confirmed_at
        if reminder_reaches(starts_at, booked_at, walk_in=walk_in):
            for prefix, timed in (("reminder", reminders), ("confirm", requests)):
                for rule_id, due in due_before_appointment(timed, starts_at=starts_at, booked_at=booked_at,
                                                           zone=branch.zone, now=booked_at + timedelta(minutes=10)):  # fmt: skip
                    if due > now + HORIZON or (cancelled_at is not None and cancelled_at <= due):
                        continue
                    if prefix == "confirm" and confirmed_at is not None and confirmed_at <= due:
                        continue
                    cause = "reminder" if prefix == "reminder" else "confirmation_request"
                    intents.append(Intent(by_id[rule_id], branch, patient_id,
                                          f"{prefix}:appointment:{pk}:rule:{rule_id}:{key_time(starts_at)}",
                                          f"{cause}:appointment:{pk}", due, facts))  # fmt: skip
        if completed_at is not None and aftercare:
            specific = [r for r in aftercare if category in (r.procedure_categories or [])]
            for rule in specific or [r for r in aftercare if not r.procedure_categories]:
                due = Offset(rule.offset_value, rule.offset_unit).after(completed_at, branch.zone)
                if due <= now:
                    intents.append(Intent(rule, branch, patient_id, f"post_visit:appointment:{pk}:rule:{rule.pk}",
                                          f"post_visit:appointment:{pk}", due, facts))  # fmt: skip
    people = load_people(context, intents)
    load_names(context, intents)
    per_appointment: dict[int, list[Written]] = {}
    for intent in intents:
        person = people.get(intent.patient_id)
        draft = draft_for(context, intent, person) if person is not None else None
        if draft is None:
            continue
        written = writer.message(draft)
        if draft.appointment_id is not None and intent.rule.kind != RuleKind.POST_VISIT:
            per_appointment.setdefault(draft.appointment_id, []).append(written)
    language = _language(branch)
    for appointment_id, sent in per_appointment.items():
        _replies(writer, branch, language, sent, confirmed.get(appointment_id))


def _replies(writer: _Writer, branch: Branch, language: str, sent: list[Written],
             confirmed_at: datetime | None) -> None:  # fmt: skip
    """The confirmation (by link or reply) the book's confirmed_at stands for, a rare
    change request through the link, and other replies to a delivered reminder."""
    rng, words = writer.rng, REPLIES[language]
    went = sorted(
        (w for w in sent if w.sent_at is not None), key=lambda w: w.sent_at or w.draft.not_before
    )
    if confirmed_at is not None:
        before = [w for w in went if w.sent_at is not None and w.sent_at < confirmed_at]
        if before:
            last = before[-1]
            link = next((w.draft.link for w in reversed(before) if w.draft.link is not None), None)
            if link is not None and rng.random() < BY_LINK:
                row = list(writer.links[link.token_hash])
                row[7] = confirmed_at
                writer.links[link.token_hash] = tuple(row)
            else:
                writer.received(last, branch=branch, patient_id=last.draft.patient_id or 0,
                                channel=last.draft.channel, address=last.draft.to_address,
                                body=rng.choice(words["confirm"]), kind="confirmation",
                                effect=f"confirmed appointment {last.draft.appointment_id}",
                                at=confirmed_at, handled=confirmed_at)  # fmt: skip
        return
    for written in went:
        link = written.draft.link
        if link is not None and rng.random() < CHANGE_BY_LINK:
            at = (written.sent_at or written.draft.not_before) + timedelta(
                minutes=rng.randint(5, 300)
            )
            if at < writer.now:
                row = list(writer.links[link.token_hash])
                row[8] = at
                writer.links[link.token_hash] = tuple(row)
                writer.received(written, branch=branch, patient_id=written.draft.patient_id or 0,
                                channel=written.draft.channel, address=written.draft.to_address,
                                body=CHANGE_TEXT[language], kind="callback_request",
                                effect="call back requested (confirmation link)", at=at, provider="link",
                                handled=at + timedelta(hours=2) if writer.now - at > timedelta(days=2) else None)  # fmt: skip
            return
    delivered = [w for w in went if w.status == "delivered"]
    if delivered:
        _other_reply(writer, branch, language, delivered[0])


def _other_reply(writer: _Writer, branch: Branch, language: str, written: Written) -> None:
    rng, words, draft = writer.rng, REPLIES[language], written.draft
    roll = rng.random()
    if roll < OPTED_OUT:
        kind, body = "opt_out", rng.choice(words["stop"])
        effect = f"{draft.channel} messages stopped (service and marketing)"
    elif roll < OPTED_OUT + CALLBACK:
        kind, body, effect = (
            "callback_request",
            rng.choice(words["callback"]),
            "call back requested",
        )
    elif roll < OPTED_OUT + CALLBACK + FREE_TEXT:
        kind, body, effect = "reply", rng.choice(words["text"]), ""
    else:
        return
    received = (written.sent_at or draft.not_before) + timedelta(minutes=rng.randint(1, 600))
    if received > writer.now:
        return
    if kind == "opt_out":
        for purpose in ("service", "marketing"):
            writer.consents.append((draft.patient_id, draft.channel, purpose, False, "message_reply",
                                    received, f"Reply: {body}"))  # fmt: skip
    automatic = kind == "opt_out"
    recent = writer.now - received < timedelta(days=2)
    handled = (
        received
        if automatic
        else (None if recent else received + timedelta(minutes=rng.randint(1, 240)))
    )
    writer.received(written, branch=branch, patient_id=draft.patient_id or 0, channel=draft.channel,
                    address=draft.to_address, body=body, kind=kind, effect=effect, at=received,
                    handled=handled)  # fmt: skip


def _greetings(writer: _Writer, context: Context, marketing: dict[tuple[int, str], bool]) -> None:
    """Birthdays of the last 30 days (blocked without a marketing consent on the channel),
    and each branch's holiday greeting to the patients who agreed to marketing."""
    now = context.now
    branches = context.branches
    birthday = {
        b: rules_for_branch(context.rules, branch, RuleKind.BIRTHDAY)
        for b, branch in branches.items()
    }
    holidays = {
        b: [r for r in context.rules if r.kind == RuleKind.HOLIDAY and r.branch_id == b]
        for b in branches
    }
    patients = Patient.objects.filter(organization=context.organization, home_branch__in=list(branches),
                                      status=PatientStatus.ACTIVE).order_by("pk")  # fmt: skip
    intents: list[Intent] = []
    for patient_id, branch_id, born in patients.values_list(
        "pk", "home_branch_id", "birth_date"
    ).iterator(chunk_size=5000):
        branch = branches[branch_id]
        today = now.astimezone(branch.zone).date()
        for rule in birthday[branch_id]:
            if born is None:
                continue
            for year in (today.year - 1, today.year):
                day = birthday_on(born, year)
                moment = local_moment(day, rule.send_at, branch.zone)
                if now - timedelta(days=GREETING_DAYS) <= moment <= now:
                    intents.append(Intent(rule, branch, patient_id,
                                          f"birthday:rule:{rule.pk}:patient:{patient_id}:{year}",
                                          f"birthday:patient:{patient_id}", moment))  # fmt: skip
        for rule in holidays[branch_id]:
            assert rule.send_on is not None
            if any(marketing.get((patient_id, channel)) for channel in rule.channels):
                intents.append(Intent(rule, branch, patient_id, f"holiday:rule:{rule.pk}:patient:{patient_id}",
                                      f"holiday:rule:{rule.pk}",
                                      local_moment(rule.send_on, rule.send_at, branch.zone)))  # fmt: skip
        if len(intents) >= 2000:
            _greeting_chunk(writer, context, intents, marketing)
            intents = []
    _greeting_chunk(writer, context, intents, marketing)


def _greeting_chunk(writer: _Writer, context: Context, intents: list[Intent],
                    marketing: dict[tuple[int, str], bool]) -> None:  # fmt: skip
    if not intents:
        return
    people = load_people(context, intents)
    for intent in intents:
        person = people.get(intent.patient_id)
        draft = draft_for(context, intent, person) if person is not None else None
        if draft is None:
            continue
        allowed = bool(marketing.get((intent.patient_id, draft.channel)))
        if intent.rule.kind == RuleKind.HOLIDAY and not allowed:
            continue  # the sim leaves out blocked holiday greetings (see the docstring)
        writer.message(draft, marketing_allowed=allowed)
