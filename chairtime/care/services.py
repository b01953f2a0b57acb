"""Writes of care: the rules, the hourly generation of tasks, and the calls staff record.

Every write is audited in its own transaction. Generation holds the organisation's rule
rows locked while it compares and inserts, so two runs at once (two workers, a manual run
beside the schedule) queue instead of racing; the unique cause key stays the database's
guard behind it. Recording a call locks the task row: two people recording at once are
counted one after the other, never lost or doubled, and a form that saw an older count
can say so (`expected_attempts`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.care.choices import AssignTo, CancelReason, Outcome, TaskKind, TaskStatus
from chairtime.care.generation import (
    Context,
    OpenTask,
    TaskSpec,
    assignment,
    candidate_specs,
    home_branch_moves,
)
from chairtime.care.generation import vanished as vanished_reasons
from chairtime.care.models import CareRule, CareTask, TaskAttempt
from chairtime.care.rules import (
    DEFAULT_RULES,
    KINDS_WITH_CATEGORIES,
    LIMITS,
    NOTE_MAX,
    OFFSET_LIMITS,
    OFFSET_UNITS,
    after_call,
)
from chairtime.care.selectors import get_rule_values
from chairtime.clinical.models import ProcedureCategory
from chairtime.core.errors import Conflict, InvalidInput, Message
from chairtime.patients.choices import ConsentOrigin, ConsentPurpose, ContactChannel
from chairtime.patients.models import Consent, Patient
from chairtime.tenancy.models import Branch, Organization
from chairtime.tenancy.roles import Role

logger = logging.getLogger(__name__)
Actor = AbstractBaseUser | AnonymousUser | None
KEYS_PER_QUERY = 500


# --- rules ------------------------------------------------------------------------------------
def ensure_rules(organization: Organization) -> dict[str, CareRule]:
    """The organisation's rule of every kind, the missing ones created with the defaults
    (safe to call from two places at once: a second insert of a kind is ignored)."""
    have = {r.kind: r for r in CareRule.objects.filter(organization=organization)}
    missing = [kind for kind in TaskKind.values if kind not in have]
    if missing:
        CareRule.objects.bulk_create(
            [_default_rule(organization, kind) for kind in missing], ignore_conflicts=True
        )
        have = {r.kind: r for r in CareRule.objects.filter(organization=organization)}
    return have


def _default_rule(organization: Organization, kind: str) -> CareRule:
    values = DEFAULT_RULES[kind]
    return CareRule(
        organization=organization, kind=kind, is_enabled=values.is_enabled,
        offset=values.offset, categories=list(values.categories), assign_to=values.assign_to,
        assign_role=values.assign_role, max_attempts=values.max_attempts,
        cool_off_days=values.cool_off_days, hand_over_after_days=values.hand_over_after_days,
    )  # fmt: skip


RULE_FIELDS = (
    "is_enabled", "offset", "categories", "assign_to", "assign_role", "max_attempts",
    "cool_off_days", "hand_over_after_days",
)  # fmt: skip


def _whole_number(value: Any, low: int, high: int) -> tuple[int | None, Message | None]:
    if isinstance(value, str):
        value = value.strip()
        value = int(value) if value.lstrip("-").isdigit() else value
    if isinstance(value, bool) or not isinstance(value, int):
        return None, _("Enter a whole number.")
    if not low <= value <= high:
        return None, _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}
    return value, None


def validate_rule_values(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of a rule of `kind`, checked: every bad one named with its reason."""
    if kind not in TaskKind.values:
        raise InvalidInput.on("kind", _("Choose one of the listed kinds."))
    errors: dict[str, list[Message]] = {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        error: Message | None = None
        if name not in RULE_FIELDS:
            error = _("Unknown setting.")
        elif name == "is_enabled":
            if isinstance(value, bool):
                clean[name] = value
            else:
                error = _("Say yes or no.")
        elif name == "offset":
            low, high = OFFSET_LIMITS[OFFSET_UNITS[kind]]
            clean[name], error = _whole_number(value, low, high)
        elif name in LIMITS:
            clean[name], error = _whole_number(value, *LIMITS[name])
        elif name == "categories":
            clean[name], error = _categories(kind, value)
        elif name == "assign_to":
            clean[name] = value
            if value not in AssignTo.values:
                error = _("Choose one of the listed values.")
        elif name == "assign_role":
            clean[name] = value
            if value not in Role.values:
                error = _("Choose one of the listed roles.")
        if error is not None:
            errors[name] = [error]
    if errors:
        raise InvalidInput(errors)
    return clean


def _categories(kind: str, value: Any) -> tuple[list[str], Message | None]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return [], _("Give a list of procedure categories.")
    unknown = [v for v in value if v not in ProcedureCategory.values]
    if unknown:
        return [], _("Unknown procedure category: %(names)s.") % {"names": ", ".join(unknown)}
    if value and kind not in KINDS_WITH_CATEGORIES:
        return [], _("This kind of task applies to every patient, not to categories.")
    return sorted(set(value)), None


def update_rule(
    *, actor: Actor, organization: Organization, kind: str, values: Mapping[str, Any]
) -> CareRule:
    """Change some settings of one rule; tasks made from now on follow it (open tasks keep
    the attempts and cool-off they were made with)."""
    clean = validate_rule_values(kind, values)
    ensure_rules(organization)
    with transaction.atomic():
        rule = CareRule.objects.select_for_update().get(organization=organization, kind=kind)
        before = {name: getattr(rule, name) for name in RULE_FIELDS}
        for name, value in clean.items():
            setattr(rule, name, value)
        if isinstance(actor, User):
            rule.updated_by = actor
        rule.save()
        after = {name: getattr(rule, name) for name in RULE_FIELDS}
        changes = diff(before, after)
        if changes:
            record_event(
                actor=actor, action=AuditAction.UPDATE, target=rule,
                summary=f"care rule {kind}", changes=changes, organization_id=organization.pk,
            )  # fmt: skip
    return rule


# --- generation -------------------------------------------------------------------------------
@dataclass
class GenerationResult:
    """What one run did: tasks made per kind, tasks cancelled per reason."""

    created: Counter[str] = field(default_factory=Counter)
    cancelled: Counter[str] = field(default_factory=Counter)

    def add(self, other: GenerationResult) -> None:
        self.created.update(other.created)
        self.cancelled.update(other.cancelled)

    @property
    def total_created(self) -> int:
        return sum(self.created.values())

    @property
    def total_cancelled(self) -> int:
        return sum(self.cancelled.values())


def generate_care_tasks(
    *, organization: Organization, now: datetime | None = None, branches: list[Branch] | None = None
) -> GenerationResult:
    """Make the tasks the organisation's active branches should have and cancel the open
    ones whose reason vanished. Idempotent: a second run makes and cancels nothing."""
    now = now or timezone.now()
    ensure_rules(organization)
    result = GenerationResult()
    if branches is None:
        branches = list(Branch.objects.filter(organization=organization, is_active=True))
    for branch in branches:
        result.add(_generate_for_branch(branch, now))
    return result


def _generate_for_branch(branch: Branch, now: datetime) -> GenerationResult:
    result = GenerationResult()
    with transaction.atomic():
        # The organisation's rule rows are the lock two runs queue on (see the docstring).
        _lock = list(
            CareRule.objects.select_for_update()
            .filter(organization_id=branch.organization_id)
            .order_by("pk")
        )
        ctx = Context.of(branch, now, get_rule_values(branch.organization_id))
        _follow_home_branch(ctx)
        specs = candidate_specs(ctx)
        existing = _existing_keys(branch.organization_id, [s.cause_key for s in specs])
        new = [spec for spec in specs if spec.cause_key not in existing]
        created = CareTask.objects.bulk_create([_task_of(ctx, spec) for spec in new])
        for task in created:
            record_event(
                actor=None, action=AuditAction.CREATE, target=task,
                summary=f"care task {task.kind} made by rule",
            )  # fmt: skip
            result.created[task.kind] += 1
        result.cancelled.update(_cancel_vanished(ctx))
    return result


def _follow_home_branch(ctx: Context) -> None:
    """Open recall, reactivation and birthday tasks follow their patient to a new home
    branch (to or from this one): their key names the patient, so the new branch's run
    finds the task made and must not lose the call (nor the old branch cancel it)."""
    moves = home_branch_moves(ctx)
    if not moves:
        return
    tasks = CareTask.objects.select_for_update().filter(pk__in=list(moves), status=TaskStatus.OPEN)
    for task in tasks.order_by("pk"):
        before = task.branch_id
        task.branch_id = moves[task.pk]
        task.save(update_fields=["branch", "updated_at"])
        record_event(
            actor=None, action=AuditAction.UPDATE, target=task,
            summary=f"care task {task.kind} moved to the patient's home branch",
            changes={"branch": (before, task.branch_id)},
        )  # fmt: skip


def _existing_keys(organization_id: int, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), KEYS_PER_QUERY):
        found.update(
            CareTask.objects.filter(
                organization_id=organization_id, cause_key__in=keys[start : start + KEYS_PER_QUERY]
            ).values_list("cause_key", flat=True)
        )
    return found


