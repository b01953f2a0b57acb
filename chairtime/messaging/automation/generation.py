"""Generation: the messages automation rules make, put in the outbox in bulk.

`generate_messages(organization=…)` is one run over an organisation (the scheduled task
runs it every 15 minutes for each; "send to a segment" runs it for its campaign):

1. queued or waiting messages that no longer make sense are cancelled: their rule was
   switched off, their appointment was cancelled, missed, moved or has started, or a
   confirmation request's appointment is already confirmed (the dispatcher checks the
   same just before sending, so a change between runs is caught too);
2. each kind of rule finds what is due within the next 24 hours (HORIZON): reminders and
   confirmation requests before appointments (timing.py decides which reminders overlap),
   instructions after completed visits, summaries after presented plans, birthday
   greetings on the day, holiday greetings and campaigns on their date;
3. for each, a deterministic idempotency key (`reminder:appointment:<id>:rule:<id>:<start>`;
   a moved appointment's start is new, so it gets a new reminder); keys already in the
   outbox are skipped with one indexed query per batch;
4. the first of the rule's channels on which the patient has a usable address, the
   template in the patient's language (timing of sending, consent and quiet hours are the
   dispatcher's send rules, not repeated here); a patient with no address on any of the
   channels gets nothing and is counted;
5. batches go in through the bulk path (bulk.py), then one AutomationRun row and one audit
   event summarise the run (none when the run changed nothing).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.clinical.models import (
    PlanStatus,
    Procedure,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.core.errors import InvalidInput
from chairtime.messaging.addresses import mobile_number, normalize_address
from chairtime.messaging.automation.bulk import Draft, LinkRow, insert_drafts
from chairtime.messaging.automation.confirmations import link_token, link_url, token_hash
from chairtime.messaging.automation.formatting import (
    LANGUAGE_CODES,
    appointment_time,
    branch_language,
    money,
)
from chairtime.messaging.automation.selectors import TemplateBook, rules_for_branch
from chairtime.messaging.automation.templating import CODE_VARIABLES, cut, placeholders, render
from chairtime.messaging.automation.timing import (
    Offset,
    Timed,
    birthday_on,
    due_before_appointment,
    local_moment,
)
from chairtime.messaging.choices import (
    BEFORE_APPOINTMENT_KINDS,
    DUE_STATUSES,
    MARKETING_KINDS,
    RULE_TEMPLATE,
    EventKind,
    MessageStatus,
    Reason,
    RuleKind,
)
from chairtime.messaging.models import AutomationRule, AutomationRun, Message, MessageEvent
from chairtime.messaging.transports.chat import CHAT_TEMPLATES
from chairtime.patients.choices import ConsentPurpose, ContactChannel, PatientStatus
from chairtime.patients.models import Patient, PatientChatId, PatientPhone
from chairtime.scheduling.choices import RELEASED_STATUSES, AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch, Organization

logger = logging.getLogger("chairtime.messaging.automation")

HORIZON = timedelta(hours=24)  # messages are made this long before they are due
AFTER_LOOKBACK = timedelta(days=2)  # visits and plans looked at, back from now
AFTER_STALE = timedelta(hours=12)  # instructions later than this after their moment: skipped
BATCH = 2000
CHAT_CHANNELS = frozenset({ContactChannel.ZALO, ContactChannel.WECHAT})
GONE = (PatientStatus.MERGED, PatientStatus.DECEASED)


@dataclass
class Counts:
    created: int = 0
    existing: int = 0
    cancelled: int = 0
    without_address: int = 0
    without_template: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.cancelled)


@dataclass(frozen=True)
class Intent:
    """A message a rule wants to send to a patient, before choosing channel and words."""

    rule: AutomationRule
    branch: Branch
    patient_id: int
    key: str
    cause: str
    due: datetime
    facts: dict[str, Any] = field(default_factory=dict)  # what the kind's variables need


@dataclass(frozen=True)
class Person:
    name: str
    language: str
    addresses: dict[str, str]


@dataclass
class Context:
    organization: Organization
    now: datetime
    horizon: timedelta
    branches: dict[int, Branch]
    rules: list[AutomationRule]
    book: TemplateBook
    counts: Counts = field(default_factory=Counts)
    doctors: dict[int, str] = field(default_factory=dict)
    procedures: dict[int, Procedure] = field(default_factory=dict)

    def zone(self, branch: Branch) -> Any:
        return branch.zone


# --- the run --------------------------------------------------------------------------------
def generate_messages(
    *,
    organization: Organization,
    now: datetime | None = None,
    horizon: timedelta = HORIZON,
    rule_ids: Iterable[int] | None = None,
    trigger: str = "schedule",
    actor: User | None = None,
) -> Counts:
    """One run over the organisation (only `rule_ids`, when given); returns its counts.
    Safe to run twice, and side by side: nothing is put in the outbox twice."""
    from chairtime.messaging.automation.services import ensure_defaults

    now = now or timezone.now()
    started = timezone.now()
    ensure_defaults(organization=organization)
    wanted = set(rule_ids) if rule_ids is not None else None
    rules = [
        r for r in AutomationRule.objects.filter(organization=organization).select_related("segment")
        if wanted is None or r.pk in wanted
    ]  # fmt: skip
    branches = {b.pk: b for b in Branch.objects.filter(organization=organization, is_active=True)}
    context = Context(organization, now, horizon, branches, rules, TemplateBook.of(organization.pk))
    if wanted is None:
        context.counts.cancelled = cancel_obsolete(organization_id=organization.pk, now=now)
    for intents in _batches(_all_intents(context)):
        _put(context, intents)
    _finish(context, started=started, trigger=trigger, actor=actor)
    return context.counts


def generate_for_all(*, now: datetime | None = None) -> Counts:
    """The scheduled run: every organisation with an active branch."""
    total = Counts()
    organizations = Organization.objects.filter(branches__is_active=True).distinct().order_by("pk")
    for organization in organizations:
        counts = generate_messages(organization=organization, now=now)
        for name in ("created", "existing", "cancelled", "without_address", "without_template"):
            setattr(total, name, getattr(total, name) + getattr(counts, name))
    return total


def _all_intents(context: Context) -> Iterator[Intent]:
    yield from _before_appointments(context)
    yield from _after_visits(context)
    yield from _plan_summaries(context)
    yield from _birthdays(context)
    yield from _dated(context)


def _batches(intents: Iterator[Intent]) -> Iterator[list[Intent]]:
    batch: list[Intent] = []
    for intent in intents:
        batch.append(intent)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _finish(context: Context, *, started: datetime, trigger: str, actor: User | None) -> None:
    counts = context.counts
    if not counts.changed:
        return
    with transaction.atomic():
        run = AutomationRun.objects.create(
            organization=context.organization, trigger=trigger[:40], started_at=started,
            finished_at=timezone.now(), created=counts.created, existing=counts.existing,
            cancelled=counts.cancelled, without_address=counts.without_address,
            without_template=counts.without_template,
        )  # fmt: skip
        record_event(
            actor=actor, action=AuditAction.CREATE, target=run,
            organization_id=context.organization.pk,
            summary=(f"messages generated ({trigger}): {counts.created} new, "
                     f"{counts.existing} already there, {counts.cancelled} cancelled, "
                     f"{counts.without_address} without an address, "
                     f"{counts.without_template} without a template"),
            changes={name: (None, getattr(counts, name)) for name in (
                "created", "existing", "cancelled", "without_address", "without_template")},
        )  # fmt: skip
    logger.info("generation %s for %s: %s", trigger, context.organization.slug, counts)


# --- cancelling what no longer makes sense --------------------------------------------------
def cancel_obsolete(*, organization_id: int, now: datetime) -> int:
    """Cancel queued or waiting messages whose rule was switched off, or whose appointment
    was cancelled, missed, moved or has started, or (a confirmation request) is confirmed.
    Conditional on the status, so a message a dispatcher has just claimed is left alone."""
    pending = Message.objects.filter(
        organization_id=organization_id, status__in=DUE_STATUSES, rule__isnull=False
    )
    rule_off = set(pending.filter(rule__is_enabled=False).values_list("pk", flat=True))
    mine = pending.filter(appointment__isnull=False, rule__kind__in=BEFORE_APPOINTMENT_KINDS)
    changed = set(
        mine.filter(
            Q(appointment__status__in=RELEASED_STATUSES) | Q(appointment__starts_at__lte=now)
            | Q(rule__kind=RuleKind.CONFIRMATION_REQUEST, appointment__confirmed_at__isnull=False)
        ).values_list("pk", flat=True)
    ) | set(mine.exclude(appointment__starts_at=F("appointment_starts_at")).values_list("pk", flat=True))  # fmt: skip
    changed -= rule_off
    return _cancel(sorted(rule_off), Reason.RULE_OFF, now) + _cancel(
        sorted(changed), Reason.APPOINTMENT_CHANGED, now
    )


_CANCEL = (
    "UPDATE messaging_message SET status = 'cancelled', reason = %s, updated_at = %s "
    "WHERE id IN ({ids}) AND status = %s RETURNING id"
)


def _cancel(ids: Sequence[int], reason: str, now: datetime) -> int:
    cancelled = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        with transaction.atomic():
            events = []
            for before in DUE_STATUSES:
                sql = _CANCEL.format(ids=", ".join(["%s"] * len(chunk)))
                params = [reason, connection.ops.adapt_datetimefield_value(now), *chunk, before]
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    done = sorted(row[0] for row in cursor.fetchall())
                events += [
                    MessageEvent(
                        message_id=pk, occurred_at=now, kind=EventKind.CANCELLED,
                        status_before=before, status_after=MessageStatus.CANCELLED, detail=reason,
                    )
                    for pk in done
                ]  # fmt: skip
            MessageEvent.objects.bulk_create(events)
            cancelled += len(events)
    return cancelled


# --- what each kind of rule wants -------------------------------------------------------------
def key_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timed_rules(rules: Sequence[AutomationRule]) -> list[Timed]:
    return [Timed(rule.pk, Offset(rule.offset_value, rule.offset_unit)) for rule in rules]


def _before_appointments(context: Context) -> Iterator[Intent]:
    """Reminders and confirmation requests due within the horizon."""
    plans: dict[int, tuple[list[Timed], list[Timed]]] = {}
    by_id = {rule.pk: rule for rule in context.rules}
    longest = timedelta(0)
    for branch in context.branches.values():
        reminders = timed_rules(rules_for_branch(context.rules, branch, RuleKind.REMINDER))
        requests = timed_rules(
            rules_for_branch(context.rules, branch, RuleKind.CONFIRMATION_REQUEST)
        )
        if reminders or requests:
            plans[branch.pk] = (reminders, requests)
            longest = max([longest, *(t.offset.longest for t in reminders + requests)])
    if not plans:
        return
    now = context.now
    rows = (
        Appointment.objects.filter(
            branch_id__in=list(plans), status__in=[AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED],
            starts_at__gt=now, starts_at__lte=now + context.horizon + longest,
        )
        .order_by("starts_at", "pk")
        .values_list("pk", "branch_id", "patient_id", "starts_at", "created_at", "status",
                     "doctor_id", "procedure_id")
    )  # fmt: skip
    for (
        pk,
        branch_id,
        patient_id,
        starts_at,
        booked_at,
        status,
        doctor_id,
        procedure_id,
    ) in rows.iterator(chunk_size=BATCH):
        branch = context.branches[branch_id]
        reminders, requests = plans[branch_id]
        facts = {"appointment_id": pk, "starts_at": starts_at, "doctor_id": doctor_id,
                 "procedure_id": procedure_id}  # fmt: skip
        kinds = [("reminder", reminders)]
        if status == AppointmentStatus.BOOKED:
            kinds.append(("confirm", requests))
        for prefix, timed in kinds:
            due = due_before_appointment(timed, starts_at=starts_at, booked_at=booked_at,
                                         zone=branch.zone, now=now)  # fmt: skip
            for rule_id, moment in due:
                if moment > now + context.horizon:
                    continue
                cause = "reminder" if prefix == "reminder" else "confirmation_request"
                yield Intent(
                    by_id[rule_id], branch, patient_id,
                    f"{prefix}:appointment:{pk}:rule:{rule_id}:{key_time(starts_at)}",
                    f"{cause}:appointment:{pk}", moment, facts,
                )  # fmt: skip


def _after_visits(context: Context) -> Iterator[Intent]:
    """Instructions after completed visits: a rule for the visit's procedure category wins
    over the rules for every category."""
    rules = {b: rules_for_branch(context.rules, branch, RuleKind.POST_VISIT)
             for b, branch in context.branches.items()}  # fmt: skip
    rules = {b: found for b, found in rules.items() if found}
    if not rules:
        return
    now = context.now
    rows = (
        Appointment.objects.filter(
            branch_id__in=list(rules), status=AppointmentStatus.COMPLETED,
            completed_at__gte=now - AFTER_LOOKBACK, completed_at__lte=now,
        )
        .order_by("completed_at", "pk")
        .values_list("pk", "branch_id", "patient_id", "starts_at", "completed_at", "doctor_id",
                     "procedure_id", "procedure__category")
    )  # fmt: skip
    for (
        pk,
        branch_id,
        patient_id,
        starts_at,
        completed_at,
        doctor_id,
        procedure_id,
        category,
    ) in rows.iterator(chunk_size=BATCH):
        branch = context.branches[branch_id]
        specific = [r for r in rules[branch_id] if category in (r.procedure_categories or [])]
        chosen = specific or [r for r in rules[branch_id] if not r.procedure_categories]
        facts = {"appointment_id": pk, "starts_at": starts_at, "doctor_id": doctor_id,
                 "procedure_id": procedure_id}  # fmt: skip
        for rule in chosen:
            if completed_at is None:  # a completed visit always has its time; never here
                continue
            due = Offset(rule.offset_value, rule.offset_unit).after(completed_at, branch.zone)
            if now - AFTER_STALE <= due <= now + context.horizon:
                yield Intent(rule, branch, patient_id, f"post_visit:appointment:{pk}:rule:{rule.pk}",
                             f"post_visit:appointment:{pk}", due, facts)  # fmt: skip


def _plan_summaries(context: Context) -> Iterator[Intent]:
    rules = {b: rules_for_branch(context.rules, branch, RuleKind.PLAN_SUMMARY)
             for b, branch in context.branches.items()}  # fmt: skip
    rules = {b: found for b, found in rules.items() if found}
    if not rules:
        return
    now = context.now
    plans = list(
        TreatmentPlan.objects.filter(
            branch_id__in=list(rules), presented_at__gte=now - AFTER_LOOKBACK, presented_at__lte=now,
            status__in=[PlanStatus.PROPOSED, PlanStatus.ACCEPTED, PlanStatus.IN_PROGRESS],
        ).order_by("presented_at", "pk").values_list("pk", "branch_id", "patient_id", "presented_at",
                                                     "title", "doctor_id")
    )  # fmt: skip
    totals = _plan_totals([plan[0] for plan in plans])
    for pk, branch_id, patient_id, presented_at, title, doctor_id in plans:
        branch = context.branches[branch_id]
        facts = {
            "plan_title": title,
            "plan_total": totals.get(pk, Decimal(0)),
            "doctor_id": doctor_id,
        }
        for rule in rules[branch_id]:
            due = Offset(rule.offset_value, rule.offset_unit).after(presented_at, branch.zone)
            if now - AFTER_STALE <= due <= now + context.horizon:
                yield Intent(rule, branch, patient_id, f"plan_summary:plan:{pk}:rule:{rule.pk}",
                             f"plan_summary:plan:{pk}", due, facts)  # fmt: skip


def _plan_totals(plan_ids: list[int]) -> dict[int, Decimal]:
    """Each plan's total: its accepted option, else the recommended one, else the first."""
    if not plan_ids:
        return {}
    options = TreatmentOption.objects.filter(plan_id__in=plan_ids).order_by("plan_id", "position")
    chosen: dict[int, tuple[int, int]] = {}  # plan -> (rank, option id)
    for option_id, plan_id, status, recommended in options.values_list(
        "pk", "plan_id", "status", "is_recommended"
    ):
        rank = 0 if status == "accepted" else 1 if recommended else 2
        if plan_id not in chosen or rank < chosen[plan_id][0]:
            chosen[plan_id] = (rank, option_id)
    sums = dict(
        TreatmentItem.objects.filter(option_id__in=[o for _r, o in chosen.values()])
        .exclude(status="cancelled")
        .values_list("option_id")
        .annotate(total=Sum("amount"))
        .values_list("option_id", "total")
    )
    return {
        plan: sums.get(option, Decimal(0)) or Decimal(0) for plan, (_r, option) in chosen.items()
    }


