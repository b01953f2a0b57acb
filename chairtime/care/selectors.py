"""Reads of care: task queues and counts, a task's calls, the rules, and the recall list.

Every list is about one branch (the tenant); times are aware UTC and the branch's zone
draws the day's edges ("due now", "overdue": before the start of the branch's today).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Subquery

from chairtime.accounts.models import User
from chairtime.care.choices import TaskKind, TaskStatus
from chairtime.care.models import CareRule, CareTask, TaskAttempt
from chairtime.care.rules import (
    DEFAULT_RULES,
    RuleValues,
    add_months,
    is_recall_lapsed,
    local_day,
    local_midnight,
    relevant_recall_due,
)
from chairtime.clinical.models import PerformedProcedure, Procedure
from chairtime.core.errors import NotFound
from chairtime.crm.models import PatientProfile
from chairtime.patients.choices import ConsentPurpose, ContactChannel, PatientStatus
from chairtime.patients.models import Consent, Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import BranchAccess, get_branch_access, list_user_branches
from chairtime.tenancy.models import Branch, Membership, Organization
from chairtime.tenancy.roles import Capability, Role

UPCOMING = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)
# Records nobody calls: merged into another record, or the patient has died.
GONE = (PatientStatus.MERGED, PatientStatus.DECEASED)


# --- who may be called ----------------------------------------------------------------------
def future_booking(now: datetime, patient_ref: str = "pk") -> Exists:
    """True for a patient with a booked or confirmed appointment from `now` on, anywhere in
    the organisation (read from the book itself, not the profile, which can lag)."""
    return Exists(
        Appointment.objects.filter(
            patient_id=OuterRef(patient_ref), status__in=UPCOMING, starts_at__gte=now
        )
    )


def _newest_call_consent(patient_ref: str) -> Subquery:
    return Subquery(
        Consent.objects.filter(
            patient_id=OuterRef(patient_ref),
            channel=ContactChannel.PHONE,
            purpose=ConsentPurpose.SERVICE,
        )
        .order_by("-recorded_at", "-id")
        .values("is_granted")[:1]
    )


def reachable(queryset: QuerySet[Any], *, patient_ref: str, patient_path: str) -> QuerySet[Any]:
    """The rows of patients the clinic may call: not merged or dead, and whose newest
    phone/service consent is not a refusal (no row: service calls are allowed).
    `patient_ref` names the patient's id in the queryset ("patient_id", "pk"),
    `patient_path` the way to the patient ("patient__", "" for patients themselves)."""
    found: QuerySet[Any] = (
        queryset.exclude(**{f"{patient_path}status__in": GONE})
        .annotate(call_consent=_newest_call_consent(patient_ref))
        .filter(Q(call_consent__isnull=True) | Q(call_consent=True))
    )
    return found


def refuses_calls(patient: Patient) -> bool:
    """Whether the patient's newest phone/service consent is a refusal."""
    newest = (
        Consent.objects.filter(
            patient=patient, channel=ContactChannel.PHONE, purpose=ConsentPurpose.SERVICE
        )
        .order_by("-recorded_at", "-id")
        .values_list("is_granted", flat=True)
        .first()
    )
    return newest is False


def patients_refusing_calls(patient_ids: Iterable[int]) -> set[int]:
    wanted = list(set(patient_ids))
    return set(
        Patient.objects.filter(pk__in=wanted)
        .annotate(call_consent=_newest_call_consent("pk"))
        .filter(call_consent=False)
        .values_list("pk", flat=True)
    )


def patients_booked_ahead(patient_ids: Iterable[int], now: datetime) -> set[int]:
    return set(
        Appointment.objects.filter(
            patient_id__in=list(set(patient_ids)), status__in=UPCOMING, starts_at__gte=now
        ).values_list("patient_id", flat=True)
    )


# --- rules ------------------------------------------------------------------------------------
def rule_values(rule: CareRule) -> RuleValues:
    return RuleValues(
        is_enabled=rule.is_enabled, offset=rule.offset, categories=tuple(rule.categories),
        assign_to=rule.assign_to, assign_role=rule.assign_role, max_attempts=rule.max_attempts,
        cool_off_days=rule.cool_off_days, hand_over_after_days=rule.hand_over_after_days,
    )  # fmt: skip


def get_rule_values(organization: Organization | int) -> dict[str, RuleValues]:
    """Every kind's settings: the organisation's rows, the defaults where it has none."""
    organization_id = organization if isinstance(organization, int) else organization.pk
    values = dict(DEFAULT_RULES)
    for rule in CareRule.objects.filter(organization_id=organization_id):
        values[rule.kind] = rule_values(rule)
    return values


