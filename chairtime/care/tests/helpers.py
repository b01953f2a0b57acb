"""Rows for the care tests, written straight to the tables, at a fixed "now".

NOW is Tuesday 5 March 2030, 10:00 in Saigon (branch A's zone, 03:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.care.choices import TaskKind, TaskStatus
from chairtime.care.models import CareTask
from chairtime.care.services import GenerationResult, generate_care_tasks
from chairtime.clinical.models import (
    ItemStatus,
    OptionStatus,
    PerformedProcedure,
    PlanStatus,
    Procedure,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.crm.models import PatientProfile
from chairtime.crm.profiles.compute import refresh_profiles
from chairtime.patients.models import Consent, Patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import default_branch_access
from chairtime.tenancy.models import Branch, Organization
from tests.factories import AppointmentFactory, PatientProfileFactory, ProcedureFactory

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2030, 3, 5, 3, 0, tzinfo=UTC)
TODAY = date(2030, 3, 5)


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A Saigon wall-clock time as an aware instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=SAIGON)


def procedure(
    organization: Organization, code: str, category: str, recall: int | None = None
) -> Procedure:
    found: Procedure = ProcedureFactory(
        organization=organization, code=code, name=code, category=category,
        recall_interval_months=recall,
    )  # fmt: skip
    return found


def visit(
    branch: Branch, patient: Patient, doctor: User, starts_at: datetime, procedure: Procedure,
    *, status: str = "completed",
) -> Appointment:  # fmt: skip
    """An appointment; a completed one has its procedure performed (production)."""
    appointment: Appointment = AppointmentFactory(
        branch=branch, patient=patient, doctor=doctor, procedure=procedure, starts_at=starts_at,
        status=status,
        completed_at=starts_at + timedelta(minutes=30) if status == "completed" else None,
    )  # fmt: skip
    if status == "completed":
        performed(appointment)
    return appointment


def performed(appointment: Appointment, procedure: Procedure | None = None) -> PerformedProcedure:
    return PerformedProcedure.objects.create(
        branch=appointment.branch, patient=appointment.patient, appointment=appointment,
        procedure=procedure or appointment.procedure, doctor=appointment.doctor,
        performed_at=appointment.starts_at, chair_minutes=30, unit_price=Decimal("500000"),
        amount=Decimal("500000"),
    )  # fmt: skip


def done_on(
    branch: Branch, patient: Patient, doctor: User, day: date, procedure: Procedure,
    hour: int = 9,
) -> Appointment:  # fmt: skip
    """A completed visit at `hour` (Saigon) on `day` with `procedure` performed."""
    return visit(branch, patient, doctor, local(day, hour), procedure)


def profile(patient: Patient, **fields: Any) -> PatientProfile:
    """The patient's CRM profile with the figures care reads (written, not computed)."""
    found: PatientProfile = PatientProfileFactory(patient=patient, **fields)
    return found


def computed_profile(patient: Patient, now: datetime = NOW) -> PatientProfile:
    """The patient's CRM profile as the CRM computes it from their history (what the
    commit of a performed procedure does in production)."""
    refresh_profiles([patient.pk], now=now)
    return PatientProfile.objects.get(patient=patient)


def accepted_plan(
    branch: Branch, patient: Patient, doctor: User, procedure: Procedure, accepted_at: datetime,
    *, consultant: User | None = None, item_status: str = ItemStatus.PLANNED,
) -> TreatmentPlan:  # fmt: skip
    """An accepted plan with one accepted option of one item (planned unless told)."""
    plan = TreatmentPlan.objects.create(
        branch=branch, patient=patient, title="Implant 36", doctor=doctor,
        consultant=consultant, status=PlanStatus.ACCEPTED, presented_at=accepted_at,
        expires_on=accepted_at.date() + timedelta(days=90), accepted_at=accepted_at,
    )  # fmt: skip
    option = TreatmentOption.objects.create(plan=plan, label="A", status=OptionStatus.ACCEPTED)
    TreatmentItem.objects.create(
        option=option, procedure=procedure, unit_price=Decimal("9000000"),
        amount=Decimal("9000000"), status=item_status, teeth=[36],
    )  # fmt: skip
    return plan


def refuse_calls(patient: Patient, at: datetime = NOW) -> Consent:
    return Consent.objects.create(
        patient=patient, channel="phone", purpose="service", is_granted=False,
        origin="verbal", recorded_at=at - timedelta(days=1),
    )  # fmt: skip


def generate(organization: Organization, now: datetime = NOW) -> GenerationResult:
    return generate_care_tasks(organization=organization, now=now)


def tasks_of(kind: str | None = None, **filters: Any) -> list[CareTask]:
    found = CareTask.objects.all() if kind is None else CareTask.objects.filter(kind=kind)
    return list(found.filter(**filters).order_by("pk"))


def snapshot() -> list[tuple[Any, ...]]:
    """Every task as plain values, to compare two runs row for row."""
    return list(
        CareTask.objects.order_by("pk").values_list(
            "pk", "kind", "patient_id", "branch_id", "status", "due_at", "next_attempt_at",
            "assigned_to_id", "assigned_role", "attempts", "cause_key", "cancel_reason",
            "updated_at",
        )
    )  # fmt: skip


def make_task(
    branch: Branch, patient: Patient, *, kind: str = TaskKind.RECALL_DUE,
    due_at: datetime | None = None, assigned_to: User | None = None,
    assigned_role: str = "receptionist", max_attempts: int = 3, cool_off_days: int = 2,
    key: str = "", status: str = TaskStatus.OPEN, **extra: Any,
) -> CareTask:  # fmt: skip
    """A task written straight to the table (as if a rule had made it)."""
    due_at = due_at or NOW
    return CareTask.objects.create(
        **extra,
        organization_id=branch.organization_id, branch=branch, patient=patient, kind=kind,
        status=status, due_at=due_at, next_attempt_at=due_at, assigned_to=assigned_to,
        assigned_role=assigned_role, max_attempts=max_attempts, cool_off_days=cool_off_days,
        cause_key=key or f"test:{kind}:{patient.pk}:{CareTask.objects.count()}",
        closed_at=None if status == TaskStatus.OPEN else due_at,
    )  # fmt: skip


def walk_task(patient: Patient, user: User | None) -> dict[str, int]:
    """For the role walk: an open task of the patient, due now, in the user's branch."""
    access = default_branch_access(user) if user is not None else None
    branch = access.branch if access is not None else patient.home_branch
    task = make_task(branch, patient, due_at=timezone.now() - timedelta(hours=1))
    return {"task_id": task.pk}