def _day_over(day: date, zone: Any, now: datetime) -> bool:
    return now >= local_moment(day + timedelta(days=1), time(0), zone)


def _birthdays(context: Context) -> Iterator[Intent]:
    """Greetings on the birthday (29 February kept on the 28th in other years), at the
    rule's local time, never on another day."""
    now = context.now
    for branch in context.branches.values():
        for rule in rules_for_branch(context.rules, branch, RuleKind.BIRTHDAY):
            today = now.astimezone(branch.zone).date()
            for day in (today, today + timedelta(days=1)):
                moment = local_moment(day, rule.send_at, branch.zone)
                if moment > now + context.horizon or _day_over(day, branch.zone, now):
                    continue
                born = Q(birth_date__month=day.month, birth_date__day=day.day)
                if (day.month, day.day) == (2, 28) and birthday_on(
                    date(2000, 2, 29), day.year
                ) == day:
                    born |= Q(birth_date__month=2, birth_date__day=29)
                patients = (
                    Patient.objects.filter(born, home_branch=branch, status=PatientStatus.ACTIVE)
                    .order_by("pk")
                    .values_list("pk", flat=True)
                )
                for patient_id in patients.iterator(chunk_size=BATCH):
                    yield Intent(rule, branch, patient_id,
                                 f"birthday:rule:{rule.pk}:patient:{patient_id}:{day.year}",
                                 f"birthday:patient:{patient_id}", moment)  # fmt: skip