def _task_of(ctx: Context, spec: TaskSpec) -> CareTask:
    rule = ctx.rules[spec.kind]
    person, role = assignment(rule, spec)
    return CareTask(
        organization_id=ctx.branch.organization_id, branch_id=spec.branch_id,
        patient_id=spec.patient_id, kind=spec.kind, status=TaskStatus.OPEN,
        due_at=spec.due_at, next_attempt_at=spec.due_at, assigned_to_id=person,
        assigned_role=role, max_attempts=rule.max_attempts, cool_off_days=rule.cool_off_days,
        cause_key=spec.cause_key, cause_on=spec.cause_on, appointment_id=spec.appointment_id,
        plan_id=spec.plan_id, complaint_id=spec.complaint_id,
    )  # fmt: skip


def _cancel_vanished(ctx: Context) -> Counter[str]:
    open_tasks = [
        OpenTask(*row)
        for row in CareTask.objects.filter(branch=ctx.branch, status=TaskStatus.OPEN).values_list(
            "pk",
            "kind",
            "patient_id",
            "cause_on",
            "appointment_id",
            "plan_id",
            "complaint_id",
            "cause_key",
        )
    ]
    reasons = vanished_reasons(ctx, open_tasks)
    cancelled: Counter[str] = Counter()
    if not reasons:
        return cancelled
    for task in CareTask.objects.select_for_update().filter(
        pk__in=list(reasons), status=TaskStatus.OPEN
    ):
        _cancel(task, reasons[task.pk], ctx.now, actor=None)
        cancelled[reasons[task.pk]] += 1
    return cancelled


