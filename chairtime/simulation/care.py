"""The simulated clinic's care work: the calls the rules asked for over the last weeks and
how they went, and the open tasks of the simulated today (issue 6, item 7).

Run after the book, the money and the CRM (profiles are needed for recall, absence and
birthdays). The tasks come from the real rules (chairtime.care.generation), replayed:

- day by day over the last `CARE_DAYS` days for the calls anchored to a day (day 1 and
  day 7 after a treatment, complaints, birthdays), as the hourly run would have made them;
- once, at the simulated today, for what depends on the state of the book now (recall,
  reactivation, treatment continuation, tomorrow's confirmation calls);
- confirmation calls of the past, from the book itself: a complex visit not confirmed a
  day before its call got a call 4 hours before the visit (cancelled if the patient
  confirmed by message or cancelled before it).

Then staff work them: on each day a task is due, it is worked with probability
`WORKED_PER_DAY` between 09:00 and 18:00; a call is reached about 55% of the time, not
answered about 30%, the rest booked, declined, a wrong number or "do not contact" (which
records refusals on every channel, as the care service does, and cancels the patient's
later and open calls). No-show follow-ups are replayed day by day too, due two hours (the
rule's offset) after the no-show mark, as the hourly run makes them. Unanswered calls
wait the rule's cool-off, and close after the last attempt. Confirmation calls follow
what the book says happened (a no-show was not reached). Last, the run at the simulated
today as the schedule would make it: reactivation calls for the recalls whose last call
went unanswered, and open tasks whose reason went cancelled with it. Rows are plain inserts
with their own ids (ADR 5): no audit events, no services.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Protocol

from django.db import transaction

from chairtime.care.choices import CancelReason, Outcome, TaskKind, TaskStatus
from chairtime.care.generation import (
    CONFIRMATION_LOOKAHEAD,
    Context,
    OpenTask,
    TaskSpec,
    assignment,
    candidate_specs,
    confirmation_key,
    vanished,
)
from chairtime.care.models import CareTask, TaskAttempt
from chairtime.care.rules import RuleValues, add_months, local_midnight, next_call_at
from chairtime.care.selectors import get_rule_values
from chairtime.care.services import ensure_rules
from chairtime.crm.models import Complaint
from chairtime.patients.choices import ConsentOrigin, ConsentPurpose, ContactChannel
from chairtime.patients.models import Consent
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
from chairtime.tenancy.models import Branch, Membership, Organization

K = TaskKind
O = Outcome  # noqa: E741 - short for the tables below
CARE_DAYS = 42  # history replayed before the simulated today
WORKED_PER_DAY = 0.8  # chance a due task is worked on a given day (the rest fall behind)
DAY_ANCHORED = (
    K.POST_TREATMENT_DAY1, K.POST_TREATMENT_DAY7, K.COMPLAINT_FOLLOW_UP, K.BIRTHDAY,
    K.NO_SHOW_FOLLOW_UP,
)  # fmt: skip
NOW_ANCHORED = (
    K.RECALL_DUE, K.REACTIVATION_6M, K.REACTIVATION_12M, K.TREATMENT_CONTINUATION,
    K.CONFIRMATION_CALL,
)  # fmt: skip
BACKLOG_DAYS = 21  # today's recall and absence calls fell due up to three weeks ago

# How one call goes, per kind of call (weights). Booking calls book more; aftercare and
# greetings are mostly a chat.
BASE = ((O.REACHED, 55), (O.NO_ANSWER, 30), (O.BOOKED, 6), (O.DECLINED, 5),
        (O.WRONG_NUMBER, 3), (O.DO_NOT_CONTACT, 1))  # fmt: skip
BOOKING = ((O.REACHED, 35), (O.NO_ANSWER, 30), (O.BOOKED, 22), (O.DECLINED, 9),
           (O.WRONG_NUMBER, 3), (O.DO_NOT_CONTACT, 1))  # fmt: skip
OUTCOMES: dict[str, tuple[tuple[str, int], ...]] = {
    K.RECALL_DUE: BOOKING, K.REACTIVATION_6M: BOOKING, K.REACTIVATION_12M: BOOKING,
    K.TREATMENT_CONTINUATION: BOOKING, K.NO_SHOW_FOLLOW_UP: BOOKING,
}  # fmt: skip
NOTES: dict[str, tuple[str, ...]] = {
    O.REACHED: ("Doing well, no pain.", "Will call back to book.", "Asked about the price.",
                "Slight swelling, advised ice and rest.", ""),
    O.NO_ANSWER: ("Voicemail.", "Phone switched off.", ""),
    O.BOOKED: ("Booked a visit.", "Booked with the same doctor.", ""),
    O.DECLINED: ("Not now, busy at work.", "Going to another clinic.", "Too expensive for now."),
    O.WRONG_NUMBER: ("Number belongs to someone else.",),
    O.DO_NOT_CONTACT: ("Asked us not to call again.",),
}  # fmt: skip


class _Config(Protocol):  # the fields of generator.SimulationConfig used here
    @property
    def seed(self) -> int: ...
    @property
    def as_of(self) -> date: ...


@dataclass
class CareResult:
    tasks: int = 0
    attempts: int = 0
    open_tasks: int = 0
    refusals: int = 0
    by_outcome: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


@dataclass
class _Call:
    at: datetime
    by: int | None
    outcome: str
    note: str


@dataclass
class _Task:
    spec: TaskSpec
    rule: RuleValues
    created_at: datetime
    status: str = TaskStatus.OPEN
    next_at: datetime | None = None
    calls: list[_Call] = field(default_factory=list)
    closed_at: datetime | None = None
    closed_by: int | None = None
    cancel_reason: str = ""


def simulate_care(
    config: _Config, organization: Organization, branches: Sequence[Branch],
    rng: random.Random | None = None,
) -> CareResult:  # fmt: skip
    """The care tasks of an organisation whose book, money and profiles are made."""
    started = time.perf_counter()
    rng = rng or random.Random(f"{config.seed}:care")
    ensure_rules(organization)
    rules = get_rule_values(organization.pk)
    staff = _staff(organization)
    tasks: list[_Task] = []
    for branch in branches:
        specs = _specs(branch, simulated_now(config, branch), rules)
        work = _Work(rng, branch, simulated_now(config, branch), rules, staff)
        tasks.extend(work.run(specs))
    result = CareResult()
    with transaction.atomic():
        _write(tasks, organization, result)
        for branch in branches:
            now = simulated_now(config, branch)
            result.open_tasks -= _settle(branch, now, rules)
            _write(_handed_over_now(branch, now, rules), organization, result)
    result.seconds = time.perf_counter() - started
    return result


def simulated_now(config: _Config, branch: Branch) -> datetime:
    """The start of as_of in the branch's zone, as the clinic computes "now"."""
    return datetime.combine(config.as_of, clock(0), tzinfo=branch.zone).astimezone(UTC)


