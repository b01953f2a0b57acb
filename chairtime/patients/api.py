"""API for patients: the same rules and messages as the pages (both use PatientForm)."""

# No `from __future__ import annotations` here: ninja resolves a paginated endpoint's
# string annotations (`Query[ListFilters]`) in its own module, where they do not exist.

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.core.http import client_ip
from chairtime.patients.access import access_patient
from chairtime.patients.forms import PatientForm
from chairtime.patients.models import Patient
from chairtime.patients.selectors import list_patients
from chairtime.patients.services import (
    create_patient,
    current_consents,
    record_patient_view,
    update_patient,
)
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["patients"])


class PhoneOut(Schema):
    number: str
    kind: str
    is_primary: bool


class ConsentOut(Schema):
    channel: str
    purpose: str
    is_granted: bool
    origin: str
    recorded_at: datetime


class PatientListOut(Schema):
    id: int
    number: str
    display_name: str
    birth_date: date | None
    home_branch_id: int
    status: str


class PatientOut(PatientListOut):
    family_name: str
    given_name: str
    name_order: str
    sex: str
    email: str
    phones: list[PhoneOut]
    chat_ids: dict[str, str]
    preferred_language: str
    preferred_doctor_id: int | None
    preferred_times: list[str]
    source_channel_id: int | None
    referred_by_patient_id: int | None
    referred_by_staff_id: int | None
    referrer_external: str
    tags: list[str]
    notes: str
    consents: list[ConsentOut]


class PatientPatch(Schema):
    """Fields to change; what is left out keeps its value. Validation is the page's own."""

    family_name: str | None = Field(None, max_length=100)
    given_name: str | None = Field(None, max_length=100)
    name_order: str | None = Field(None, description="family_first or given_first")
    display_name: str | None = Field(None, max_length=200)
    number: str | None = Field(None, max_length=20)
    home_branch: int | None = None
    birth_date: str | None = Field(
        None, json_schema_extra={"format": "date"}, description="YYYY-MM-DD"
    )
    sex: str | None = Field(None, description="female, male, other or unknown")
    phone: str | None = Field(None, description="E.164, or national in the branch's country")
    phone_alt: str | None = None
    email: str | None = None
    zalo_id: str | None = None
    wechat_id: str | None = None
    preferred_language: str | None = None
    preferred_doctor: int | None = None
    preferred_times: list[str] | None = None
    source_channel: int | None = None
    referred_by_number: str | None = None
    referred_by_staff: int | None = None
    referrer_external: str | None = None
    tags: list[int] | None = None
    notes: str | None = None
    status: str | None = None


class PatientIn(PatientPatch):
    family_name: str = Field(..., max_length=100)
    consent_service: list[str] = Field(default_factory=list, description="channels")
    consent_marketing: list[str] = Field(default_factory=list, description="channels")
    consent_origin: str = ""


def _patient_out(patient: Patient) -> PatientOut:
    consents = current_consents(patient).values()
    return PatientOut(
        id=patient.pk, number=patient.number, display_name=patient.display_name,
        birth_date=patient.birth_date, home_branch_id=patient.home_branch_id,
        status=patient.status, family_name=patient.family_name, given_name=patient.given_name,
        name_order=patient.name_order, sex=patient.sex, email=patient.email,
        phones=[PhoneOut(number=p.number, kind=p.kind, is_primary=p.is_primary) for p in patient.phones.all()],
        chat_ids={c.app: c.handle for c in patient.chat_ids.all()},
        preferred_language=patient.preferred_language,
        preferred_doctor_id=patient.preferred_doctor_id, preferred_times=patient.preferred_times,
        source_channel_id=patient.source_channel_id,
        referred_by_patient_id=patient.referred_by_patient_id,
        referred_by_staff_id=patient.referred_by_staff_id,
        referrer_external=patient.referrer_external,
        tags=sorted(patient.tags.values_list("name", flat=True)), notes=patient.notes,
        consents=[
            ConsentOut(channel=c.channel, purpose=c.purpose, is_granted=c.is_granted,
                       origin=c.origin, recorded_at=c.recorded_at)
            for c in consents
        ],
    )  # fmt: skip


def _form_data(values: dict[str, Any]) -> dict[str, Any]:
    """Turn API values into form data (the form is the one validator of patient input)."""
    data: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        data[key] = [str(v) for v in value] if isinstance(value, list) else str(value)
    return data


def _validated(
    access: BranchAccess, values: dict[str, Any], patient: Patient | None
) -> PatientForm:
    form = PatientForm(_form_data(values), access=access, patient=patient)
    if not form.is_valid():
        raise InvalidInput(
            {field: [str(m) for m in messages] for field, messages in form.errors.items()}
        )
    return form


class ListFilters(Schema):
    q: str = Field("", description="name (any case, no diacritics needed), number or phone")
    scope: str = Field(
        "branch", description="branch: this branch's patients; all: the organisation's"
    )


@router.get("", response=list[PatientListOut], summary="Search patients")
@paginate(LimitOffsetPagination)
def patient_list(request: HttpRequest, filters: Query[ListFilters]) -> Any:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    return list_patients(
        branch=access.branch, query=filters.q, home_branch_only=filters.scope != "all"
    )


@router.post("", response={201: PatientOut}, summary="Register a patient")
def patient_create(request: HttpRequest, payload: PatientIn) -> Status[PatientOut]:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_CREATE)
    values = payload.dict()
    values.setdefault("home_branch", None)
    if values["home_branch"] is None:
        values["home_branch"] = access.branch.pk
    values.setdefault("name_order", None)
    if values["name_order"] is None:
        values["name_order"] = (
            PatientForm(access=access).fields["name_order"].initial or "given_first"
        )
    values["sex"] = values.get("sex") or "unknown"
    values["status"] = values.get("status") or "active"
    form = _validated(access, values, None)
    patient = create_patient(
        actor=acting_user(request),
        data=form.to_data(), consents=form.consent_choices(),
        consent_origin=form.cleaned_data["consent_origin"],
    )  # fmt: skip
    return Status(201, _patient_out(patient))


@router.get("/{int:patient_id}", response=PatientOut, summary="One patient (the view is audited)")
def patient_detail(request: HttpRequest, patient_id: int) -> PatientOut:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id)
    record_patient_view(
        actor=acting_user(request),
        patient=patient, branch=access.branch, ip_address=client_ip(request),
    )  # fmt: skip
    return _patient_out(patient)


@router.patch("/{int:patient_id}", response=PatientOut, summary="Change a patient")
def patient_update(request: HttpRequest, patient_id: int, payload: PatientPatch) -> PatientOut:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id, capability=Capability.PATIENT_EDIT)
    values = {**PatientForm.initial_for(patient), **payload.dict(exclude_unset=True)}
    form = _validated(access, values, patient)
    return _patient_out(
        update_patient(actor=acting_user(request), patient=patient, data=form.to_data())
    )