# --- task queues ------------------------------------------------------------------------------
def today_of(branch: Branch, now: datetime) -> tuple[date, datetime]:
    """The branch's local today and the instant it started."""
    today = local_day(now, branch.zone)
    return today, local_midnight(today, branch.zone)


def _tasks(branch: Branch) -> QuerySet[CareTask]:
    return CareTask.objects.filter(branch=branch).select_related("patient", "assigned_to")


def mine(access: BranchAccess) -> Q:
    """Tasks given to the user, or to a role they hold in the branch and to nobody who can
    work it: nobody by name, or a person who has left (inactive, or no longer a member of
    the branch), so a task never waits in a queue no one sees."""
    branch = access.branch
    present = Membership.objects.filter(
        Q(branch_id=branch.pk) | Q(branch__isnull=True),
        user_id=OuterRef("assigned_to_id"), organization_id=branch.organization_id,
    )  # fmt: skip
    nobody = Q(assigned_to__isnull=True) | Q(assigned_to__is_active=False) | ~Exists(present)
    return Q(assigned_to_id=access.user.pk) | (
        nobody & Q(assigned_role__in=[str(role) for role in access.roles])
    )


def list_my_tasks(*, access: BranchAccess, now: datetime) -> QuerySet[CareTask]:
    """ "My tasks today": open tasks of the branch for the user (by name or role) that are
    due now or overdue, the longest waiting first."""
    return (
        _tasks(access.branch)
        .filter(mine(access), status=TaskStatus.OPEN, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
    )


@dataclass(frozen=True)
class TaskFilters:
    kind: str = ""
    status: str = ""
    assignee: str = ""  # "me", "nobody", "role:<role>" or a user id
    is_overdue: bool = False
    patient_id: int | None = None


def list_tasks(*, access: BranchAccess, filters: TaskFilters, now: datetime) -> QuerySet[CareTask]:
    """The branch's tasks, filtered; open ones first by when to call, then the closed."""
    tasks = _tasks(access.branch)
    if filters.kind:
        tasks = tasks.filter(kind=filters.kind)
    if filters.status:
        tasks = tasks.filter(status=filters.status)
    if filters.patient_id is not None:
        tasks = tasks.filter(patient_id=filters.patient_id)
    assignee = filters.assignee
    if assignee == "me":
        tasks = tasks.filter(mine(access))
    elif assignee == "nobody":
        tasks = tasks.filter(assigned_to__isnull=True)
    elif assignee.startswith("role:"):
        tasks = tasks.filter(assigned_to__isnull=True, assigned_role=assignee[5:])
    elif assignee.isdigit():
        tasks = tasks.filter(assigned_to_id=int(assignee))
    if filters.is_overdue:
        _today, start = today_of(access.branch, now)
        tasks = tasks.filter(status=TaskStatus.OPEN, next_attempt_at__lt=start)
    return tasks.order_by("-status", "next_attempt_at", "pk")  # "open" sorts after "done"


@dataclass(frozen=True)
class OverdueRow:
    label: str
    count: int
    user_id: int | None = None
    role: str = ""
    branch_id: int | None = None


def count_overdue_by_person(*, branch: Branch, now: datetime) -> list[OverdueRow]:
    """Overdue open tasks of the branch per person they are given to (a role counts as one
    row when nobody by name has them), most first."""
    _today, start = today_of(branch, now)
    rows = (
        CareTask.objects.filter(branch=branch, status=TaskStatus.OPEN, next_attempt_at__lt=start)
        .order_by()
        .values_list("assigned_to_id", "assigned_role")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[int | None, str], int] = defaultdict(int)
    for user_id, role, n in rows:
        counts[(user_id, "" if user_id else role)] += n
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=[k[0] for k in counts if k[0]])}
    out = [
        OverdueRow(
            label=users.get(user_id, "") if user_id else str(Role(role).label) if role else "—",
            count=n, user_id=user_id, role=role,
        )
        for (user_id, role), n in counts.items()
    ]  # fmt: skip
    return sorted(out, key=lambda row: (-row.count, row.label))


def count_overdue_by_branch(*, branches: Sequence[Branch], now: datetime) -> list[OverdueRow]:
    """Overdue open tasks per branch (each branch's own today), in the branches' order."""
    out = []
    for branch in branches:
        _today, start = today_of(branch, now)
        n = CareTask.objects.filter(
            branch=branch, status=TaskStatus.OPEN, next_attempt_at__lt=start
        ).count()
        out.append(OverdueRow(label=branch.name, count=n, branch_id=branch.pk))
    return out