def _cancel(task: CareTask, reason: str, now: datetime, *, actor: Actor) -> None:
    task.status, task.cancel_reason, task.closed_at = TaskStatus.CANCELLED, reason, now
    task.closed_by = actor if isinstance(actor, User) else None
    task.save(update_fields=["status", "cancel_reason", "closed_at", "closed_by", "updated_at"])
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=task,
        summary=f"care task {task.kind} cancelled: {reason}",
        changes={"status": (TaskStatus.OPEN, TaskStatus.CANCELLED), "cancel_reason": ("", reason)},
    )  # fmt: skip


def generate_all_care_tasks(*, now: datetime | None = None) -> GenerationResult:
    """Every organisation with an active branch (the hourly schedule)."""
    result = GenerationResult()
    for organization in Organization.objects.filter(branches__is_active=True).distinct():
        result.add(generate_care_tasks(organization=organization, now=now))
    return result


# --- calls ------------------------------------------------------------------------------------
def _check_call(task: CareTask, outcome: str, note: str) -> str:
    errors: dict[str, list[Message]] = {}
    if outcome not in Outcome.values:
        errors["outcome"] = [_("Choose one of the listed outcomes.")]
    note = note.strip()
    if len(note) > NOTE_MAX:
        errors["note"] = [
            _("Keep the note under %(max)s characters (it has %(count)s).")
            % {"max": NOTE_MAX, "count": len(note)}
        ]
    if errors:
        raise InvalidInput(errors)
    return note


