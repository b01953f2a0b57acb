"""API of patient feedback: complaints and the NPS report, in the active branch.

Complaints need care.view to read and care.work to record or handle; the NPS report
needs analytics.view. Missing and forbidden both answer 404.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime
from typing import Annotated

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.accounts.models import User
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.crm.feedback.access import access_complaint
from chairtime.crm.feedback.selectors import NpsReport, NpsRow, list_complaints, nps_report
from chairtime.crm.feedback.services import record_complaint, update_complaint
from chairtime.crm.models import Complaint
from chairtime.patients.access import access_patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["feedback"])

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ComplaintIn(Schema):
    patient: Id
    category: str = Field(..., description="waiting, attitude, result, pain, billing, …")
    severity: str = Field(..., description="low, medium, high, critical")
    description: str = Field(..., max_length=5000)
    received_at: datetime | None = Field(None, description="default: now")
    appointment: Id | None = None
    doctor: Id | None = Field(None, description="the doctor concerned (a user id)")
    owner: Id | None = Field(None, description="who handles it (a user id)")


class ComplaintUpdateIn(Schema):
    status: str | None = Field(None, description="open, in_progress, resolved")
    owner: Id | None = None
    resolution: str | None = Field(None, max_length=5000)


class ComplaintOut(Schema):
    id: int
    branch_id: int
    patient_id: int
    appointment_id: int | None
    doctor_id: int | None
    category: str
    severity: str
    status: str
    description: str
    received_at: datetime
    owner_id: int | None
    resolution: str
    resolved_at: datetime | None
    resolved_by_id: int | None


class ComplaintFilters(Schema):
    status: str = ""
    severity: str = ""
    category: str = ""
    owner: int | None = None
    patient: int | None = None


class NpsRowOut(Schema):
    key: str | None
    label: str
    sent: int
    answered: int
    promoters: int
    passives: int
    detractors: int
    nps: str | None = Field(..., description="% promoters minus % detractors, one decimal")
    response_rate: str | None = Field(..., description="percent answered, one decimal")


class NpsReportOut(Schema):
    first_month: date
    last_month: date
    total: NpsRowOut
    by_doctor: list[NpsRowOut]
    by_branch: list[NpsRowOut]
    by_month: list[NpsRowOut]


class MonthsFilter(Schema):
    months: int = Field(12, ge=1, le=36)


def _complaint_out(c: Complaint) -> ComplaintOut:
    return ComplaintOut(
        id=c.pk, branch_id=c.branch_id, patient_id=c.patient_id,
        appointment_id=c.appointment_id, doctor_id=c.doctor_id, category=c.category,
        severity=c.severity, status=c.status, description=c.description,
        received_at=c.received_at, owner_id=c.owner_id, resolution=c.resolution,
        resolved_at=c.resolved_at, resolved_by_id=c.resolved_by_id,
    )  # fmt: skip


def _row_out(row: NpsRow) -> NpsRowOut:
    return NpsRowOut(
        key=None if row.key is None else str(row.key), label=row.label, sent=row.sent,
        answered=row.answered, promoters=row.promoters, passives=row.passives,
        detractors=row.detractors, nps=None if row.nps is None else str(row.nps),
        response_rate=None if row.response_rate is None else str(row.response_rate),
    )  # fmt: skip


def _report_out(report: NpsReport) -> NpsReportOut:
    return NpsReportOut(
        first_month=report.first_month, last_month=report.last_month,
        total=_row_out(report.total), by_doctor=[_row_out(r) for r in report.by_doctor],
        by_branch=[_row_out(r) for r in report.by_branch],
        by_month=[_row_out(r) for r in report.by_month],
    )  # fmt: skip


def _user(user_id: int | None, field: str) -> User | None:
    """A user by id; the service refuses anyone outside the organisation, naming `field`."""
    if user_id is None:
        return None
    found = User.objects.filter(pk=user_id).first()
    if found is None:
        raise InvalidInput.on(field, _("Choose a staff member of this organisation."))
    return found


def _appointment(access: BranchAccess, appointment_id: int | None) -> Appointment | None:
    if appointment_id is None:
        return None
    found = Appointment.objects.filter(pk=appointment_id, branch=access.branch).first()
    if found is None:
        raise InvalidInput.on("appointment", _("No such visit in this branch."))
    return found


@router.get("/complaints", response=list[ComplaintOut], summary="The branch's complaints")
def complaint_list(request: HttpRequest, filters: Query[ComplaintFilters]) -> list[ComplaintOut]:
    access = api_branch_access(request)
    access.require(Capability.CARE_VIEW)
    rows = list_complaints(
        branch=access.branch, status=filters.status, severity=filters.severity,
        category=filters.category, owner_id=filters.owner, patient_id=filters.patient,
    )  # fmt: skip
    return [_complaint_out(c) for c in rows[:500]]


@router.post("/complaints", response={201: ComplaintOut}, summary="Record a complaint")
def complaint_create(request: HttpRequest, payload: ComplaintIn) -> Status[ComplaintOut]:
    access = api_branch_access(request)
    access.require(Capability.CARE_WORK)
    try:
        patient = access_patient(access, payload.patient)
    except NotFound:
        raise InvalidInput.on("patient", _("No such patient.")) from None
    complaint = record_complaint(
        actor=acting_user(request), branch=access.branch, patient=patient,
        category=payload.category, severity=payload.severity,
        description=payload.description, received_at=payload.received_at,
        appointment=_appointment(access, payload.appointment),
        doctor=_user(payload.doctor, "doctor"), owner=_user(payload.owner, "owner"),
    )  # fmt: skip
    return Status(201, _complaint_out(complaint))


@router.get("/complaints/{int:complaint_id}", response=ComplaintOut, summary="One complaint")
def complaint_detail(request: HttpRequest, complaint_id: int) -> ComplaintOut:
    access = api_branch_access(request)
    return _complaint_out(access_complaint(access, complaint_id))


@router.patch(
    "/complaints/{int:complaint_id}",
    response=ComplaintOut,
    summary="Move a complaint on, hand it over or resolve it",
    description="Resolving needs a resolution. A resolved complaint can only be reopened.",
)
def complaint_update(
    request: HttpRequest, complaint_id: int, payload: ComplaintUpdateIn
) -> ComplaintOut:
    access = api_branch_access(request)
    complaint = access_complaint(access, complaint_id, capability=Capability.CARE_WORK)
    updated = update_complaint(
        actor=acting_user(request), complaint=complaint, status=payload.status,
        owner=_user(payload.owner, "owner"), resolution=payload.resolution,
    )  # fmt: skip
    return _complaint_out(updated)


@router.get("/nps", response=NpsReportOut, summary="NPS of the active branch")
def nps(request: HttpRequest, filters: Query[MonthsFilter]) -> NpsReportOut:
    access = api_branch_access(request)
    access.require(Capability.ANALYTICS_VIEW)
    today = timezone.localdate(timezone.now(), access.branch.zone)
    return _report_out(nps_report(branch=access.branch, months=filters.months, today=today))