def _dated(context: Context) -> Iterator[Intent]:
    """Holiday greetings and campaigns, on their day from their local time on; the rule is
    marked sent once every branch it covers has had its moment."""
    now = context.now
    for rule in context.rules:
        if rule.kind not in (RuleKind.HOLIDAY, RuleKind.SEGMENT) or not rule.is_enabled:
            continue
        if rule.send_on is None or rule.completed_at is not None:
            continue
        scope = [b for b in context.branches.values() if rule.branch_id in (None, b.pk)]
        pending = False
        for branch in scope:
            moment = local_moment(rule.send_on, rule.send_at, branch.zone)
            if moment > now:
                pending = True
                continue
            if _day_over(rule.send_on, branch.zone, now):
                continue
            for patient_id in _audience(rule, branch):
                prefix = "holiday" if rule.kind == RuleKind.HOLIDAY else "segment"
                yield Intent(rule, branch, patient_id, f"{prefix}:rule:{rule.pk}:patient:{patient_id}",
                             f"{prefix}:rule:{rule.pk}", max(moment, now))  # fmt: skip
        if not pending:
            AutomationRule.objects.filter(pk=rule.pk, completed_at__isnull=True).update(
                completed_at=now
            )


def _audience(rule: AutomationRule, branch: Branch) -> Iterator[int]:
    """The patients of the branch a dated rule speaks to: all active ones (holiday), or
    those its segment matches now (campaign)."""
    if rule.kind == RuleKind.HOLIDAY:
        rows = Patient.objects.filter(home_branch=branch, status=PatientStatus.ACTIVE)
        yield from rows.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=BATCH)
        return
    from chairtime.crm.segments.filters import parse_definition
    from chairtime.crm.segments.selectors import matching_profiles

    if rule.segment is None:
        return
    try:
        definition = parse_definition(rule.segment.definition)
    except (InvalidInput, ValueError):
        logger.warning("rule %s: segment %s cannot be read", rule.pk, rule.segment_id)
        return
    profiles = matching_profiles(definition, branch=branch).filter(home_branch_id=branch.pk)
    yield from (
        profiles.order_by("patient_id")
        .values_list("patient_id", flat=True)
        .iterator(chunk_size=BATCH)
    )


