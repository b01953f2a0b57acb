"""Pages of patient feedback: complaints (list, record, handle), the NPS report, and the
public survey page a patient opens from a link (the only page here without a login)."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from chairtime.accounts.access import acting_user
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.crm.feedback.access import access_complaint
from chairtime.crm.feedback.forms import (
    ComplaintFilterForm,
    ComplaintForm,
    ComplaintUpdateForm,
    MonthsForm,
    SurveyAnswerForm,
)
from chairtime.crm.feedback.selectors import (
    get_survey_by_token,
    list_complaints,
    list_staff_of,
    nps_report,
    survey_state,
)
from chairtime.crm.feedback.services import answer_survey, record_complaint, update_complaint
from chairtime.patients.access import access_patient
from chairtime.tenancy.access import BranchAccess, get_branch_access
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

PAGE_SIZE = 50


def _add_errors(form: forms.Form, error: InvalidInput) -> None:
    for field, messages in error.errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


# --- complaints ---------------------------------------------------------------------------
@capability_required(Capability.CARE_VIEW)
def complaint_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    staff = list_staff_of(access.branch.organization_id)
    form = ComplaintFilterForm(request.GET or None, staff=staff)
    filters = form.cleaned_data if form.is_valid() else {}
    owner = filters.get("owner")
    rows = list_complaints(
        branch=access.branch, status=filters.get("status", ""),
        severity=filters.get("severity", ""), category=filters.get("category", ""),
        owner_id=owner.pk if owner else None,
    )  # fmt: skip
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "crm/feedback/complaint_list.html", {"form": form, "page": page})


@capability_required(Capability.CARE_WORK)
def complaint_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    staff = list_staff_of(access.branch.organization_id)
    initial = {"patient": request.GET.get("patient", "")}
    form = ComplaintForm(request.POST or None, staff=staff, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            patient = access_patient(access, data["patient"])
        except NotFound:
            form.add_error("patient", _("No such patient."))
        else:
            try:
                complaint = record_complaint(
                    actor=acting_user(request), branch=access.branch, patient=patient,
                    category=data["category"], severity=data["severity"],
                    description=data["description"], received_at=data["received_at"],
                    doctor=data["doctor"], owner=data["owner"],
                )  # fmt: skip
            except InvalidInput as error:
                _add_errors(form, error)
            else:
                return redirect("crm:complaint_detail", complaint_id=complaint.pk)
    return render(request, "crm/feedback/complaint_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
@capability_required(Capability.CARE_VIEW)
def complaint_detail(request: HttpRequest, complaint_id: int) -> HttpResponse:
    """The complaint; a POST (needs care.work) moves it on, hands it over or resolves it."""
    access = branch_access_of(request)
    is_update = request.method == "POST"
    capability = Capability.CARE_WORK if is_update else Capability.CARE_VIEW
    complaint = access_complaint(access, complaint_id, capability=capability)
    staff = list_staff_of(access.branch.organization_id)
    initial = {
        "status": complaint.status,
        "owner": complaint.owner_id,
        "resolution": complaint.resolution,
    }
    form = ComplaintUpdateForm(request.POST or None, staff=staff, initial=initial)
    if is_update and form.is_valid():
        data = form.cleaned_data
        try:
            update_complaint(
                actor=acting_user(request), complaint=complaint, status=data["status"],
                owner=data["owner"], resolution=data["resolution"],
            )  # fmt: skip
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            return redirect("crm:complaint_detail", complaint_id=complaint.pk)
    context = {
        "complaint": complaint,
        "form": form if access.can(Capability.CARE_WORK) else None,
    }
    return render(request, "crm/feedback/complaint_detail.html", context)


# --- the NPS report -----------------------------------------------------------------------
def _sees_whole_organization(access: BranchAccess) -> bool:
    """Whether the user reads analytics in every active branch of the organisation."""
    branches = Branch.objects.filter(organization_id=access.branch.organization_id, is_active=True)
    for branch_id in branches.values_list("pk", flat=True):
        try:
            if not get_branch_access(access.user, branch_id).can(Capability.ANALYTICS_VIEW):
                return False
        except NotFound:
            return False
    return True


@capability_required(Capability.ANALYTICS_VIEW)
def nps_report_page(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = MonthsForm(request.GET or None)
    months = (form.cleaned_data.get("months") if form.is_valid() else None) or 12
    whole = request.GET.get("scope") == "all" and _sees_whole_organization(access)
    today = timezone.localdate(timezone.now(), access.branch.zone)
    report = (
        nps_report(organization=access.branch.organization, months=months, today=today)
        if whole
        else nps_report(branch=access.branch, months=months, today=today)
    )
    context = {"report": report, "form": form, "months": months, "whole": whole}
    return render(request, "crm/feedback/nps_report.html", context)


# --- the public survey --------------------------------------------------------------------
@csrf_protect
@require_http_methods(["GET", "POST"])
def survey(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's survey, in their language, without a login: the token is the key.
    Unknown token: 404; expired or already answered: a page that says so."""
    found = get_survey_by_token(token)
    if found is None:
        raise Http404
    with translation.override(found.language):
        state = survey_state(found)
        form = SurveyAnswerForm(request.POST or None)
        if state == "open" and request.method == "POST" and form.is_valid():
            try:
                answer_survey(
                    token=token, score=form.cleaned_data["score"],
                    comment=form.cleaned_data["comment"],
                )  # fmt: skip
            except Conflict:
                state = "answered"
            except InvalidInput as error:
                if "token" in error.errors:
                    state = "expired"
                else:
                    _add_errors(form, error)
            else:
                state = "thanks"
        context = {"survey": found, "state": state, "form": form, "scores": range(11)}
        response = render(request, "crm/feedback/survey.html", context)
        response["Content-Language"] = found.language
    return response
