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

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from chairtime.accounts.models import User
from chairtime.care.choices import TaskKind, TaskStatus
from chairtime.care.models import CareRule, CareTask, TaskAttempt
from chairtime.care.rules import (
    DEFAULT_RULES,
    RuleValues,
    add_months,
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


def no_show_follow_ups(appointment_ids: Iterable[int]) -> dict[int, CareTask]:
    """The follow-up task of each no-show appointment (open or closed), by appointment id,
    for the front desk's no-show report; appointments without one are left out."""
    tasks = CareTask.objects.filter(
        kind=TaskKind.NO_SHOW_FOLLOW_UP, appointment_id__in=list(set(appointment_ids))
    ).select_related("patient", "assigned_to")
    return {task.appointment_id: task for task in tasks.order_by("pk") if task.appointment_id}


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


def _lapsed(today: date, hand_over_after_days: int) -> Q:
    """A recall handed over to reactivation: more than `hand_over_after_days` past due with
    every attempt of its recall task used (the SQL form of `rules.is_recall_lapsed`)."""
    return Q(
        task_max__isnull=False,
        recall_due_on__lt=today - timedelta(days=hand_over_after_days),
        task_attempts__gte=F("task_max"),
    )


def _recall_profiles(
    *, branch: Branch, now: datetime, hand_over_after_days: int | None,
    due_from: date | None = None, due_to: date | None = None,
    patient_ids: Iterable[int] | None = None, doctor_id: int | None = None,
) -> QuerySet[Any]:  # fmt: skip
    """The recall of the branch's patients (home branch) as one query: the profile's
    `recall_due_on` (the CRM computes it with `rules.relevant_recall_due`, the one recall
    rule), patients the clinic may call with no future booking, their last doctor, the
    recall task of that date (attempts, status) and whether the recall lapsed. Filters,
    counts and pages all run in the database."""
    today, _start = today_of(branch, now)
    if hand_over_after_days is None:
        rules = get_rule_values(branch.organization_id)
        hand_over_after_days = rules[TaskKind.RECALL_DUE].hand_over_after_days
    profiles: QuerySet[Any] = PatientProfile.objects.filter(
        home_branch=branch, organization_id=branch.organization_id, recall_due_on__isnull=False
    )
    if due_from is not None:
        profiles = profiles.filter(recall_due_on__gte=due_from)
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
    # The recall task of this date: the cause key names patient and date, so at most one.
    task = CareTask.objects.filter(
        organization_id=branch.organization_id, kind=TaskKind.RECALL_DUE,
        patient_id=OuterRef("patient_id"), cause_on=OuterRef("recall_due_on"),
    )  # fmt: skip
    profiles = profiles.annotate(
        task_id=Subquery(task.values("pk")[:1]),
        task_attempts=Coalesce(Subquery(task.values("attempts")[:1]), Value(0)),
        task_max=Subquery(task.values("max_attempts")[:1]),
        task_status=Subquery(task.values("status")[:1]),
        task_outcome=Subquery(task.values("outcome")[:1]),
    )
    lapsed = Case(
        When(_lapsed(today, hand_over_after_days), then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
    annotated: QuerySet[Any] = profiles.annotate(is_lapsed=lapsed)
    return annotated


RECALL_COLUMNS = (
    "patient_id", "recall_due_on", "last_visit_on", "preferred_doctor_id", "last_doctor_id",
    "task_id", "task_attempts", "task_max", "task_status", "task_outcome", "is_lapsed",
)  # fmt: skip


def _state(row: tuple[Any, ...]) -> RecallState:
    (patient_id, due_on, last_visit, preferred, last_doctor, task_id, attempts, max_attempts,
     status, outcome, is_lapsed) = row  # fmt: skip
    return RecallState(
        patient_id, due_on, 0, last_visit, preferred, last_doctor, task_id, attempts,
        max_attempts or 0, status or "", outcome or "", bool(is_lapsed),
    )  # fmt: skip


def recall_states(
    *,
    branch: Branch,
    now: datetime,
    due_to: date | None = None,
    patient_ids: Iterable[int] | None = None,
    doctor_id: int | None = None,
    hand_over_after_days: int | None = None,
    with_procedures: bool = False,
) -> list[RecallState]:
    """The recall of the branch's patients (home branch) the clinic may call and who have no
    future booking, with their recall task's attempts; lapsed ones flagged. The procedure
    to book is looked up only when asked (`with_procedures`)."""
    profiles = _recall_profiles(
        branch=branch, now=now, hand_over_after_days=hand_over_after_days, due_to=due_to,
        patient_ids=patient_ids, doctor_id=doctor_id,
    )  # fmt: skip
    states = [_state(row) for row in profiles.order_by("patient_id").values_list(*RECALL_COLUMNS)]
    if with_procedures:
        _attach_procedures(states, branch)
    return states


def _attach_procedures(states: list[RecallState], branch: Branch) -> None:
    """The recall procedure to book for each state: the latest procedure of the interval
    that decided the date (two queries for the lot)."""
    if not states:
        return
    profiles = PatientProfile.objects.filter(patient_id__in=[s.patient_id for s in states])
    dates = recall_dates(profiles, organization_id=branch.organization_id, zone=branch.zone)
    for state in states:
        found = dates.get(state.patient_id)
        state.procedure_id = found[1] if found is not None else 0


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
    patients with a future booking or a lapsed recall left out, earliest due first.

    Filtered, counted and paged in the database (one count query, one page query), then
    the page's patients, procedures and doctors by id."""
    today, _start = today_of(branch, now)
    found = _recall_profiles(
        branch=branch, now=now, hand_over_after_days=None, due_from=filters.due_from,
        due_to=filters.due_to, doctor_id=filters.doctor_id,
    ).filter(is_lapsed=False)  # fmt: skip
    if filters.attempts_min is not None:
        found = found.filter(task_attempts__gte=filters.attempts_min)
    if filters.attempts_max is not None:
        found = found.filter(task_attempts__lte=filters.attempts_max)
    totals = found.aggregate(
        count=Count("pk"), overdue=Count("pk", filter=Q(recall_due_on__lt=today))
    )
    ordered = found.order_by("recall_due_on", "patient__display_name", "patient_id")
    page = [_state(row) for row in ordered.values_list(*RECALL_COLUMNS)[offset : offset + limit]]
    _attach_procedures(page, branch)
    page = [s for s in page if s.procedure_id]  # no recall procedure left: nothing to book
    patients = Patient.objects.only(
        "pk", "display_name", "number", "home_branch_id", "organization_id"
    ).in_bulk([s.patient_id for s in page])
    procedures = Procedure.objects.in_bulk({s.procedure_id for s in page})
    doctors = User.objects.in_bulk({s.doctor_id for s in page if s.doctor_id})
    rows = [
        RecallRow(
            state=s, patient=patients[s.patient_id], procedure=procedures[s.procedure_id],
            doctor=doctors.get(s.doctor_id) if s.doctor_id else None, is_overdue=s.due_on < today,
        )
        for s in page
    ]  # fmt: skip
    return RecallList(rows=rows, count=totals["count"], overdue=totals["overdue"], page_states=page)


def recall_due_window(today: date, days: int = 30) -> tuple[date | None, date]:
    """The recall list's default range: everything due up to `days` from today."""
    return None, today + timedelta(days=days)