# --- from intents to messages -----------------------------------------------------------------
def _put(context: Context, intents: list[Intent]) -> None:
    organization_id = context.organization.pk
    keys = [intent.key for intent in intents]
    existing = set(
        Message.objects.filter(
            organization_id=organization_id, idempotency_key__in=keys
        ).values_list("idempotency_key", flat=True)
    )
    fresh = [intent for intent in intents if intent.key not in existing]
    context.counts.existing += len(intents) - len(fresh)
    if not fresh:
        return
    people = load_people(context, fresh)
    load_names(context, fresh)
    drafts: dict[str, Draft] = {}
    for intent in fresh:
        person = people.get(intent.patient_id)
        if person is None:  # merged or deceased since
            continue
        draft = draft_for(context, intent, person)
        if draft is not None:
            drafts.setdefault(draft.idempotency_key, draft)
    if drafts:
        created = insert_drafts(list(drafts.values()), now=context.now)
        context.counts.created += created
        context.counts.existing += len(drafts) - created


def load_people(context: Context, intents: list[Intent]) -> dict[int, Person]:
    """Name, language and usable address per channel of each patient."""
    ids = sorted({intent.patient_id for intent in intents})
    region = {intent.patient_id: intent.branch.country for intent in intents}
    rows = Patient.objects.filter(pk__in=ids).exclude(status__in=GONE)
    patients = {pk: (name, language, email) for pk, name, language, email in
                rows.values_list("pk", "display_name", "preferred_language", "email")}  # fmt: skip
    phones: dict[int, str] = {}
    for patient_id, number in (
        PatientPhone.objects.filter(patient_id__in=list(patients), kind="mobile")
        .order_by("patient_id", "-is_primary", "pk").values_list("patient_id", "number")
    ):  # fmt: skip
        if patient_id not in phones:
            phones[patient_id] = _usable(ContactChannel.SMS, number, region[patient_id])
    chats: dict[int, dict[str, str]] = defaultdict(dict)
    for patient_id, app, handle in PatientChatId.objects.filter(
        patient_id__in=list(patients), app__in=[ContactChannel.ZALO, ContactChannel.WECHAT]
    ).values_list("patient_id", "app", "handle"):
        if app == ContactChannel.ZALO:  # a Zalo account is a phone number
            chats[patient_id][app] = _usable(app, handle, region[patient_id]) or phones.get(
                patient_id, ""
            )
        else:
            chats[patient_id][app] = _usable(app, handle, region[patient_id])
    people = {}
    for pk, (name, language, email) in patients.items():
        addresses = {ContactChannel.SMS: phones.get(pk, ""), **chats.get(pk, {}),
                     ContactChannel.EMAIL: _usable(ContactChannel.EMAIL, email, region[pk])}  # fmt: skip
        people[pk] = Person(name, language, {k: v for k, v in addresses.items() if v})
    return people


