"""API of lab cases and labs, in the active branch (X-Branch).

Reading needs lab.view; ordering, stepping and the labs list lab.edit; missing and
forbidden both answer 404. Input goes through the same services as the pages, so the API
refuses exactly what the pages refuse, with the same messages (422 naming the field).
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.labs.access import access_case
from chairtime.labs.choices import LabCaseStatus
from chairtime.labs.models import Lab, LabCase
from chairtime.labs.selectors import (
    CaseFilters,
    list_cases,
    list_labs,
    overdue_per_lab,
    today_in,
)
from chairtime.labs.services import order_case, step_case
from chairtime.patients.access import access_patient
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["labs"])


class CaseOut(Schema):
    id: int
    branch_id: int
    patient_id: int
    patient_name: str
    lab_id: int
    lab_name: str
    kind: str
    teeth: list[int]
    shade: str
    notes: str
    status: str
    due_on: date | None
    is_back: bool
    is_overdue: bool
    appointment_id: int | None
    plan_item_id: int | None
    ordered_at: datetime
    sent_at: datetime | None
    received_at: datetime | None
    checked_at: datetime | None
    returned_at: datetime | None
    cancelled_at: datetime | None
    remake_count: int


class CaseQuery(Schema):
    status: str = Field(
        "", description="ordered, sent, received, quality_checked, returned, cancelled"
    )
    lab: int | None = Field(None, ge=1)
    overdue: bool = False
    patient: int | None = Field(None, ge=1)
    appointment: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0)


class CaseIn(Schema):
    patient_id: int
    lab_id: int
    kind: str = Field(..., description="crown, bridge, implant_abutment, aligner, appliance, other")
    teeth: list[int] = Field(default_factory=list, description="FDI numbers")
    shade: str = ""
    notes: str = ""
    due_on: date | None = Field(None, description="default: the lab's turnaround")
    appointment_id: int | None = None
    plan_item_id: int | None = None


class StepIn(Schema):
    step: str = Field(..., description="send, receive, check, return, cancel")
    due_on: date | None = Field(None, description="send / return only; default: turnaround")
    note: str = ""


class LabOut(Schema):
    id: int
    name: str
    phone: str
    email: str
    default_turnaround_days: int
    turnaround_days: dict[str, int]
    is_active: bool


class OverdueLabOut(Schema):
    lab_id: int
    lab_name: str
    count: int
    cases: list[CaseOut]


# The services name the things they resolve (`lab`); the payload names their ids (`lab_id`).
PAYLOAD_NAMES = {
    "patient": "patient_id", "lab": "lab_id", "appointment": "appointment_id",
    "plan_item": "plan_item_id",
}  # fmt: skip


def _in_payload_names(error: InvalidInput) -> InvalidInput:
    """The same refusal with each field named as the payload names it."""
    return type(error)({PAYLOAD_NAMES.get(k, k): v for k, v in error.errors.items()})


def _case_out(case: LabCase, today: date) -> CaseOut:
    return CaseOut(
        id=case.pk, branch_id=case.branch_id, patient_id=case.patient_id,
        patient_name=case.patient.display_name, lab_id=case.lab_id, lab_name=case.lab.name,
        kind=case.kind, teeth=list(case.teeth), shade=case.shade, notes=case.notes,
        status=case.status, due_on=case.due_on, is_back=case.is_back,
        is_overdue=case.is_pending and case.due_on is not None and case.due_on < today,
        appointment_id=case.appointment_id, plan_item_id=case.plan_item_id,
        ordered_at=case.ordered_at, sent_at=case.sent_at, received_at=case.received_at,
        checked_at=case.checked_at, returned_at=case.returned_at,
        cancelled_at=case.cancelled_at, remake_count=case.remake_count,
    )  # fmt: skip


def _lab_out(lab: Lab) -> LabOut:
    return LabOut(
        id=lab.pk, name=lab.name, phone=lab.phone, email=lab.email,
        default_turnaround_days=lab.default_turnaround_days,
        turnaround_days=dict(lab.turnaround_days), is_active=lab.is_active,
    )  # fmt: skip


@router.get("/cases", response=list[CaseOut], summary="The branch's lab cases")
def case_list(request: HttpRequest, query: Query[CaseQuery]) -> list[CaseOut]:
    access = api_branch_access(request)
    access.require(Capability.LAB_VIEW)
    if query.status and query.status not in LabCaseStatus.values:
        raise InvalidInput.on("status", _("Choose one of the listed statuses."))
    today = today_in(access.branch)
    filters = CaseFilters(
        status=query.status, lab_id=query.lab, is_overdue=query.overdue,
        patient_id=query.patient, appointment_id=query.appointment,
    )  # fmt: skip
    cases = list_cases(branch=access.branch, filters=filters, today=today)
    return [_case_out(c, today) for c in cases[query.offset : query.offset + query.limit]]


@router.get("/cases/{int:case_id}", response=CaseOut, summary="One lab case")
def case_detail(request: HttpRequest, case_id: int) -> CaseOut:
    access = api_branch_access(request)
    return _case_out(access_case(access, case_id), today_in(access.branch))


@router.post("/cases", response={201: CaseOut}, summary="Order a lab case")
def case_create(request: HttpRequest, payload: CaseIn) -> Status[CaseOut]:
    access = api_branch_access(request)
    access.require(Capability.LAB_EDIT)
    patient = access_patient(access, payload.patient_id, capability=Capability.LAB_EDIT)
    try:
        case = order_case(
            actor=acting_user(request), branch=access.branch, patient=patient,
            lab_id=payload.lab_id, kind=payload.kind, teeth=payload.teeth, shade=payload.shade,
            notes=payload.notes, due_on=payload.due_on, appointment_id=payload.appointment_id,
            plan_item_id=payload.plan_item_id,
        )  # fmt: skip
    except InvalidInput as error:
        raise _in_payload_names(error) from None
    return Status(201, _case_out(access_case(access, case.pk), today_in(access.branch)))


@router.post(
    "/cases/{int:case_id}/steps",
    response=CaseOut,
    summary="Move a case one step",
    description="send (ordered → sent), receive (sent or returned → received), check "
    "(received → quality_checked), return (back → returned for a remake), cancel. A step "
    "out of order answers 422 naming `step` and why.",
)
def case_step(request: HttpRequest, case_id: int, payload: StepIn) -> CaseOut:
    access = api_branch_access(request)
    case = access_case(access, case_id, capability=Capability.LAB_EDIT)
    step_case(
        actor=acting_user(request), case=case, step=payload.step, due_on=payload.due_on,
        note=payload.note,
    )  # fmt: skip
    return _case_out(access_case(access, case_id), today_in(access.branch))


@router.get("/labs", response=list[LabOut], summary="The organisation's labs")
def lab_list(request: HttpRequest) -> list[LabOut]:
    access = api_branch_access(request)
    access.require(Capability.LAB_EDIT)
    return [_lab_out(lab) for lab in list_labs(organization=access.branch.organization)]


@router.get("/overdue", response=list[OverdueLabOut], summary="Overdue cases per lab")
def overdue(request: HttpRequest) -> list[OverdueLabOut]:
    access = api_branch_access(request)
    access.require(Capability.LAB_VIEW)
    today = today_in(access.branch)
    return [
        OverdueLabOut(
            lab_id=row.lab.pk,
            lab_name=row.lab.name,
            count=row.count,
            cases=[_case_out(case, today) for case in row.cases],
        )
        for row in overdue_per_lab(branch=access.branch, today=today)
    ]
