"""Reads of patients for pages and the API."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient, PatientPhone, Tag
from chairtime.tenancy.models import Branch

PAGE_SIZE = 50


def list_patients(
    *, branch: Branch, query: str = "", home_branch_only: bool = True
) -> QuerySet[Patient]:
    """The patient list: search over the organisation, optionally only this branch's own.

    Merged records are left out: their visits and money live on the surviving record.
    """
    patients = Patient.objects.for_branch(branch).exclude(status=PatientStatus.MERGED)
    if home_branch_only:
        patients = patients.filter(home_branch=branch)
    if query.strip():
        patients = patients.matching(query)
    return patients.select_related("home_branch").prefetch_related(
        Prefetch(
            "phones",
            queryset=PatientPhone.objects.filter(is_primary=True),
            to_attr="primary_phones",
        )
    )


def list_patient_tags(*, branch: Branch) -> QuerySet[Tag]:
    return Tag.objects.filter(organization_id=branch.organization_id)
