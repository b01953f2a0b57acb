"""Pages of care: my tasks today, the branch's tasks with overdue counts, a task and its
calls (a dialog over the lists, or a page of its own), the recall list, and the rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.care.access import access_task
from chairtime.care.choices import TaskKind
from chairtime.care.forms import AttemptForm, RecallFilterForm, RuleForm, TaskFilterForm
from chairtime.care.models import CareTask
from chairtime.care.rules import OFFSET_UNITS
from chairtime.care.selectors import (
    RecallFilters,
    TaskFilters,
    count_overdue_by_branch,
    count_overdue_by_person,
    list_assignees,
    list_care_branches,
    list_my_tasks,
    list_other_open_tasks,
    list_recall,
    list_task_attempts,
    list_tasks,
    recall_states,
    today_of,
)
from chairtime.care.services import ensure_rules, record_attempt, update_rule
from chairtime.clinical.forms import doctors_in
from chairtime.clinical.models import ProcedureCategory
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.http import is_htmx, safe_next_url
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

PAGE_SIZE = 50
MY_TASKS_SHOWN = 200  # more than a person calls in a day; the count says how many in all
RECALL_AHEAD = timedelta(days=30)  # the recall list shows what falls due within a month
CHANGED = "care-changed"  # the htmx event the task lists reload on


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --- task lists ------------------------------------------------------------------------------
@capability_required(Capability.CARE_VIEW)
def my_tasks(request: HttpRequest) -> HttpResponse:
    """The calls due now or overdue for me (by name or by my role) in this branch."""
    access = branch_access_of(request)
    now = timezone.now()
    due = list_my_tasks(access=access, now=now)
    _today, start = today_of(access.branch, now)
    context = {
        "tasks": list(due[:MY_TASKS_SHOWN]), "count": due.count(), "start_of_today": start,
        "can_work": access.can(Capability.CARE_WORK), "next": reverse("care:my_tasks"),
    }  # fmt: skip
    template = "care/my_tasks.html#rows" if is_htmx(request) else "care/my_tasks.html"
    return render(request, template, context)


@capability_required(Capability.CARE_VIEW)
def task_list(request: HttpRequest) -> HttpResponse:
    """Every task of the branch, filtered; overdue counts per person and per branch."""
    access = branch_access_of(request)
    now = timezone.now()
    form = TaskFilterForm(request.GET or None, people=list_assignees(access.branch))
    filters = form.filters() if form.is_bound and form.is_valid() else TaskFilters()
    page = Paginator(list_tasks(access=access, filters=filters, now=now), PAGE_SIZE).get_page(
        _page_number(request)
    )
    _today, start = today_of(access.branch, now)
    context = {
        "form": form, "page": page, "query_string": _query_without_page(request),
        "by_person": count_overdue_by_person(branch=access.branch, now=now),
        "by_branch": count_overdue_by_branch(branches=list_care_branches(access), now=now),
        "start_of_today": start, "next": request.get_full_path(),
    }  # fmt: skip
    return render(request, "care/task_list.html", context)


# --- a task ---------------------------------------------------------------------------------
def _task_context(
    access: BranchAccess, task: CareTask, form: AttemptForm | None, next_url: str, notice: str = ""
) -> dict[str, Any]:
    can_work = access.can(Capability.CARE_WORK) and task.is_open
    if can_work and form is None:
        form = AttemptForm(initial={"expected_attempts": task.attempts})
    can_book = access.can(Capability.SCHEDULE_BOOK) and task.is_open
    return {
        "task": task, "attempts": list(list_task_attempts(task)),
        "others": list(list_other_open_tasks(task)), "form": form if can_work else None,
        # Why a call was refused when the form is gone (the task closed meanwhile).
        "refusals": list(form.non_field_errors()) if form is not None and not can_work else [],
        "notice": notice, "next": next_url, "book_url": _book_url(task) if can_book else "",
        "can_see_patient": access.can(Capability.PATIENT_VIEW),
    }  # fmt: skip


def _book_url(task: CareTask) -> str:
    """Where to book from the task: the booking page with the patient filled in (and, for a
    recall, the recall procedure and the doctor, so the slot finder proposes times); for a
    confirmation call, the appointment itself."""
    if task.kind == TaskKind.CONFIRMATION_CALL and task.appointment_id is not None:
        return reverse("scheduling:appointment_detail", args=[task.appointment_id])
    query: dict[str, int] = {"patient": task.patient_id}
    if task.kind == TaskKind.RECALL_DUE:
        for state in recall_states(
            branch=task.branch, now=timezone.now(), patient_ids=[task.patient_id],
            with_procedures=True,
        ):  # fmt: skip
            if state.procedure_id:
                query["procedure"] = state.procedure_id
            if state.doctor_id is not None:
                query["doctor"] = state.doctor_id
    return f"{reverse('scheduling:appointment_create')}?{urlencode(query)}"


def _task_page(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The task in the dialog (htmx), or as a page of its own."""
    template = "care/task_detail.html#panel" if is_htmx(request) else "care/task_detail.html"
    return render(request, template, context)


@capability_required(Capability.CARE_VIEW)
def task_detail(request: HttpRequest, task_id: int) -> HttpResponse:
    access = branch_access_of(request)
    task = access_task(access, task_id)
    next_url = safe_next_url(request, reverse("care:my_tasks"))
    return _task_page(request, _task_context(access, task, None, next_url))


