"""Rows for the lab tests, at a fixed "now": Tuesday 5 March 2030, 10:00 in Saigon
(branch A's zone, 03:00 UTC)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chairtime.clinical.models import (
    OptionStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.labs.models import Lab, LabCase
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import default_branch_access
from chairtime.tenancy.models import Branch, Organization
from tests.factories import AppointmentFactory, ProcedureFactory, UserFactory

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2030, 3, 5, 3, 0, tzinfo=UTC)
TODAY = date(2030, 3, 5)


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SAIGON)


def make_lab(organization: Organization, name: str = "Smile Lab", **fields: Any) -> Lab:
    values: dict[str, Any] = {"default_turnaround_days": 7, **fields}
    lab: Lab = Lab.objects.create(organization=organization, name=name, **values)
    return lab


def appointment(
    branch: Branch, patient: Patient, starts_at: datetime, *, code: str = "CROWN", **fields: Any
) -> Appointment:
    procedure = ProcedureFactory(
        organization=branch.organization, code=f"{code}-{Appointment.objects.count()}",
        category="prosthetic", needs_lab_case=True,
    )  # fmt: skip
    made: Appointment = AppointmentFactory(
        branch=branch, patient=patient, procedure=procedure, starts_at=starts_at, **fields
    )
    return made


def plan_item(branch: Branch, patient: Patient, *, teeth: tuple[int, ...] = (16,)) -> TreatmentItem:
    """An accepted plan's item for a crown, written straight to the tables."""
    plan = TreatmentPlan.objects.create(
        branch=branch, patient=patient, title="Crowns", doctor=UserFactory(), presented_at=NOW,
        expires_on=TODAY + timedelta(days=90), status=PlanStatus.ACCEPTED, accepted_at=NOW,
    )  # fmt: skip
    option = TreatmentOption.objects.create(plan=plan, label="A", status=OptionStatus.ACCEPTED)
    procedure = ProcedureFactory(
        organization=branch.organization, code=f"CROWN-Z{TreatmentItem.objects.count()}",
        category="prosthetic", needs_lab_case=True,
    )  # fmt: skip
    price = Decimal("500000")
    item: TreatmentItem = TreatmentItem.objects.create(
        option=option, procedure=procedure, unit_price=price, amount=price, teeth=list(teeth)
    )
    return item


def make_case(
    branch: Branch, patient: Patient, lab: Lab, *, status: str = "sent", due_on: date | None = None,
    kind: str = "crown", appointment: Appointment | None = None, ordered_at: datetime = NOW,
) -> LabCase:  # fmt: skip
    """A case written straight to the table in any status (step times filled as needed)."""
    sent = status not in ("ordered", "cancelled")
    case: LabCase = LabCase.objects.create(
        branch=branch, patient=patient, lab=lab, kind=kind, status=status,
        due_on=due_on or TODAY + timedelta(days=7), appointment=appointment,
        ordered_at=ordered_at, sent_at=ordered_at if sent else None,
        received_at=ordered_at if status in ("received", "quality_checked") else None,
    )  # fmt: skip
    return case


def walk_case(patient: Patient, user: Any) -> dict[str, int]:
    """A sent case of the patient in the user's branch (for the role walk)."""
    access = default_branch_access(user) if user is not None else None
    branch = access.branch if access is not None else patient.home_branch
    lab = Lab.objects.filter(organization_id=branch.organization_id).first() or make_lab(
        branch.organization, name="Walk Lab"
    )
    return {"case_id": make_case(branch, patient, lab).pk}


def walk_lab(patient: Patient, user: Any) -> dict[str, int]:
    lab = Lab.objects.filter(organization_id=patient.organization_id).first() or make_lab(
        patient.organization, name="Walk Lab"
    )
    return {"lab_id": lab.pk}
