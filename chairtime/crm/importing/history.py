"""Visit and payment history from another system (ADR 9, "Imported history").

Rows name their patient by the ID the patients file gave them (`ExternalId` of kind
patient, same system), looked up once per chunk; a merged patient's history goes to the
record it was merged into. Good rows become `HistoricalVisit` / `HistoricalPayment` rows
with an `ExternalId` each, written as plain rows (COPY on PostgreSQL), so that a second run
of the same file finds them and adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.crm.choices import ExternalKind, ImportKind
from chairtime.crm.importing.rows import HistoryRow, KnownPatient, staff_keys
from chairtime.crm.importing.writing import allocate_ids, write_rows
from chairtime.crm.models import ExternalId, HistoricalPayment, HistoricalVisit, ImportJob
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient

EXTERNAL_KIND = {
    ImportKind.PATIENTS.value: ExternalKind.PATIENT.value,
    ImportKind.VISITS.value: ExternalKind.VISIT.value,
    ImportKind.PAYMENTS.value: ExternalKind.PAYMENT.value,
}
MAX_MERGE_CHAIN = 20  # a merged record's survivor merged again, and so on


def with_external_ids(rows: QuerySet[ExternalId], external_ids: list[str]) -> QuerySet[ExternalId]:
    """`rows` whose external ID is one of these."""
    if connection.vendor == "postgresql":
        # One array parameter: psycopg's client-side binding of a thousand-item IN list
        # costs more than the lookup itself.
        return rows.extra(where=["external_id = ANY(%s)"], params=[external_ids])
    return rows.filter(external_id__in=external_ids)


def staff_of(organization_id: int) -> dict[str, int | None]:
    """The organisation's staff by every text a file may name them by (see `staff_keys`);
    a text two people answer to maps to None."""
    staff: dict[str, int | None] = {}
    users = (
        User.objects.filter(memberships__organization_id=organization_id)
        .order_by("pk")
        .distinct()
        .values_list("pk", "email", "username", "first_name", "last_name")
    )
    for pk, email, username, first_name, last_name in users:
        keys = staff_keys(
            email=email, username=username, first_name=first_name, last_name=last_name
        )
        for key in keys:
            if key not in staff:
                staff[key] = pk
            elif staff[key] != pk:
                staff[key] = None
    return staff


def known_patients(job: ImportJob, references: list[str]) -> dict[str, KnownPatient]:
    """The chunk's patient references that lead to a patient of this system, and whom
    (the survivor of a merged record)."""
    wanted = sorted({reference for reference in references if reference})
    if not wanted:
        return {}
    found = dict(
        with_external_ids(
            ExternalId.objects.filter(
                organization_id=job.organization_id, system=job.source_system,
                kind=ExternalKind.PATIENT,
            ),
            wanted,
        ).values_list("external_id", "object_id")
    )  # fmt: skip
    patients = _patients(job.organization_id, set(found.values()))
    known: dict[str, KnownPatient] = {}
    for reference, patient_id in found.items():
        patient = _survivor(patient_id, patients)
        if patient is not None:
            known[reference] = patient
    return known


Facts = dict[int, tuple[int, str, int | None]]  # id -> (home branch, status, merged into)


def _patients(organization_id: int, ids: set[int]) -> Facts:
    """These patients and, following merges, the records they were merged into."""
    facts: Facts = {}
    for _depth in range(MAX_MERGE_CHAIN):
        missing = sorted(ids - set(facts))
        if not missing:
            break
        for pk, branch_id, status, merged_into in Patient.objects.filter(
            organization_id=organization_id, pk__in=missing
        ).values_list("pk", "home_branch_id", "status", "merged_into_id"):
            facts[pk] = (branch_id, status, merged_into)
        ids = {into for _b, status, into in facts.values() if into is not None} - set(facts)
    return facts


def _survivor(patient_id: int, patients: Facts) -> KnownPatient | None:
    seen: set[int] = set()
    current: int | None = patient_id
    while current is not None and current not in seen and current in patients:
        seen.add(current)
        branch_id, status, merged_into = patients[current]
        if status != PatientStatus.MERGED:
            return KnownPatient(id=current, home_branch_id=branch_id)
        current = merged_into
    return None


_VISIT_COLUMNS = (
    "id", "organization", "patient", "branch", "visited_on", "doctor", "doctor_name",
    "description", "amount", "currency", "source_system", "job", "created_at",
)  # fmt: skip
_PAYMENT_COLUMNS = (
    "id", "organization", "patient", "branch", "paid_on", "amount", "currency", "method",
    "reference", "source_system", "job", "created_at",
)  # fmt: skip
_EXTERNAL_COLUMNS = ("organization", "system", "kind", "external_id", "object_id", "job")


def create_history(job: ImportJob, rows: list[HistoryRow]) -> set[int]:
    """The chunk's visits or payments and their external IDs; returns the patients whose
    history grew. Call inside the chunk's transaction."""
    is_visits = job.kind == ImportKind.VISITS
    model = HistoricalVisit if is_visits else HistoricalPayment
    ids = allocate_ids(model, len(rows))
    now = timezone.now()
    org, system = job.organization_id, job.source_system
    values: Iterable[tuple[object, ...]]
    if is_visits:
        values = (
            (pk, org, row.patient_id, row.branch.pk, row.on, row.doctor_id, row.doctor_name,
             row.description, row.amount, row.branch.currency, system, job.pk, now)
            for pk, row in zip(ids, rows, strict=True)
        )  # fmt: skip
    else:
        values = (
            (pk, org, row.patient_id, row.branch.pk, row.on, row.amount, row.branch.currency,
             row.method, row.reference, system, job.pk, now)
            for pk, row in zip(ids, rows, strict=True)
        )  # fmt: skip
    write_rows(model, _VISIT_COLUMNS if is_visits else _PAYMENT_COLUMNS, values)
    kind = EXTERNAL_KIND[job.kind]
    write_rows(
        ExternalId, _EXTERNAL_COLUMNS,
        ((org, system, kind, row.external_id, pk, job.pk) for pk, row in zip(ids, rows, strict=True)),
    )  # fmt: skip
    return {row.patient_id for row in rows}