def _usable(channel: str, address: str, region: str) -> str:
    """The address in canonical form, or "" when this channel cannot use it (a landline
    for SMS, a malformed e-mail)."""
    if not address:
        return ""
    try:
        if channel in (ContactChannel.SMS, ContactChannel.ZALO):
            return mobile_number(address, region=region)
        return normalize_address(channel, address, region=region)
    except InvalidInput:
        return ""


def load_names(context: Context, intents: list[Intent]) -> None:
    doctors = {i.facts["doctor_id"] for i in intents if "doctor_id" in i.facts} - set(
        context.doctors
    )
    for user in User.objects.filter(pk__in=doctors):
        context.doctors[user.pk] = str(user)
    procedures = {i.facts["procedure_id"] for i in intents if "procedure_id" in i.facts} - set(
        context.procedures
    )
    for procedure in Procedure.objects.filter(pk__in=procedures):
        context.procedures[procedure.pk] = procedure


@cache
def _uses(body: str, subject: str) -> frozenset[str] | None:
    """The variables a template uses; None when it was broken outside the services (a row
    changed by hand): such a template is passed over, never sent as it is."""
    try:
        return frozenset(
            p.name for text in (body, subject) for p in placeholders(text, field="body")
        )
    except InvalidInput:
        logger.warning("a message template cannot be read and is passed over: %r", body[:80])
        return None


