"""Patient pages: list and search, detail, create, edit, consents, alerts, audit trail."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.audit.selectors import list_patient_events
from chairtime.core.errors import InvalidInput
from chairtime.core.http import client_ip, is_htmx
from chairtime.patients.access import access_patient
from chairtime.patients.choices import PreferredTime
from chairtime.patients.forms import ConsentForm, MedicalAlertForm, PatientForm
from chairtime.patients.models import Consent
from chairtime.patients.selectors import PAGE_SIZE, list_patients
from chairtime.patients.services import (
    add_medical_alert,
    create_patient,
    current_consents,
    record_consents,
    record_patient_view,
    update_patient,
)
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.PATIENT_VIEW)
def patient_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    query = request.GET.get("q", "").strip()
    scope = request.GET.get("scope", "branch")
    patients = list_patients(branch=access.branch, query=query, home_branch_only=scope != "all")
    page = Paginator(patients, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "query": query, "scope": scope}
    template = "patients/patient_list.html"
    if is_htmx(request) and request.headers.get("HX-Target") == "patient-results":
        template += "#results"
    return render(request, template, context)


@capability_required(Capability.PATIENT_CREATE)
def patient_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = PatientForm(request.POST or None, access=access)
    if request.method == "POST" and form.is_valid():
        try:
            patient = create_patient(
                actor=acting_user(request),
                data=form.to_data(),
                consents=form.consent_choices(),
                consent_origin=form.cleaned_data["consent_origin"],
            )
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            return redirect("patients:patient_detail", patient_id=patient.pk)
    return render(request, "patients/patient_form.html", {"form": form, "patient": None})


@capability_required(Capability.PATIENT_VIEW)
def patient_detail(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = branch_access_of(request)
    patient = access_patient(access, patient_id)
    record_patient_view(
        actor=acting_user(request),
        patient=patient, branch=access.branch, ip_address=client_ip(request),
    )  # fmt: skip
    consents = current_consents(patient)
    context = {
        "patient": patient,
        "phones": patient.phones.all(),
        "chat_ids": patient.chat_ids.all(),
        "tags": patient.tags.all(),
        "preferred_time_labels": [
            PreferredTime(value).label
            for value in patient.preferred_times
            if value in PreferredTime.values
        ],
        "consents": sorted(consents.values(), key=lambda c: (c.purpose, c.channel)),
        "alerts": patient.medical_alerts.filter(is_active=True)
        if access.can(Capability.PATIENT_MEDICAL_VIEW)
        else None,
        "referred_patients": patient.referred_patients.all()[:20],
        "consent_form": ConsentForm(initial=_consent_initial(consents)),
        "alert_form": MedicalAlertForm(),
    }
    return render(request, "patients/patient_detail.html", context)


@capability_required(Capability.PATIENT_EDIT)
def patient_edit(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = branch_access_of(request)
    patient = access_patient(access, patient_id, capability=Capability.PATIENT_EDIT)
    form = PatientForm(
        request.POST or None, access=access, patient=patient,
        initial=PatientForm.initial_for(patient),
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            update_patient(actor=acting_user(request), patient=patient, data=form.to_data())
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            return redirect("patients:patient_detail", patient_id=patient.pk)
    return render(request, "patients/patient_form.html", {"form": form, "patient": patient})


@require_POST
@capability_required(Capability.PATIENT_EDIT)
def patient_consents(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = branch_access_of(request)
    patient = access_patient(access, patient_id, capability=Capability.PATIENT_EDIT)
    form = ConsentForm(request.POST)
    if form.is_valid():
        record_consents(
            actor=acting_user(request),
            patient=patient, choices=form.choices(),
            origin=form.cleaned_data["origin"], note=form.cleaned_data["note"],
        )  # fmt: skip
        form = ConsentForm(initial=_consent_initial(current_consents(patient)))
    consents = sorted(current_consents(patient).values(), key=lambda c: (c.purpose, c.channel))
    context = {"patient": patient, "consent_form": form, "consents": consents}
    return render(request, "patients/patient_detail.html#consents", context)


@require_POST
@capability_required(Capability.PATIENT_MEDICAL_VIEW)
def patient_alert_add(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = branch_access_of(request)
    patient = access_patient(access, patient_id, capability=Capability.PATIENT_EDIT)
    form = MedicalAlertForm(request.POST)
    if form.is_valid():
        add_medical_alert(actor=acting_user(request), patient=patient, **form.cleaned_data)
        form = MedicalAlertForm()
    context = {
        "patient": patient,
        "alert_form": form,
        "alerts": patient.medical_alerts.filter(is_active=True),
    }
    return render(request, "patients/patient_detail.html#alerts", context)


@capability_required(Capability.AUDIT_VIEW)
def patient_audit(request: HttpRequest, patient_id: int) -> HttpResponse:
    access = branch_access_of(request)
    patient = access_patient(access, patient_id, capability=Capability.AUDIT_VIEW)
    page = Paginator(list_patient_events(patient_id=patient.pk), 100).get_page(
        request.GET.get("page")
    )
    return render(request, "patients/patient_audit.html", {"patient": patient, "page": page})


def _consent_initial(consents: Mapping[tuple[str, str], Consent]) -> dict[str, list[str]]:
    granted = [key for key, row in consents.items() if row.is_granted]
    return {
        "consent_service": [channel for channel, purpose in granted if purpose == "service"],
        "consent_marketing": [channel for channel, purpose in granted if purpose == "marketing"],
    }


def _add_errors(form: PatientForm, error: InvalidInput) -> None:
    for field, messages in error.errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)
    if not form.errors:  # pragma: no cover - a service error always names something
        form.add_error(None, _("The patient could not be saved."))