def list_task_attempts(task: CareTask) -> QuerySet[TaskAttempt]:
    return TaskAttempt.objects.filter(task=task).select_related("by").order_by("number")


def list_other_open_tasks(task: CareTask) -> QuerySet[CareTask]:
    """The patient's other open tasks in the branch (one call can answer several)."""
    return (
        CareTask.objects.filter(branch_id=task.branch_id, patient_id=task.patient_id)
        .filter(status=TaskStatus.OPEN)
        .exclude(pk=task.pk)
        .order_by("next_attempt_at")
    )


def list_care_branches(access: BranchAccess) -> list[Branch]:
    """The branches the user sees care work in (care.view), the active one first."""
    found = [access.branch]
    for branch in list_user_branches(access.user):
        if branch.pk == access.branch.pk:
            continue
        try:
            if get_branch_access(access.user, branch.pk).can(Capability.CARE_VIEW):
                found.append(branch)
        except NotFound:  # pragma: no cover - the branches listed are the user's
            continue
    return found


def list_assignees(branch: Branch) -> QuerySet[User]:
    """People who can be given tasks in the branch: its staff and the organisation-wide."""
    return (
        User.objects.filter(is_active=True, memberships__organization_id=branch.organization_id)
        .filter(Q(memberships__branch=branch) | Q(memberships__branch__isnull=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# --- recall -----------------------------------------------------------------------------------
@dataclass
class RecallState:
    """A patient's one recall date and what the clinic did about it."""

    patient_id: int
    due_on: date
    procedure_id: int  # the recall procedure to book (the latest of the deciding interval)
    last_visit_on: date | None = None
    preferred_doctor_id: int | None = None
    last_doctor_id: int | None = None
    task_id: int | None = None  # the recall task of this due date
    attempts: int = 0
    max_attempts: int = 0
    task_status: str = ""
    outcome: str = ""
    is_lapsed: bool = False

    @property
    def doctor_id(self) -> int | None:
        return self.preferred_doctor_id or self.last_doctor_id


def recall_dates(
    profiles: QuerySet[PatientProfile], *, organization_id: int, zone: Any
) -> dict[int, tuple[date, int]]:
    """For the profiles' patients: (recall date, procedure to book), by `relevant_recall_due`
    over their performed procedures with a recall interval. Two queries, whatever the size."""
    intervals: dict[int, int] = {
        pk: months
        for pk, months in Procedure.objects.filter(
            organization_id=organization_id, recall_interval_months__gt=0
        ).values_list("pk", "recall_interval_months")
        if months
    }
    if not intervals:
        return {}
    latest: dict[int, dict[int, tuple[date, int]]] = defaultdict(dict)  # pid -> months -> …
    for patient_id, procedure_id, last in (
        PerformedProcedure.objects.filter(
            patient_id__in=profiles.values("patient_id"), procedure_id__in=list(intervals)
        )
        .order_by()
        .values_list("patient_id", "procedure_id")
        .annotate(last=Max("performed_at"))
    ):
        months = intervals[procedure_id]
        day = local_day(last, zone)
        held = latest[patient_id].get(months)
        if held is None or (day, procedure_id) > held:
            latest[patient_id][months] = (day, procedure_id)
    out: dict[int, tuple[date, int]] = {}
    for patient_id, groups in latest.items():
        due = relevant_recall_due((months, day) for months, (day, _p) in groups.items())
        if due is None:
            continue
        deciding = [
            (day, procedure_id)
            for months, (day, procedure_id) in groups.items()
            if add_months(day, months) == due
        ]
        out[patient_id] = (due, max(deciding)[1])
    return out


def recall_states(
    *,
    branch: Branch,
    now: datetime,
    due_to: date | None = None,
    patient_ids: Iterable[int] | None = None,
    doctor_id: int | None = None,
    hand_over_after_days: int | None = None,
) -> list[RecallState]:
    """The recall of the branch's patients (home branch) the clinic may call and who have no
    future booking, with their recall task's attempts; lapsed ones flagged.

    The profile's `recall_due_on` is the earliest of every interval's due date, so it is
    never later than the relevant date: filtering it by `due_to` keeps every candidate."""
    today, _start = today_of(branch, now)
    profiles = PatientProfile.objects.filter(
        home_branch=branch, organization_id=branch.organization_id, recall_due_on__isnull=False
    )
    if due_to is not None:
        profiles = profiles.filter(recall_due_on__lte=due_to)
    if patient_ids is not None:
        profiles = profiles.filter(patient_id__in=list(patient_ids))
    profiles = reachable(profiles, patient_ref="patient_id", patient_path="patient__")
    profiles = profiles.exclude(future_booking(now, "patient_id"))
    last_doctor = Subquery(
        Appointment.objects.filter(
            patient_id=OuterRef("patient_id"), status=AppointmentStatus.COMPLETED
        )
        .order_by("-starts_at")
        .values("doctor_id")[:1]
    )
    profiles = profiles.annotate(last_doctor_id=last_doctor)
    if doctor_id is not None:
        profiles = profiles.filter(Q(preferred_doctor_id=doctor_id) | Q(last_doctor_id=doctor_id))
    dates = recall_dates(profiles, organization_id=branch.organization_id, zone=branch.zone)
    states: list[RecallState] = []
    for pid, last_visit, preferred, last_doc in profiles.values_list(
        "patient_id", "last_visit_on", "preferred_doctor_id", "last_doctor_id"
    ):
        found = dates.get(pid)
        if found is None or (due_to is not None and found[0] > due_to):
            continue
        states.append(RecallState(pid, found[0], found[1], last_visit, preferred, last_doc))
    _attach_recall_tasks(states, branch, today, hand_over_after_days)
    return states


def _attach_recall_tasks(
    states: list[RecallState], branch: Branch, today: date, hand_over_after_days: int | None
) -> None:
    if not states:
        return
    if hand_over_after_days is None:
        hand_over_after_days = get_rule_values(branch.organization_id)[
            TaskKind.RECALL_DUE
        ].hand_over_after_days
    by_key = {(s.patient_id, s.due_on): s for s in states}
    tasks = CareTask.objects.filter(
        organization_id=branch.organization_id,
        kind=TaskKind.RECALL_DUE,
        patient_id__in=[s.patient_id for s in states],
    ).values_list("pk", "patient_id", "cause_on", "attempts", "max_attempts", "status", "outcome")
    for pk, patient_id, cause_on, attempts, max_attempts, status, outcome in tasks:
        state = by_key.get((patient_id, cause_on)) if cause_on is not None else None
        if state is None:
            continue
        state.task_id, state.attempts, state.max_attempts = pk, attempts, max_attempts
        state.task_status, state.outcome = status, outcome
        state.is_lapsed = is_recall_lapsed(
            due_on=state.due_on, today=today, hand_over_after_days=hand_over_after_days,
            attempts=attempts, max_attempts=max_attempts,
        )  # fmt: skip


@dataclass(frozen=True)
class RecallFilters:
    due_from: date | None = None
    due_to: date | None = None
    doctor_id: int | None = None
    attempts_min: int | None = None
    attempts_max: int | None = None


@dataclass
class RecallRow:
    state: RecallState
    patient: Patient
    procedure: Procedure
    doctor: User | None
    is_overdue: bool


@dataclass
class RecallList:
    rows: list[RecallRow]
    count: int
    overdue: int
    page_states: list[RecallState] = field(default_factory=list)


def list_recall(
    *, branch: Branch, filters: RecallFilters, now: datetime, offset: int = 0, limit: int = 50
) -> RecallList:
    """The recall list: one row per patient with their recall date (the earliest relevant),
    patients with a future booking or a lapsed recall left out, earliest due first."""
    today, _start = today_of(branch, now)
    states = [
        s
        for s in recall_states(
            branch=branch, now=now, due_to=filters.due_to, doctor_id=filters.doctor_id
        )
        if not s.is_lapsed
        and (filters.due_from is None or s.due_on >= filters.due_from)
        and (filters.attempts_min is None or s.attempts >= filters.attempts_min)
        and (filters.attempts_max is None or s.attempts <= filters.attempts_max)
    ]
    patients = {
        p.pk: p
        for p in Patient.objects.filter(pk__in=[s.patient_id for s in states]).only(
            "pk", "display_name", "number", "home_branch_id", "organization_id"
        )
    }
    states.sort(key=lambda s: (s.due_on, patients[s.patient_id].display_name, s.patient_id))
    page = states[offset : offset + limit]
    procedures = Procedure.objects.in_bulk({s.procedure_id for s in page})
    doctors = User.objects.in_bulk({s.doctor_id for s in page if s.doctor_id})
    rows = [
        RecallRow(
            state=s, patient=patients[s.patient_id], procedure=procedures[s.procedure_id],
            doctor=doctors.get(s.doctor_id) if s.doctor_id else None, is_overdue=s.due_on < today,
        )
        for s in page
    ]  # fmt: skip
    overdue = sum(1 for s in states if s.due_on < today)
    return RecallList(rows=rows, count=len(states), overdue=overdue, page_states=page)


def recall_due_window(today: date, days: int = 30) -> tuple[date | None, date]:
    """The recall list's default range: everything due up to `days` from today."""
    return None, today + timedelta(days=days)
