"""Pages of referrals: the tree around one patient, and the branch's referral report."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from chairtime.crm.feedback.forms import MonthsForm
from chairtime.crm.referrals.selectors import referral_report, referral_tree
from chairtime.patients.access import access_patient
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.PATIENT_VIEW)
def referral_tree_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Who referred the patient and whom they referred; revenue only with money.view."""
    access = branch_access_of(request)
    patient = access_patient(access, patient_id)
    context = {
        "patient": patient,
        "tree": referral_tree(patient),
        "shows_money": access.can(Capability.MONEY_VIEW),
    }
    return render(request, "crm/referrals/tree.html", context)


@capability_required(Capability.ANALYTICS_VIEW)
def referral_report_page(request: HttpRequest) -> HttpResponse:
    """The branch's referred patients; their revenue only with money.view."""
    access = branch_access_of(request)
    form = MonthsForm(request.GET or None)
    months = (form.cleaned_data.get("months") if form.is_valid() else None) or 12
    today = timezone.localdate(timezone.now(), access.branch.zone)
    context = {
        "report": referral_report(branch=access.branch, months=months, today=today),
        "form": form,
        "shows_money": access.can(Capability.MONEY_VIEW),
    }
    return render(request, "crm/referrals/report.html", context)
