"""Rows for the feedback, referral and timeline tests, written straight to the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.billing.models import Invoice, InvoiceStatus
from chairtime.crm.models import Complaint
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import default_branch_access
from chairtime.tenancy.models import Branch
from tests.factories import AppointmentFactory, PatientFactory


def visit(
    branch: Branch,
    patient: Patient,
    doctor: User,
    starts_at: datetime,
    status: str = "completed",
) -> Appointment:
    """An appointment of the patient in the branch with this doctor and status."""
    appointment: Appointment = AppointmentFactory(
        branch=branch, patient=patient, doctor=doctor, starts_at=starts_at, status=status,
        completed_at=starts_at + timedelta(minutes=30) if status == "completed" else None,
    )  # fmt: skip
    return appointment


def invoice(
    branch: Branch, patient: Patient, total: str, *, status: str = InvoiceStatus.OPEN,
    issued_at: datetime | None = None,
) -> Invoice:  # fmt: skip
    issued_at = issued_at or datetime(2030, 1, 7, 4, 0, tzinfo=UTC)
    amount = Decimal(total)
    return Invoice.objects.create(
        branch=branch, patient=patient, number=f"T-{Invoice.objects.count() + 1}",
        currency=branch.currency, issued_at=issued_at, issued_on=issued_at.date(),
        due_on=issued_at.date(), subtotal=amount, total=amount, balance=amount, status=status,
    )  # fmt: skip


def referred(branch: Branch, name: str, **referrer: object) -> Patient:
    patient: Patient = PatientFactory(home_branch=branch, given_name=name, **referrer)
    return patient


def walk_complaint(patient: Patient, user: User | None) -> dict[str, int]:
    """For the role walk: a complaint of the patient in the branch the user logs in to."""
    access = default_branch_access(user) if user is not None else None
    branch = access.branch if access is not None else patient.home_branch
    complaint = Complaint.objects.create(
        organization_id=branch.organization_id, branch=branch, patient=patient,
        category="waiting", severity="low", description="Walk", received_at=timezone.now(),
    )  # fmt: skip
    return {"complaint_id": complaint.pk}
