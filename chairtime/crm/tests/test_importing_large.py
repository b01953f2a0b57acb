"""The issue's import test: 100,000 rows, 5% broken in varied ways."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from chairtime.accounts.models import User
from chairtime.crm.choices import ImportMode, ImportStatus
from chairtime.crm.importing.sample import patient_csv
from chairtime.crm.importing.services import create_job, run_job, set_mapping
from chairtime.crm.models import ExternalId, ImportRowError
from chairtime.patients.models import Patient, PatientPhone
from chairtime.tenancy.roles import Role
from conftest import World

ROWS = 100_000


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path


@pytest.mark.django_db
def test_hundred_thousand_rows_with_five_percent_broken(world: World, persona) -> None:
    owner: User = persona(Role.OWNER)
    sample = patient_csv(ROWS, branch_codes=("a", "b"))
    assert len(sample.broken) == ROWS // 20
    assert set(sample.broken.values()) == {
        "phone",
        "family_name",
        "birth_date",
        "email",
        "home_branch",
        "external_id",
        "row",
    }
    job = create_job(
        actor=owner,
        branch=world.branch_a,
        source_system="OldDent",
        upload=SimpleUploadedFile("patients.csv", sample.content),
    )
    assert job.total_rows == ROWS
    set_mapping(job, job.mapping, ImportMode.GOOD_ROWS)

    done = run_job(job)

    assert (done.status, done.total_rows, done.bad_rows) == (ImportStatus.DONE, ROWS, 5_000)
    assert (done.created_rows, done.skipped_rows) == (95_000, 0)
    reported = dict(ImportRowError.objects.filter(job=job).values_list("line", "field"))
    assert reported == sample.broken
    assert Patient.objects.filter(organization=world.acme).count() == 95_000
    assert PatientPhone.objects.filter(patient__organization=world.acme).count() == 95_000
    assert ExternalId.objects.filter(organization=world.acme).count() == 95_000
    numbers = Patient.objects.filter(organization=world.acme).values_list("number", flat=True)
    assert len(set(numbers)) == 95_000

    again = create_job(
        actor=owner,
        branch=world.branch_a,
        source_system="OldDent",
        upload=SimpleUploadedFile("patients.csv", sample.content),
    )
    set_mapping(again, again.mapping, ImportMode.GOOD_ROWS)
    second = run_job(again)

    assert (second.created_rows, second.skipped_rows, second.bad_rows) == (0, 95_000, 5_000)
    assert Patient.objects.filter(organization=world.acme).count() == 95_000
    assert ExternalId.objects.filter(organization=world.acme).count() == 95_000