@require_POST
@capability_required(Capability.CARE_WORK)
def task_attempt(request: HttpRequest, task_id: int) -> HttpResponse:
    """Record one call. htmx: the task again (with the outcome) and the lists told to
    reload; without htmx, back to where the user came from."""
    access = branch_access_of(request)
    task = access_task(access, task_id, capability=Capability.CARE_WORK)
    next_url = safe_next_url(request, reverse("care:my_tasks"))
    form = AttemptForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            task = record_attempt(
                actor=acting_user(request), task=task, outcome=data["outcome"],
                note=data["note"] or "", expected_attempts=data["expected_attempts"],
            )  # fmt: skip
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            notice = _("Call recorded: %(outcome)s.") % {"outcome": task.get_outcome_display()}
            if not is_htmx(request):
                messages.success(request, notice)
                return redirect(next_url)
            fresh = access_task(access, task.pk)
            response = _task_page(request, _task_context(access, fresh, None, next_url, notice))
            response["HX-Trigger"] = CHANGED
            return response
    task = access_task(access, task.pk)
    return _task_page(request, _task_context(access, task, form, next_url))


def _add_errors(form: Any, error: InvalidInput) -> None:
    for field, messages_ in error.errors.items():
        for message in messages_:
            form.add_error(field if field in form.fields else None, message)


# --- recall ---------------------------------------------------------------------------------
@capability_required(Capability.CARE_VIEW)
def recall_list(request: HttpRequest) -> HttpResponse:
    """Patients due back, one row each (their earliest relevant recall date), booked and
    lapsed ones left out; "Book recall" opens the booking page with the slot finder."""
    access = branch_access_of(request)
    now = timezone.now()
    branches = list_care_branches(access)
    # The branch asked for, when it is one of the user's (the form refuses any other), so
    # the doctors offered are that branch's.
    asked = request.GET.get("branch", "")
    branch = next((b for b in branches if str(b.pk) == asked), access.branch)
    today, _start = today_of(branch, now)
    form = RecallFilterForm(
        request.GET or None, branches=branches, doctors=doctors_in(branch), today=today
    )
    valid = form.is_bound and form.is_valid()
    if not valid:
        branch = access.branch
        today, _start = today_of(branch, now)
    default_due_to = today + RECALL_AHEAD
    filters = form.filters(default_due_to) if valid else RecallFilters(due_to=default_due_to)
    number = _page_number(request)
    result = _recall_page(branch, filters, now, number)
    page = Paginator(range(result.count), PAGE_SIZE).get_page(number)
    if page.number != number:  # past the last page: show the last
        result = _recall_page(branch, filters, now, page.number)
    is_here = branch.pk == access.branch.pk
    can_book = is_here and access.can(Capability.SCHEDULE_BOOK)
    rows = [
        {"row": row, "book_url": _recall_book_url(row) if can_book else ""} for row in result.rows
    ]
    context = {
        "form": form, "result": result, "rows": rows, "page": page, "branch": branch,
        "filters": filters, "query_string": _query_without_page(request), "is_here": is_here,
        "can_see_patient": access.can(Capability.PATIENT_VIEW),
    }  # fmt: skip
    return render(request, "care/recall_list.html", context)


def _recall_page(branch: Branch, filters: RecallFilters, now: datetime, number: int) -> Any:
    return list_recall(
        branch=branch, filters=filters, now=now, offset=(number - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )


def _recall_book_url(row: Any) -> str:
    query = {"patient": row.patient.pk, "procedure": row.procedure.pk}
    if row.doctor is not None:
        query["doctor"] = row.doctor.pk
    return f"{reverse('scheduling:appointment_create')}?{urlencode(query)}"


# --- rules ----------------------------------------------------------------------------------
@capability_required(Capability.CARE_CONFIGURE)
def rule_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    rules = ensure_rules(access.branch.organization)
    rows = [
        {
            "rule": rules[kind], "unit": OFFSET_UNITS[kind],
            "categories": [ProcedureCategory(c).label for c in rules[kind].categories],
        }
        for kind in TaskKind.values
    ]  # fmt: skip
    return render(request, "care/rule_list.html", {"rows": rows})


@capability_required(Capability.CARE_CONFIGURE)
def rule_edit(request: HttpRequest, kind: str) -> HttpResponse:
    access = branch_access_of(request)
    if kind not in TaskKind.values:
        raise NotFound
    organization = access.branch.organization
    rule = ensure_rules(organization)[kind]
    initial = {
        "is_enabled": rule.is_enabled, "offset": rule.offset, "categories": rule.categories,
        "assign_to": rule.assign_to, "assign_role": rule.assign_role,
        "max_attempts": rule.max_attempts, "cool_off_days": rule.cool_off_days,
        "hand_over_after_days": rule.hand_over_after_days,
    }  # fmt: skip
    form = RuleForm(request.POST or None, kind=kind, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            update_rule(
                actor=acting_user(request), organization=organization, kind=kind,
                values=form.cleaned_data,
            )  # fmt: skip
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("care:rule_list")
    context = {"form": form, "rule": rule, "kind_label": TaskKind(kind).label}
    return render(request, "care/rule_edit.html", context)
