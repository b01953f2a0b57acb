"""Pages of lab cases: the branch's cases (filtered, paged), a case with its step buttons,
a new case (prefilled from an appointment or a plan item), overdue cases per lab, and the
organisation's labs. Seeing takes `lab.view`; ordering, stepping and the labs `lab.edit`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.clinical.access import access_plan_item
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.labs.access import access_case, access_lab
from chairtime.labs.choices import STEPS, LabStep
from chairtime.labs.forms import CaseFilterForm, CaseForm, LabForm, StepForm
from chairtime.labs.models import Lab, LabCase
from chairtime.labs.selectors import (
    CaseFilters,
    find_patient,
    kind_for,
    list_cases,
    list_labs,
    overdue_per_lab,
    today_in,
)
from chairtime.labs.services import create_lab, order_case, step_case, update_lab
from chairtime.patients.access import access_patient
from chairtime.patients.models import Patient
from chairtime.scheduling.access import access_appointment
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability

PAGE_SIZE = 50


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _add_errors(form: Any, error: InvalidInput, aliases: dict[str, str] | None = None) -> None:
    for field, found in error.errors.items():
        name = (aliases or {}).get(field, field)
        for message in found:
            form.add_error(name if name in form.fields else None, message)


# --- cases ------------------------------------------------------------------------------------
@capability_required(Capability.LAB_VIEW)
def case_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    labs = list(list_labs(organization=access.branch.organization))
    form = CaseFilterForm(request.GET or None, labs=labs)
    filters = form.filters() if form.is_bound and form.is_valid() else CaseFilters()
    today = today_in(access.branch)
    cases = list_cases(branch=access.branch, filters=filters, today=today)
    page = Paginator(cases, PAGE_SIZE).get_page(_page_number(request))
    context = {
        "form": form, "page": page, "today": today, "query_string": _query_without_page(request),
        "can_edit": access.can(Capability.LAB_EDIT),
    }  # fmt: skip
    return render(request, "labs/case_list.html", context)


def _steps_of(case: LabCase) -> list[tuple[str, Any]]:
    return [
        (step, LabStep(step).label)
        for step, (starts, _to) in STEPS.items()
        if case.status in starts
    ]


def _case_page(
    request: HttpRequest, access: BranchAccess, case: LabCase, form: StepForm | None = None
) -> HttpResponse:
    can_edit = access.can(Capability.LAB_EDIT)
    today = today_in(access.branch)
    context = {
        "case": case, "steps": _steps_of(case) if can_edit else [],
        "form": form or StepForm(), "today": today,
        "is_overdue": case.is_pending and case.due_on is not None and case.due_on < today,
        "can_see_patient": access.can(Capability.PATIENT_VIEW),
    }  # fmt: skip
    return render(request, "labs/case_detail.html", context, status=400 if form else 200)


@capability_required(Capability.LAB_VIEW)
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    access = branch_access_of(request)
    return _case_page(request, access, access_case(access, case_id))


@require_POST
@capability_required(Capability.LAB_EDIT)
def case_step(request: HttpRequest, case_id: int, step: str) -> HttpResponse:
    """One step of a case (a button on its page); refused steps say why on the page."""
    access = branch_access_of(request)
    case = access_case(access, case_id, capability=Capability.LAB_EDIT)
    if step not in STEPS:
        raise NotFound
    form = StepForm(request.POST)
    if form.is_valid():
        try:
            case = step_case(
                actor=acting_user(request), case=case, step=step,
                due_on=form.cleaned_data["due_on"], note=form.cleaned_data["note"],
            )  # fmt: skip
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            messages.success(
                request, _("Case marked: %(status)s.") % {"status": case.get_status_display()}
            )
            return redirect("labs:case_detail", case_id=case.pk)
    return _case_page(request, access, access_case(access, case.pk), form)


def _prefill(request: HttpRequest, access: BranchAccess) -> tuple[Patient | None, dict[str, Any]]:
    """The patient and the form's first values from ?appointment=, ?plan_item= or ?patient=
    (each only of the active branch: anything else is a 404)."""
    initial: dict[str, Any] = {}
    patient: Patient | None = None
    item_id = request.GET.get("plan_item")
    appointment_id = request.GET.get("appointment")
    if item_id:
        item = access_plan_item(access, item_id, Capability.LAB_EDIT)
        patient = item.option.plan.patient
        initial.update(plan_item=item.pk, kind=kind_for(item.procedure), teeth=item.teeth_label)
        booked = item.appointment
        if booked is not None and booked.branch_id == access.branch.pk:
            initial["appointment"] = booked.pk
    if appointment_id:
        appointment: Appointment = access_appointment(
            access, appointment_id, capability=Capability.LAB_EDIT
        )
        if patient is not None and appointment.patient_id != patient.pk:
            raise NotFound
        patient = appointment.patient
        initial["appointment"] = appointment.pk
        initial.setdefault("kind", kind_for(appointment.procedure))
    if patient is None and request.GET.get("patient"):
        patient = access_patient(access, request.GET["patient"], capability=Capability.LAB_EDIT)
    if patient is not None:
        initial["patient_number"] = patient.number
    return patient, initial


@capability_required(Capability.LAB_EDIT)
def case_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    branch = access.branch
    patient, initial = _prefill(request, access)
    labs = list(list_labs(organization=branch.organization, active_only=True))
    form = CaseForm(request.POST or None, labs=labs, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if patient is None:
            patient = find_patient(branch=branch, number=data["patient_number"] or "")
        if patient is None:
            form.add_error("patient_number", _("No patient has this number."))
        else:
            try:
                case = order_case(
                    actor=acting_user(request), branch=branch, patient=patient,
                    lab_id=data["lab"], kind=data["kind"], teeth=data["teeth"],
                    shade=data["shade"], notes=data["notes"], due_on=data["due_on"],
                    appointment_id=data["appointment"] or initial.get("appointment"),
                    plan_item_id=data["plan_item"] or initial.get("plan_item"),
                )  # fmt: skip
            except InvalidInput as error:
                _add_errors(form, error, {"patient": "patient_number"})
            else:
                messages.success(request, _("Lab case ordered."))
                return redirect("labs:case_detail", case_id=case.pk)
    appointment = None
    if initial.get("appointment"):
        appointment = access_appointment(
            access, initial["appointment"], capability=Capability.LAB_EDIT
        )
    context = {"form": form, "patient": patient, "appointment": appointment, "has_labs": bool(labs)}
    return render(request, "labs/case_create.html", context)


@capability_required(Capability.LAB_VIEW)
def overdue_list(request: HttpRequest) -> HttpResponse:
    """Overdue cases of the branch per lab: whom to call first."""
    access = branch_access_of(request)
    today = today_in(access.branch)
    rows = overdue_per_lab(branch=access.branch, today=today)
    context = {"rows": rows, "today": today, "total": sum(row.count for row in rows)}
    return render(request, "labs/overdue_list.html", context)


# --- labs -------------------------------------------------------------------------------------
@capability_required(Capability.LAB_EDIT)
def lab_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    labs = list(list_labs(organization=access.branch.organization))
    return render(request, "labs/lab_list.html", {"labs": labs})


def _lab_form_page(request: HttpRequest, form: LabForm, lab: Lab | None) -> HttpResponse:
    return render(request, "labs/lab_edit.html", {"form": form, "lab": lab})


@capability_required(Capability.LAB_EDIT)
def lab_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = LabForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            create_lab(
                actor=acting_user(request), branch=access.branch, values=form.values(),
            )  # fmt: skip
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Lab saved."))
            return redirect("labs:lab_list")
    return _lab_form_page(request, form, None)


@capability_required(Capability.LAB_EDIT)
def lab_edit(request: HttpRequest, lab_id: int) -> HttpResponse:
    access = branch_access_of(request)
    lab = access_lab(access, lab_id)
    form = LabForm(request.POST or None, initial=LabForm.initial_of(lab))
    if request.method == "POST" and form.is_valid():
        try:
            update_lab(
                actor=acting_user(request), branch=access.branch, lab=lab, values=form.values()
            )
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("Lab saved."))
            return redirect("labs:lab_list")
    return _lab_form_page(request, form, lab)


def new_case_url(*, appointment_id: int | None = None, plan_item_id: int | None = None) -> str:
    """Where "Order lab case" leads from an appointment or a plan item."""
    query = {"appointment": appointment_id, "plan_item": plan_item_id}
    clean = {k: v for k, v in query.items() if v is not None}
    return f"{reverse('labs:case_create')}?{urlencode(clean)}"
