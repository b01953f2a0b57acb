"""The patient timeline page; "older" loads the next entries through htmx."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chairtime.core.errors import InvalidInput
from chairtime.core.http import is_htmx
from chairtime.crm.timeline.selectors import TimelinePage, patient_timeline
from chairtime.patients.access import access_patient
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability

PAGE_SIZE = 50


@capability_required(Capability.PATIENT_VIEW)
def patient_timeline_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = branch_access_of(request)
    patient = access_patient(access, patient_id)
    before = request.GET.get("before") or None
    try:
        page = patient_timeline(
            patient, user_caps=access.capabilities, before=before, limit=PAGE_SIZE
        )
    except InvalidInput:  # a mangled cursor: start again from the newest
        page = TimelinePage(entries=[], next_before=None)
    template = "crm/timeline/timeline.html"
    if is_htmx(request) and before:
        template += "#entries"
    return render(request, template, {"patient": patient, "page": page})