def draft_for(context: Context, intent: Intent, person: Person) -> Draft | None:
    rule, branch = intent.rule, intent.branch
    code = RULE_TEMPLATE[RuleKind(rule.kind)]
    languages = (person.language, branch_language(branch), *LANGUAGE_CODES)
    has_address = False
    for channel in rule.channels or []:
        address = person.addresses.get(channel)
        if not address:
            continue
        has_address = True
        template = context.book.choose(
            branch_id=branch.pk, code=code, channel=channel, languages=languages
        )
        if template is None:
            continue
        is_chat = channel in CHAT_CHANNELS
        carried = CHAT_TEMPLATES[channel][code].names if is_chat else ()
        used = _uses(template.body, template.subject)
        if used is None:
            continue
        wanted = used | frozenset(carried)
        values = _values(context, intent, person, template.language, is_chat, wanted)
        link = _link(context, intent) if "confirm_link" in wanted else None
        if link is not None:
            values["confirm_link"] = link[0]
        params = {}
        if is_chat:
            fields = CHAT_TEMPLATES[channel][code].fields
            params = {f.ours: cut(values.get(f.ours) or "-", f.max_length) for f in fields}
        return Draft(
            organization_id=context.organization.pk, branch_id=branch.pk,
            patient_id=intent.patient_id, channel=channel,
            purpose=ConsentPurpose.MARKETING if rule.kind in MARKETING_KINDS else ConsentPurpose.SERVICE,
            to_address=address, idempotency_key=intent.key, cause=intent.cause,
            body=render(template.body, values), not_before=intent.due, rule_id=rule.pk,
            subject=render(template.subject, values) if channel == ContactChannel.EMAIL else "",
            template_code=code if is_chat else "", params=params,
            appointment_id=intent.facts.get("appointment_id"),
            appointment_starts_at=intent.facts.get("starts_at"),
            link=link[1] if link is not None else None,
        )  # fmt: skip
    if has_address:
        context.counts.without_template += 1
    else:
        context.counts.without_address += 1
    return None


