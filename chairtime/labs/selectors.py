"""Reads of lab cases: the branch's cases (filtered), the flags the day view and the
meetings show on appointments whose case is not back, and overdue cases per lab."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from chairtime.clinical.models import Procedure, ProcedureCategory
from chairtime.labs.choices import BACK_STATUSES, NOT_BACK_STATUSES, CaseKind, LabCaseStatus
from chairtime.labs.models import Lab, LabCase
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch, Organization


def today_in(branch: Branch, now: datetime | None = None) -> date:
    """The branch's local date: what "overdue" is measured against."""
    return timezone.localdate(now or timezone.now(), timezone=branch.zone)


def _overdue(today: date) -> Q:
    return Q(status__in=NOT_BACK_STATUSES, due_on__lt=today)


# --- flags on appointments (the contract with the front desk's meetings) -------------------
@dataclass(frozen=True)
class CaseFlag:
    """One lab case of an appointment, as the book and the meetings show it."""

    case_id: int
    lab_name: str
    kind_label: str  # "Crown", "Aligner" … (translated)
    status: str  # LabCaseStatus value
    status_label: str
    due_on: date | None
    is_back: bool  # received or quality-checked
    is_overdue: bool  # not back and due_on before `today`


def _flag(case: LabCase, today: date) -> CaseFlag:
    is_back = case.status in BACK_STATUSES
    return CaseFlag(
        case_id=case.pk, lab_name=case.lab.name, kind_label=str(CaseKind(case.kind).label),
        status=case.status, status_label=str(LabCaseStatus(case.status).label),
        due_on=case.due_on, is_back=is_back,
        is_overdue=not is_back and case.due_on is not None and case.due_on < today,
    )  # fmt: skip


def flags_for_appointments(
    appointment_ids: Iterable[int], *, today: date
) -> dict[int, list[CaseFlag]]:
    """The lab cases (cancelled ones left out) of each appointment that has any, soonest
    due first, in one query whatever the number of appointments."""
    ids = sorted(set(appointment_ids))
    flags: dict[int, list[CaseFlag]] = {}
    if not ids:
        return flags
    cases = (
        LabCase.objects.filter(appointment_id__in=ids)
        .exclude(status=LabCaseStatus.CANCELLED)
        .select_related("lab")
        .order_by("appointment_id", "due_on", "pk")
    )
    for case in cases:
        if case.appointment_id is not None:  # always: filtered on it
            flags.setdefault(case.appointment_id, []).append(_flag(case, today))
    return flags


def unready_appointments(
    branch: Branch, *, start: datetime, end: datetime, today: date
) -> list[tuple[Appointment, list[CaseFlag]]]:
    """Appointments of the branch starting in [start, end), not cancelled or missed, with at
    least one case not back; each with all its (not cancelled) cases. Two queries."""
    pending = LabCase.objects.filter(appointment_id=OuterRef("pk"), status__in=NOT_BACK_STATUSES)
    appointments = list(
        Appointment.objects.filter(branch=branch, starts_at__gte=start, starts_at__lt=end)
        .exclude(status__in=RELEASED_STATUSES)
        .filter(Exists(pending))
        .select_related("patient", "procedure", "doctor", "chair")
        .order_by("starts_at", "pk")
    )
    flags = flags_for_appointments([a.pk for a in appointments], today=today)
    return [(a, flags.get(a.pk, [])) for a in appointments]


# --- the case list ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseFilters:
    status: str = ""  # a LabCaseStatus value, "" for any
    lab_id: int | None = None
    is_overdue: bool = False
    patient_id: int | None = None
    appointment_id: int | None = None


def list_cases(*, branch: Branch, filters: CaseFilters, today: date) -> QuerySet[LabCase]:
    """The branch's cases matching the filters: soonest due first (undated last)."""
    rows = LabCase.objects.filter(branch=branch)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.lab_id is not None:
        rows = rows.filter(lab_id=filters.lab_id)
    if filters.is_overdue:
        rows = rows.filter(_overdue(today))
    if filters.patient_id is not None:
        rows = rows.filter(patient_id=filters.patient_id)
    if filters.appointment_id is not None:
        rows = rows.filter(appointment_id=filters.appointment_id)
    return rows.select_related("lab", "patient", "appointment").order_by(
        "due_on", "-ordered_at", "pk"
    )


def list_patient_cases(*, branch: Branch, patient_id: int) -> QuerySet[LabCase]:
    return list_cases(branch=branch, filters=CaseFilters(patient_id=patient_id), today=date.min)


# --- labs -----------------------------------------------------------------------------------
def list_labs(*, organization: Organization, active_only: bool = False) -> QuerySet[Lab]:
    rows = Lab.objects.filter(organization=organization)
    return rows.filter(is_active=True) if active_only else rows


# --- overdue per lab ------------------------------------------------------------------------
@dataclass(frozen=True)
class LabOverdue:
    """A lab with cases of the branch past their due date and not back."""

    lab: Lab
    count: int
    cases: list[LabCase]


def overdue_per_lab(*, branch: Branch, today: date) -> list[LabOverdue]:
    """Per lab, the branch's overdue cases (oldest due first); labs with most first."""
    cases = (
        LabCase.objects.filter(branch=branch)
        .filter(_overdue(today))
        .select_related("lab", "patient", "appointment")
        .order_by("due_on", "pk")
    )
    by_lab: dict[int, list[LabCase]] = {}
    labs: dict[int, Lab] = {}
    for case in cases:
        by_lab.setdefault(case.lab_id, []).append(case)
        labs[case.lab_id] = case.lab
    rows = [LabOverdue(lab=labs[k], count=len(v), cases=v) for k, v in by_lab.items()]
    return sorted(rows, key=lambda row: (-row.count, row.lab.name, row.lab.pk))


# --- a new case's defaults --------------------------------------------------------------------
def kind_for(procedure: Procedure) -> str:
    """The kind of lab work a procedure most likely needs (the form lets staff change it)."""
    code = procedure.code.upper()
    if procedure.category == ProcedureCategory.IMPLANT:
        return CaseKind.IMPLANT_ABUTMENT
    if procedure.category == ProcedureCategory.ORTHODONTIC:
        return CaseKind.APPLIANCE if "RETAIN" in code else CaseKind.ALIGNER
    if "BRIDGE" in code:
        return CaseKind.BRIDGE
    if "DENTURE" in code:
        return CaseKind.APPLIANCE
    if procedure.category in (ProcedureCategory.PROSTHETIC, ProcedureCategory.RESTORATIVE):
        return CaseKind.CROWN
    return CaseKind.OTHER


def find_patient(*, branch: Branch, number: str) -> Patient | None:
    """The organisation's patient with this number (as printed on their record)."""
    number = number.strip()
    if not number:
        return None
    return Patient.objects.for_branch(branch).filter(number__iexact=number).first()
