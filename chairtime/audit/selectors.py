"""Reads of the audit trail."""

from __future__ import annotations

from django.db.models import QuerySet

from chairtime.audit.models import AuditEvent
from chairtime.tenancy.models import Branch


def list_branch_events(*, branch: Branch) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(branch_id=branch.pk)


def list_patient_events(*, patient_id: int) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(patient_id=patient_id)
