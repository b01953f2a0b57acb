"""API of care tasks, the recall list and the rules, in the active branch (X-Branch).

Reading needs care.view, recording a call care.work, changing a rule care.configure;
missing and forbidden both answer 404. Filters go through the pages' forms and calls
through the same service, so the API refuses exactly what the pages refuse, with the same
messages (422 naming the field; 409 when someone recorded a call meanwhile).
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.care.access import access_task
from chairtime.care.choices import TaskKind
from chairtime.care.forms import RecallFilterForm, TaskFilterForm
from chairtime.care.models import CareRule, CareTask
from chairtime.care.rules import OFFSET_UNITS
from chairtime.care.selectors import (
    RecallRow,
    count_overdue_by_branch,
    count_overdue_by_person,
    list_assignees,
    list_care_branches,
    list_recall,
    list_task_attempts,
    list_tasks,
    today_of,
)
from chairtime.care.services import ensure_rules, record_attempt, update_rule
from chairtime.clinical.forms import doctors_in
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

router = Router(tags=["care"])

RECALL_AHEAD = timedelta(days=30)


class AttemptOut(Schema):
    number: int
    at: datetime
    by_id: int | None
    outcome: str
    note: str


class TaskOut(Schema):
    id: int
    branch_id: int
    patient_id: int
    patient_name: str
    kind: str
    status: str
    due_at: datetime
    next_attempt_at: datetime
    is_overdue: bool
    assigned_to_id: int | None
    assigned_role: str
    attempts: int
    max_attempts: int
    outcome: str
    note: str
    cancel_reason: str
    closed_at: datetime | None
    closed_by_id: int | None
    cause_key: str
    cause_on: date | None
    appointment_id: int | None
    plan_id: int | None
    complaint_id: int | None


class TaskDetailOut(TaskOut):
    calls: list[AttemptOut]


class TaskQuery(Schema):
    kind: str = Field("", description="post_treatment_day1, recall_due, birthday, …")
    status: str = Field("", description="open, done, cancelled")
    assignee: str = Field("", description='"me", "nobody", "role:<role>" or a user id')
    overdue: bool = False
    patient: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


class AttemptIn(Schema):
    outcome: str = Field(
        ..., description="reached, booked, declined, no_answer, wrong_number, do_not_contact"
    )
    note: str = Field("", description="at most 500 characters")
    expected_attempts: int | None = Field(
        None, ge=0, description="the number of calls you saw; 409 if someone added one since"
    )


class RecallQuery(Schema):
    due_from: str | None = Field(None, description="YYYY-MM-DD")
    due_to: str | None = Field(None, description="YYYY-MM-DD; default: 30 days from today")
    doctor: int | None = Field(None, ge=1, description="preferred or last doctor (a user id)")
    branch: int | None = Field(None, ge=1, description="default: the active branch")
    attempts_min: int | None = None
    attempts_max: int | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class RecallRowOut(Schema):
    patient_id: int
    patient_name: str
    patient_number: str
    due_on: date
    is_overdue: bool
    procedure_id: int
    procedure_code: str
    doctor_id: int | None
    last_visit_on: date | None
    task_id: int | None
    attempts: int
    max_attempts: int
    book_url: str


class RecallOut(Schema):
    branch_id: int
    count: int
    overdue: int
    rows: list[RecallRowOut]


class RuleOut(Schema):
    kind: str
    is_enabled: bool
    offset: int
    offset_unit: str
    categories: list[str]
    assign_to: str
    assign_role: str
    max_attempts: int
    cool_off_days: int
    hand_over_after_days: int


class RuleIn(Schema):
    is_enabled: bool | None = None
    offset: int | None = None
    categories: list[str] | None = None
    assign_to: str | None = Field(None, description="role, doctor, consultant")
    assign_role: str | None = Field(None, description="receptionist, consultant, …")
    max_attempts: int | None = None
    cool_off_days: int | None = None
    hand_over_after_days: int | None = None


class OverdueRowOut(Schema):
    label: str
    count: int
    user_id: int | None
    role: str
    branch_id: int | None


class OverdueOut(Schema):
    by_person: list[OverdueRowOut]
    by_branch: list[OverdueRowOut]


def _task_out(task: CareTask, start_of_today: datetime) -> dict[str, Any]:
    return {
        "id": task.pk, "branch_id": task.branch_id, "patient_id": task.patient_id,
        "patient_name": task.patient.display_name, "kind": task.kind, "status": task.status,
        "due_at": task.due_at, "next_attempt_at": task.next_attempt_at,
        "is_overdue": task.is_open and task.next_attempt_at < start_of_today,
        "assigned_to_id": task.assigned_to_id, "assigned_role": task.assigned_role,
        "attempts": task.attempts, "max_attempts": task.max_attempts, "outcome": task.outcome,
        "note": task.note, "cancel_reason": task.cancel_reason, "closed_at": task.closed_at,
        "closed_by_id": task.closed_by_id, "cause_key": task.cause_key,
        "cause_on": task.cause_on, "appointment_id": task.appointment_id,
        "plan_id": task.plan_id, "complaint_id": task.complaint_id,
    }  # fmt: skip


def _detail(task: CareTask, start_of_today: datetime) -> TaskDetailOut:
    calls = [
        AttemptOut(number=a.number, at=a.at, by_id=a.by_id, outcome=a.outcome, note=a.note)
        for a in list_task_attempts(task)
    ]
    return TaskDetailOut(**_task_out(task, start_of_today), calls=calls)


def _valid(form: forms.Form) -> None:
    if not form.is_valid():
        raise InvalidInput(
            {field: [str(e) for e in errors] for field, errors in form.errors.items()}
        )


@router.get("/tasks", response=list[TaskOut], summary="The branch's care tasks")
def task_list(request: HttpRequest, query: Query[TaskQuery]) -> list[TaskOut]:
    access = api_branch_access(request)
    access.require(Capability.CARE_VIEW)
    data = {
        "kind": query.kind, "status": query.status, "assignee": query.assignee,
        "overdue": query.overdue,
    }  # fmt: skip
    form = TaskFilterForm(data, people=list_assignees(access.branch))
    _valid(form)
    now = timezone.now()
    _today, start = today_of(access.branch, now)
    tasks = list_tasks(access=access, filters=form.filters(patient_id=query.patient), now=now)
    return [
        TaskOut(**_task_out(task, start))
        for task in tasks[query.offset : query.offset + query.limit]
    ]


@router.get("/tasks/{int:task_id}", response=TaskDetailOut, summary="One task and its calls")
def task_detail(request: HttpRequest, task_id: int) -> TaskDetailOut:
    access = api_branch_access(request)
    task = access_task(access, task_id)
    _today, start = today_of(access.branch, timezone.now())
    return _detail(task, start)


@router.post(
    "/tasks/{int:task_id}/attempts",
    response={201: TaskDetailOut},
    summary="Record a call and its outcome",
    description="Every outcome but no_answer closes the task; no_answer waits the rule's "
    "cool-off, and closes the task after its last attempt. do_not_contact also records the "
    "patient's refusal of service calls and cancels their other open tasks.",
)
def task_attempt(request: HttpRequest, task_id: int, payload: AttemptIn) -> Status[TaskDetailOut]:
    access = api_branch_access(request)
    task = access_task(access, task_id, capability=Capability.CARE_WORK)
    record_attempt(
        actor=acting_user(request), task=task, outcome=payload.outcome, note=payload.note,
        expected_attempts=payload.expected_attempts,
    )  # fmt: skip
    _today, start = today_of(access.branch, timezone.now())
    return Status(201, _detail(access_task(access, task_id), start))


@router.get("/overdue", response=OverdueOut, summary="Overdue tasks per person and branch")
def overdue(request: HttpRequest) -> OverdueOut:
    access = api_branch_access(request)
    access.require(Capability.CARE_VIEW)
    now = timezone.now()

    def rows(found: list[Any]) -> list[OverdueRowOut]:
        return [
            OverdueRowOut(
                label=r.label, count=r.count, user_id=r.user_id, role=r.role, branch_id=r.branch_id
            )
            for r in found
        ]

    return OverdueOut(
        by_person=rows(count_overdue_by_person(branch=access.branch, now=now)),
        by_branch=rows(count_overdue_by_branch(branches=list_care_branches(access), now=now)),
    )


def _recall_row(row: RecallRow, branch: Branch, can_book: bool) -> RecallRowOut:
    book = ""
    if can_book:
        book = (
            f"{reverse('scheduling:appointment_create')}?patient={row.patient.pk}"
            f"&procedure={row.procedure.pk}"
            + (f"&doctor={row.doctor.pk}" if row.doctor is not None else "")
        )
    return RecallRowOut(
        patient_id=row.patient.pk, patient_name=row.patient.display_name,
        patient_number=row.patient.number, due_on=row.state.due_on, is_overdue=row.is_overdue,
        procedure_id=row.procedure.pk, procedure_code=row.procedure.code,
        doctor_id=row.doctor.pk if row.doctor else None, last_visit_on=row.state.last_visit_on,
        task_id=row.state.task_id, attempts=row.state.attempts,
        max_attempts=row.state.max_attempts, book_url=book,
    )  # fmt: skip


@router.get("/recall", response=RecallOut, summary="The recall list")
def recall(request: HttpRequest, query: Query[RecallQuery]) -> RecallOut:
    access = api_branch_access(request)
    access.require(Capability.CARE_VIEW)
    now = timezone.now()
    branches = list_care_branches(access)
    branch = access.branch
    if query.branch is not None:
        # Another branch of the user's: they must see care work there (404 otherwise).
        branch = next((b for b in branches if b.pk == query.branch), None) or _missing()
    today, _start = today_of(branch, now)
    data = query.dict(exclude={"limit", "offset"})
    data["branch"] = branch.pk
    form = RecallFilterForm(data, branches=branches, doctors=doctors_in(branch), today=today)
    _valid(form)
    result = list_recall(
        branch=branch, filters=form.filters(today + RECALL_AHEAD), now=now,
        offset=query.offset, limit=query.limit,
    )  # fmt: skip
    can_book = branch.pk == access.branch.pk and access.can(Capability.SCHEDULE_BOOK)
    return RecallOut(
        branch_id=branch.pk, count=result.count, overdue=result.overdue,
        rows=[_recall_row(row, branch, can_book) for row in result.rows],
    )  # fmt: skip


def _missing() -> Branch:
    raise NotFound


def _rule_out(rule: CareRule) -> RuleOut:
    return RuleOut(
        kind=rule.kind, is_enabled=rule.is_enabled, offset=rule.offset,
        offset_unit=OFFSET_UNITS[rule.kind], categories=list(rule.categories),
        assign_to=rule.assign_to, assign_role=rule.assign_role,
        max_attempts=rule.max_attempts, cool_off_days=rule.cool_off_days,
        hand_over_after_days=rule.hand_over_after_days,
    )  # fmt: skip


@router.get("/rules", response=list[RuleOut], summary="The organisation's care rules")
def rule_list(request: HttpRequest) -> list[RuleOut]:
    access = api_branch_access(request)
    access.require(Capability.CARE_CONFIGURE)
    rules = ensure_rules(access.branch.organization)
    return [_rule_out(rules[kind]) for kind in TaskKind.values]


@router.patch("/rules/{kind}", response=RuleOut, summary="Change a care rule")
def rule_update(request: HttpRequest, kind: str, payload: RuleIn) -> RuleOut:
    access = api_branch_access(request)
    access.require(Capability.CARE_CONFIGURE)
    if kind not in TaskKind.values:
        raise NotFound
    rule = update_rule(
        actor=acting_user(request), organization=access.branch.organization, kind=kind,
        values=payload.dict(exclude_unset=True),
    )  # fmt: skip
    return _rule_out(rule)
