"""Import jobs for tests/test_role_walk.py: written straight to the table, no file."""

from __future__ import annotations

from chairtime.accounts.models import User
from chairtime.crm.models import ImportJob
from chairtime.patients.models import Patient
from chairtime.tenancy.access import default_branch_access


def walk_import_job(patient: Patient, user: User | None) -> dict[str, int]:
    """A checked job in the branch the user works in (the patient's home branch for anyone
    else), so that only the capability decides."""
    access = default_branch_access(user) if user is not None else None
    branch = access.branch if access is not None else patient.home_branch
    job = ImportJob.objects.create(
        organization_id=patient.organization_id, branch=branch, created_by=user,
        kind="patients", source_system="Walk", original_name="walk.csv",
        stored_path="walk/missing.csv", file_format="csv", default_country="VN",
        status="checked",
    )  # fmt: skip
    return {"job_id": job.pk}


def walk_imports_started(patient: Patient, user: User | None) -> int:
    return ImportJob.objects.filter(
        organization_id=patient.organization_id, source_system="Walk", status="importing"
    ).count()