def _handed_over_now(branch: Branch, now: datetime, rules: dict[str, RuleValues]) -> list[_Task]:
    """What the run at `now` makes of the worked history: reactivation calls for the recalls
    that lapsed (their last call went unanswered), open and not yet tried."""
    existing = set(
        CareTask.objects.filter(organization_id=branch.organization_id).values_list(
            "cause_key", flat=True
        )
    )
    return [
        _Task(spec, rules[spec.kind], now, next_at=spec.due_at)
        for spec in candidate_specs(Context.of(branch, now, rules))
        if spec.cause_key not in existing
    ]


def _settle(branch: Branch, now: datetime, rules: dict[str, RuleValues]) -> int:
    """Open tasks whose reason is gone by now (a booking since, a confirmation by message…)
    cancelled as the next run would, without audit events (history, ADR 5)."""
    open_tasks = [
        OpenTask(*row)
        for row in CareTask.objects.filter(branch=branch, status=TaskStatus.OPEN).values_list(
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
    reasons = vanished(Context.of(branch, now, rules), open_tasks)
    by_reason: dict[str, list[int]] = defaultdict(list)
    for pk, reason in reasons.items():
        by_reason[reason].append(pk)
    for reason, ids in by_reason.items():
        CareTask.objects.filter(pk__in=ids).update(
            status=TaskStatus.CANCELLED, cancel_reason=reason, closed_at=now, updated_at=now
        )
    return len(reasons)


def _staff(organization: Organization) -> dict[tuple[int | None, str], list[int]]:
    """Who works in which role, per branch (None: organisation-wide)."""
    found: dict[tuple[int | None, str], list[int]] = defaultdict(list)
    for user_id, branch_id, role in (
        Membership.objects.filter(organization=organization)
        .order_by("user_id")
        .values_list("user_id", "branch_id", "role")
    ):
        found[(branch_id, role)].append(user_id)
    return found


# --- which tasks ---------------------------------------------------------------------------
def _only(rules: dict[str, RuleValues], kinds: Sequence[str]) -> dict[str, RuleValues]:
    return {k: v if k in kinds else replace(v, is_enabled=False) for k, v in rules.items()}


def _specs(branch: Branch, now: datetime, rules: dict[str, RuleValues]) -> list[TaskSpec]:
    """The tasks the rules made over the replayed days and at `now`, one per cause key,
    with the time each was made."""
    found: dict[str, TaskSpec] = {}
    today = now.astimezone(branch.zone).date()
    daily = _only(rules, DAY_ANCHORED)
    for back in range(CARE_DAYS, -1, -1):
        moment = local_midnight(today - timedelta(days=back), branch.zone)
        for spec in candidate_specs(Context.of(branch, moment, daily)):
            found.setdefault(spec.cause_key, spec)
    for spec in candidate_specs(Context.of(branch, now, _only(rules, NOW_ANCHORED))):
        found.setdefault(spec.cause_key, _backdated(spec, rules, today, branch))
    return _no_shows_on_time(list(found.values()), rules, now)


def _no_shows_on_time(
    specs: list[TaskSpec], rules: dict[str, RuleValues], now: datetime
) -> list[TaskSpec]:
    """No-show follow-ups as the hourly run made them: due `offset` hours after the
    appointment was marked (the daily replay finds them only the next midnight)."""
    hours = timedelta(hours=rules[K.NO_SHOW_FOLLOW_UP].offset)
    missed = [s.appointment_id for s in specs if s.kind == K.NO_SHOW_FOLLOW_UP]
    marked = {
        pk: no_show_at or starts_at
        for pk, no_show_at, starts_at in Appointment.objects.filter(pk__in=missed).values_list(
            "pk", "no_show_at", "starts_at"
        )
    }
    return [
        replace(spec, due_at=min(marked[spec.appointment_id] + hours, now))
        if spec.kind == K.NO_SHOW_FOLLOW_UP and spec.appointment_id in marked
        else spec
        for spec in specs
    ]


def _backdated(
    spec: TaskSpec, rules: dict[str, RuleValues], today: date, branch: Branch
) -> TaskSpec:
    """Recall, absence and continuation calls the rules make today at the latest were due
    when their date came (up to three weeks back), so today's list has calls already tried."""
    natural: date | None = None
    if spec.kind == K.RECALL_DUE and spec.cause_on is not None:
        natural = spec.cause_on - timedelta(days=rules[K.RECALL_DUE].offset)
    elif spec.kind in (K.REACTIVATION_6M, K.REACTIVATION_12M) and spec.cause_on is not None:
        natural = add_months(spec.cause_on, rules[spec.kind].offset)
    elif spec.kind == K.TREATMENT_CONTINUATION and spec.cause_on is not None:
        natural = spec.cause_on + timedelta(days=rules[spec.kind].offset)
    if natural is None:
        return spec
    day = min(today, max(natural, today - timedelta(days=BACKLOG_DAYS)))
    return replace(spec, due_at=local_midnight(day, branch.zone))


# --- how they were worked --------------------------------------------------------------------
class _Work:
    def __init__(
        self, rng: random.Random, branch: Branch, now: datetime, rules: dict[str, RuleValues],
        staff: dict[tuple[int | None, str], list[int]],
    ) -> None:  # fmt: skip
        self.rng, self.branch, self.now, self.rules, self.staff = rng, branch, now, rules, staff
        self.refused: dict[int, datetime] = {}  # patient -> when they asked not to be called
        self.resolved: dict[int, datetime] = {}  # complaint -> when it was resolved

    def run(self, specs: list[TaskSpec]) -> list[_Task]:
        tasks = [self._task(spec) for spec in sorted(specs, key=lambda s: (s.due_at, s.cause_key))]
        tasks.extend(self._past_confirmations())
        tasks.sort(key=lambda t: (t.spec.due_at, t.spec.cause_key))
        self.resolved = {
            pk: at
            for pk, at in Complaint.objects.filter(
                pk__in=[t.spec.complaint_id for t in tasks if t.spec.complaint_id],
                resolved_at__isnull=False,
            ).values_list("pk", "resolved_at")
            if at is not None
        }
        made: list[_Task] = []
        for task in tasks:
            refused = self.refused.get(task.spec.patient_id)
            if refused is not None and task.created_at >= refused:
                continue  # the rules make no call to a patient who refused calls
            if task.status == TaskStatus.OPEN and not task.calls:
                self._work(task)
            made.append(task)
        self._cancel_after_refusals(made)
        self._expire(made)
        return made

    def _task(self, spec: TaskSpec) -> _Task:
        """A task as the hourly run made it: a day before a confirmation call, a few hours
        before the others fell due (or before today, for those due later)."""
        if spec.kind == K.CONFIRMATION_CALL:
            created = spec.due_at - CONFIRMATION_LOOKAHEAD
        elif spec.kind == K.NO_SHOW_FOLLOW_UP:  # made within the hour of the no-show mark
            created = spec.due_at - timedelta(hours=self.rules[spec.kind].offset)
        else:
            created = min(spec.due_at, self.now) - timedelta(hours=self.rng.randint(0, 6))
        return _Task(spec, self.rules[spec.kind], min(created, self.now), next_at=spec.due_at)

    def _caller(self, task: _Task) -> int | None:
        person, role = assignment(task.rule, task.spec)
        if person is not None:
            return person
        people = self.staff.get((self.branch.pk, role)) or self.staff.get((None, role)) or []
        return self.rng.choice(people) if people else None

    def _work(self, task: _Task) -> None:
        """Calls from the due time until a closing outcome, the last attempt, or today."""
        zone, rng = self.branch.zone, self.rng
        at = max(task.spec.due_at, task.created_at)
        end, _reason = self._end(task)
        stop = self.now if end is None else min(end, self.now)
        weights = OUTCOMES.get(task.spec.kind, BASE)
        while task.status == TaskStatus.OPEN:
            day = at.astimezone(zone).date()
            office = datetime.combine(day, clock(9), tzinfo=zone)
            when = max(at, office) + timedelta(minutes=rng.randint(0, 9 * 60))
            if when >= stop:
                task.next_at = at
                return
            if rng.random() >= WORKED_PER_DAY:
                at = local_midnight(day + timedelta(days=1), zone)
                continue
            outcome = rng.choices([o for o, _ in weights], weights=[w for _, w in weights])[0]
            self._call(task, when, outcome)
            if task.status == TaskStatus.OPEN:
                at = next_call_at(when, task.rule.cool_off_days, zone)
                if at <= when:
                    at = when + timedelta(hours=rng.randint(1, 3))
        task.next_at = task.next_at or task.spec.due_at

    def _call(self, task: _Task, when: datetime, outcome: str) -> None:
        by = self._caller(task)
        task.calls.append(_Call(when, by, outcome, self.rng.choice(NOTES[outcome])))
        if outcome != O.NO_ANSWER or len(task.calls) >= task.rule.max_attempts:
            task.status, task.closed_at, task.closed_by = TaskStatus.DONE, when, by
        if outcome == O.DO_NOT_CONTACT:
            self.refused.setdefault(task.spec.patient_id, when)

    def _cancel_after_refusals(self, tasks: list[_Task]) -> None:
        """A refusal cancels the patient's other calls still open at that moment."""
        for task in tasks:
            refused = self.refused.get(task.spec.patient_id)
            if refused is None or (task.closed_at is not None and task.closed_at <= refused):
                continue
            if any(c.outcome == O.DO_NOT_CONTACT and c.at == refused for c in task.calls):
                continue  # the call that recorded it
            task.calls = [c for c in task.calls if c.at < refused]
            task.status, task.closed_at, task.closed_by = TaskStatus.CANCELLED, refused, None
            task.cancel_reason = CancelReason.DO_NOT_CONTACT

    def _end(self, task: _Task) -> tuple[datetime | None, str]:
        """When a task's reason goes (the birthday passed, the complaint was resolved)."""
        spec = task.spec
        if spec.kind == K.BIRTHDAY and spec.cause_on is not None:
            end = local_midnight(spec.cause_on + timedelta(days=1), self.branch.zone)
            return end, CancelReason.DAY_PASSED
        if spec.complaint_id in self.resolved:
            return self.resolved[spec.complaint_id], CancelReason.COMPLAINT_RESOLVED
        return None, ""

    def _expire(self, tasks: list[_Task]) -> None:
        """Tasks whose reason went while a call was still to make: cancelled then."""
        for task in tasks:
            end, reason = self._end(task)
            if end is None or end > self.now:
                continue
            if task.closed_at is not None and task.closed_at <= end:
                continue
            task.calls = [c for c in task.calls if c.at < end]
            task.status, task.closed_at, task.closed_by = TaskStatus.CANCELLED, end, None
            task.cancel_reason = reason

    def _past_confirmations(self) -> list[_Task]:
        """Confirmation calls of the replayed days, from what the book says happened."""
        rule = self.rules[K.CONFIRMATION_CALL]
        if not rule.is_enabled:
            return []
        hours = timedelta(hours=rule.offset)
        first = self.now - timedelta(days=CARE_DAYS)
        visits = Appointment.objects.filter(
            branch=self.branch, starts_at__gte=first, starts_at__lt=self.now
        )
        if rule.categories:
            visits = visits.filter(procedure__category__in=list(rule.categories))
        tasks = []
        for pk, patient_id, doctor_id, starts_at, status, confirmed_at, cancelled_at in (
            visits.order_by("starts_at", "pk").values_list(
                "pk", "patient_id", "doctor_id", "starts_at", "status", "confirmed_at",
                "cancelled_at",
            )
        ):  # fmt: skip
            made_at = starts_at - hours - CONFIRMATION_LOOKAHEAD
            if (confirmed_at is not None and confirmed_at <= made_at) or (
                cancelled_at is not None and cancelled_at <= made_at
            ):
                continue
            spec = TaskSpec(
                K.CONFIRMATION_CALL, patient_id, self.branch.pk, starts_at - hours,
                confirmation_key(pk, starts_at),
                cause_on=starts_at.astimezone(self.branch.zone).date(), appointment_id=pk,
                doctor_id=doctor_id,
            )  # fmt: skip
            task = _Task(spec, rule, made_at, next_at=spec.due_at)
            self._confirmation(task, status, confirmed_at, cancelled_at)
            tasks.append(task)
        return tasks

    def _confirmation(
        self, task: _Task, status: str, confirmed_at: datetime | None,
        cancelled_at: datetime | None,
    ) -> None:  # fmt: skip
        due = task.spec.due_at
        for moment, reason in ((confirmed_at, CancelReason.CONFIRMED),
                               (cancelled_at, CancelReason.APPOINTMENT_CANCELLED)):  # fmt: skip
            if moment is not None and moment < due:
                task.status, task.closed_at, task.cancel_reason = (
                    TaskStatus.CANCELLED, moment, reason,
                )  # fmt: skip
                return
        when = due + timedelta(minutes=self.rng.randint(0, 90))
        if status == AppointmentStatus.NO_SHOW:
            for attempt in range(task.rule.max_attempts):
                self._call(task, when + timedelta(minutes=40 * attempt), O.NO_ANSWER)
        elif status == AppointmentStatus.CANCELLED:
            self._call(task, when, O.DECLINED)
        else:
            roll = self.rng.random()
            outcome = O.REACHED if roll < 0.8 else O.NO_ANSWER
            self._call(task, when, outcome)
            if task.status == TaskStatus.OPEN:  # the patient came anyway
                task.status, task.closed_at = (
                    TaskStatus.CANCELLED,
                    task.spec.due_at + timedelta(hours=4),
                )
                task.cancel_reason = CancelReason.APPOINTMENT_STARTED


# --- rows ----------------------------------------------------------------------------------
TASK_COLUMNS = (
    "id", "organization", "branch", "patient", "kind", "status", "due_at", "next_attempt_at",
    "assigned_to", "assigned_role", "attempts", "max_attempts", "cool_off_days", "outcome",
    "note", "closed_at", "closed_by", "cancel_reason", "cause_key", "cause_on", "appointment",
    "plan", "complaint", "created_at", "updated_at",
)  # fmt: skip
ATTEMPT_COLUMNS = ("id", "task", "number", "at", "by", "outcome", "note")
CONSENT_COLUMNS = (
    "id", "patient", "channel", "purpose", "is_granted", "origin", "recorded_at", "recorded_by",
    "note",
)  # fmt: skip


def _write(tasks: list[_Task], organization: Organization, result: CareResult) -> None:
    task_id, attempt_id, consent_id = next_id(CareTask), next_id(TaskAttempt), next_id(Consent)
    marketing = _marketing_granted(
        {t.spec.patient_id for t in tasks if any(c.outcome == O.DO_NOT_CONTACT for c in t.calls)}
    )
    task_rows, attempt_rows, consent_rows = [], [], []
    for task in tasks:
        spec, calls = task.spec, task.calls
        person, role = assignment(task.rule, spec)
        last = calls[-1] if calls else None
        updated = task.closed_at or (last.at if last else task.created_at)
        next_at = task.next_at or spec.due_at
        task_rows.append((
            task_id, organization.pk, spec.branch_id, spec.patient_id, spec.kind, task.status,
            spec.due_at, next_at, person, role, len(calls), task.rule.max_attempts,
            task.rule.cool_off_days, last.outcome if last else "",
            last.note if last else "", task.closed_at, task.closed_by, task.cancel_reason,
            spec.cause_key, spec.cause_on, spec.appointment_id, spec.plan_id, spec.complaint_id,
            task.created_at, updated,
        ))  # fmt: skip
        for number, call in enumerate(calls, 1):
            attempt_rows.append(
                (attempt_id, task_id, number, call.at, call.by, call.outcome, call.note)
            )
            attempt_id += 1
            result.by_outcome[call.outcome] += 1
            if call.outcome == O.DO_NOT_CONTACT:
                for channel, purpose in _refused(spec.patient_id, marketing):
                    consent_rows.append((
                        consent_id, spec.patient_id, channel, purpose, False,
                        ConsentOrigin.VERBAL, call.at, call.by, f"care task {task_id}",
                    ))  # fmt: skip
                    consent_id += 1
                result.refusals += 1
        result.open_tasks += task.status == TaskStatus.OPEN
        task_id += 1
    insert_rows(CareTask, TASK_COLUMNS, task_rows)
    insert_rows(TaskAttempt, ATTEMPT_COLUMNS, attempt_rows)
    insert_rows(Consent, CONSENT_COLUMNS, consent_rows)
    reset_sequences(CareTask, TaskAttempt, Consent)
    result.tasks += len(task_rows)
    result.attempts += len(attempt_rows)


def _marketing_granted(patient_ids: set[int]) -> dict[int, set[str]]:
    """The channels each patient's newest marketing consent says yes on."""
    newest: dict[tuple[int, str], bool] = {}
    for patient_id, channel, is_granted in (
        Consent.objects.filter(patient_id__in=list(patient_ids), purpose=ConsentPurpose.MARKETING)
        .order_by("-recorded_at", "-id")
        .values_list("patient_id", "channel", "is_granted")
    ):
        newest.setdefault((patient_id, channel), is_granted)
    granted: dict[int, set[str]] = defaultdict(set)
    for (patient_id, channel), is_granted in newest.items():
        if is_granted:
            granted[patient_id].add(channel)
    return granted


def _refused(patient_id: int, marketing: dict[int, set[str]]) -> list[tuple[str, str]]:
    """The refusals "do not contact" records (as care.services does): service on every
    channel, marketing where the patient had said yes."""
    service, marketing_purpose = str(ConsentPurpose.SERVICE), str(ConsentPurpose.MARKETING)
    return [(channel, service) for channel in ContactChannel.values] + [
        (channel, marketing_purpose) for channel in sorted(marketing.get(patient_id, ()))
    ]