def record_attempt(
    *,
    actor: User,
    task: CareTask,
    outcome: str,
    note: str = "",
    expected_attempts: int | None = None,
    now: datetime | None = None,
) -> CareTask:
    """Write down one call of an open task and what came of it.

    Reached, booked, declined, wrong number and "asked not to be contacted" close the task;
    "no answer" moves the next call past the cool-off, and closes it once the last attempt
    allowed went unanswered. "Asked not to be contacted" also records the patient's refusal
    on every channel (service and marketing, origin verbal) and cancels their other open
    tasks. Bad input, a closed task, or a count that moved since the caller looked
    (`expected_attempts`) change nothing.
    """
    note = _check_call(task, outcome, note)
    now = now or timezone.now()
    with transaction.atomic():
        locked = CareTask.objects.select_for_update().select_related("branch").get(pk=task.pk)
        if locked.status != TaskStatus.OPEN:
            raise InvalidInput.on(
                "task",
                _("This task is already closed (%(status)s): no call can be added.")
                % {"status": TaskStatus(locked.status).label},
            )
        if expected_attempts is not None and expected_attempts != locked.attempts:
            raise Conflict.on(
                "task",
                _("Someone recorded a call on this task meanwhile; look at it again first."),
            )
        before = _task_state(locked)
        result = after_call(
            outcome=outcome, attempts=locked.attempts, max_attempts=locked.max_attempts,
            cool_off_days=locked.cool_off_days, now=now, zone=locked.branch.zone,
            next_attempt_at=locked.next_attempt_at,
        )  # fmt: skip
        TaskAttempt.objects.create(
            task=locked, number=result.attempts, at=now, by=actor, outcome=outcome, note=note
        )
        locked.attempts, locked.status, locked.outcome = result.attempts, result.status, outcome
        locked.next_attempt_at = result.next_attempt_at
        locked.note = note or locked.note
        if result.is_closed:
            locked.closed_at, locked.closed_by = now, actor
        locked.save()
        record_event(
            actor=actor, action=AuditAction.UPDATE, target=locked,
            summary=f"care call {result.attempts} ({locked.kind}): {outcome}",
            changes=diff(before, _task_state(locked)),
        )  # fmt: skip
        if outcome == Outcome.DO_NOT_CONTACT:
            _record_refusal(actor, locked, now)
    return locked


def _task_state(task: CareTask) -> dict[str, Any]:
    return {
        "status": task.status, "attempts": task.attempts, "outcome": task.outcome,
        "next_attempt_at": task.next_attempt_at, "note": task.note,
    }  # fmt: skip


# "Asked not to be contacted": every channel the clinic calls or messages on (ADR 11).
REFUSED_CHANNELS = tuple(ContactChannel.values)


def _record_refusal(actor: User, task: CareTask, now: datetime) -> None:
    """The patient asked not to be contacted: a refusal on file for every channel, for
    service contact (calls, reminders, follow-ups) and for marketing, and their other open
    tasks cancelled.

    A row is written only where the newest answer is not already "no": for service that
    means a refusal unless the newest row is one (silence is yes); for marketing only where
    the newest row is a "yes" (silence is already no). Written here rather than through
    patients.services.record_consents, which records only changes from a "silence is no"
    default: for service contact silence is yes (ADR 11), so a first refusal must be a row
    of its own."""
    patient = Patient.objects.get(pk=task.patient_id)
    newest: dict[tuple[str, str], bool] = {}
    for channel, purpose, is_granted in (
        Consent.objects.filter(patient=patient)
        .order_by("-recorded_at", "-id")
        .values_list("channel", "purpose", "is_granted")
    ):
        newest.setdefault((channel, purpose), is_granted)
    wanted = [
        (channel, purpose)
        for channel in REFUSED_CHANNELS
        for purpose in (ConsentPurpose.SERVICE, ConsentPurpose.MARKETING)
        if newest.get((channel, purpose), purpose == ConsentPurpose.SERVICE)
    ]
    for channel, purpose in wanted:
        consent = Consent.objects.create(
            patient=patient, channel=channel, purpose=purpose, is_granted=False,
            origin=ConsentOrigin.VERBAL, recorded_at=now, recorded_by=actor,
            note=f"care task {task.pk}",
        )  # fmt: skip
        record_event(
            actor=actor, action=AuditAction.CREATE, target=consent, patient_id=patient.pk,
            branch_id=task.branch_id, organization_id=patient.organization_id,
            summary=f"{channel}/{purpose}=no", changes={"origin": (None, ConsentOrigin.VERBAL)},
        )  # fmt: skip
    others = (
        CareTask.objects.select_for_update()
        .filter(patient_id=patient.pk, status=TaskStatus.OPEN)
        .exclude(pk=task.pk)
        .order_by("pk")
    )
    for other in others:
        _cancel(other, CancelReason.DO_NOT_CONTACT, now, actor=actor)
