"""Rows and files for the visit and payment history tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.crm.choices import ExternalKind, ImportMode
from chairtime.crm.importing.services import create_job, set_mapping
from chairtime.crm.models import ExternalId, HistoricalPayment, HistoricalVisit, ImportJob
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch

VISITS_HEADER = "Visit ID,Patient ID,Date,Branch,Doctor,Treatment,Amount\n"
PAYMENTS_HEADER = "Payment ID,Patient ID,Date,Amount,Method,Reference,Branch\n"


def known_as(patient: Patient, external_id: str, system: str = "OldDent") -> ExternalId:
    """The patient as if the patients file of `system` had brought them in."""
    return ExternalId.objects.create(
        organization_id=patient.organization_id, system=system, kind=ExternalKind.PATIENT,
        external_id=external_id, object_id=patient.pk,
    )  # fmt: skip


def history_job(
    branch: Branch, actor: User | None, kind: str, content: str | bytes, *,
    mode: str = ImportMode.GOOD_ROWS, name: str = "", **options: str,
) -> ImportJob:  # fmt: skip
    """An uploaded history file, mapped as proposed."""
    data = content.encode() if isinstance(content, str) else content
    job = create_job(
        actor=actor, branch=branch, upload=SimpleUploadedFile(name or f"{kind}.csv", data),
        kind=kind, source_system=options.pop("source_system", "OldDent"), **options,
    )  # fmt: skip
    return set_mapping(job, job.mapping, mode)


def historical_visit(
    patient: Patient, on: date, amount: str | None = None, *, branch: Branch | None = None,
    system: str = "OldDent", description: str = "", doctor_name: str = "",
) -> HistoricalVisit:  # fmt: skip
    branch = branch or patient.home_branch
    visit: HistoricalVisit = HistoricalVisit.objects.create(
        organization_id=patient.organization_id, patient=patient, branch=branch, visited_on=on,
        amount=None if amount is None else Decimal(amount), currency=branch.currency,
        source_system=system, description=description, doctor_name=doctor_name,
        created_at=timezone.now(),
    )  # fmt: skip
    return visit


def historical_payment(
    patient: Patient, on: date, amount: str, *, currency: str = "", method: str = "",
    system: str = "OldDent",
) -> HistoricalPayment:  # fmt: skip
    payment: HistoricalPayment = HistoricalPayment.objects.create(
        organization_id=patient.organization_id, patient=patient, branch=patient.home_branch,
        paid_on=on, amount=Decimal(amount), currency=currency or patient.home_branch.currency,
        method=method, source_system=system, created_at=timezone.now(),
    )  # fmt: skip
    return payment