def _values(
    context: Context, intent: Intent, person: Person, language: str, is_chat: bool,
    wanted: frozenset[str],
) -> dict[str, str]:  # fmt: skip
    branch, facts = intent.branch, intent.facts
    values = {"patient_name": person.name, "branch_name": branch.name, "branch_phone": branch.phone,
              "offer": intent.rule.offer}  # fmt: skip
    if "starts_at" in facts and "appointment_time" in wanted:
        values["appointment_time"] = appointment_time(
            facts["starts_at"], branch.zone, language, short=is_chat
        )
    if "doctor_id" in facts:
        values["doctor_name"] = context.doctors.get(facts["doctor_id"], "")
    if "procedure_id" in facts and "procedure_name" in wanted:
        procedure = context.procedures.get(facts["procedure_id"])
        values["procedure_name"] = procedure.localized_name(language) if procedure else ""
    if "plan_title" in facts:
        values["plan_title"] = facts["plan_title"]
        values["plan_total"] = money(facts["plan_total"], branch.currency, language)
    return {
        name: value
        for name, value in values.items()
        if name in CODE_VARIABLES[RULE_TEMPLATE[RuleKind(intent.rule.kind)]]
    }


def _link(context: Context, intent: Intent) -> tuple[str, LinkRow] | None:
    appointment_id, starts_at = intent.facts.get("appointment_id"), intent.facts.get("starts_at")
    if appointment_id is None or starts_at is None:
        return None
    token = link_token(organization_id=context.organization.pk, appointment_id=appointment_id,
                       starts_at=starts_at)  # fmt: skip
    return link_url(token), LinkRow(token_hash(token), appointment_id, starts_at, starts_at)
