"""The issue's history import test: 5,000 rows, 5% broken in varied ways, every broken row
reported with its field and reason, every good row in, a second run adding nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum

from chairtime.accounts.models import User
from chairtime.crm.choices import ImportKind, ImportMode, ImportStatus
from chairtime.crm.importing.sample import patient_csv, payment_csv, visit_csv
from chairtime.crm.importing.services import create_job, run_job, set_mapping
from chairtime.crm.models import (
    ExternalId,
    HistoricalPayment,
    HistoricalVisit,
    ImportJob,
    ImportRowError,
    PatientProfile,
)
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World

ROWS = 5_000
PATIENTS = 300


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path


def imported(branch: Branch, owner: User, kind: str, content: bytes) -> ImportJob:
    job = create_job(
        actor=owner, branch=branch, source_system="OldDent", kind=kind,
        upload=SimpleUploadedFile(f"{kind}.csv", content),
    )  # fmt: skip
    set_mapping(job, job.mapping, ImportMode.GOOD_ROWS)
    return run_job(job)


@pytest.mark.parametrize("kind", [ImportKind.VISITS, ImportKind.PAYMENTS])
def test_five_thousand_history_rows_with_five_percent_broken(
    world: World, persona: Callable[[Role], User], kind: str
) -> None:
    owner = persona(Role.OWNER)
    patients = imported(
        world.branch_a, owner, ImportKind.PATIENTS, patient_csv(PATIENTS, broken_share=0).content
    )
    assert patients.created_rows == PATIENTS
    ids = [f"BN{index:07d}" for index in range(PATIENTS)]
    make = visit_csv if kind == ImportKind.VISITS else payment_csv
    sample = make(ROWS, ids, branch_codes=("a", "b"))
    model = HistoricalVisit if kind == ImportKind.VISITS else HistoricalPayment
    assert len(sample.broken) == ROWS // 20
    varieties = {(sample.broken[line], sample.codes[line]) for line in sample.broken}
    assert len(varieties) == (13 if kind == ImportKind.VISITS else 12)  # field and reason

    done = imported(world.branch_a, owner, kind, sample.content)

    assert (done.status, done.total_rows, done.bad_rows) == (ImportStatus.DONE, ROWS, 250)
    assert (done.created_rows, done.skipped_rows) == (4_750, 0)
    reported = list(ImportRowError.objects.filter(job=done).values_list("line", "field", "code"))
    assert reported == [
        (line, sample.broken[line], sample.codes[line]) for line in sorted(sample.broken)
    ]
    assert model.objects.filter(organization=world.acme).count() == 4_750
    kind_of_id = "visit" if kind == ImportKind.VISITS else "payment"
    assert ExternalId.objects.filter(kind=kind_of_id).count() == 4_750
    profiles = PatientProfile.objects.filter(organization=world.acme)
    if kind == ImportKind.VISITS:
        assert profiles.aggregate(n=Sum("visit_count"))["n"] == 4_750
    else:
        paid = HistoricalPayment.objects.aggregate(total=Sum("amount"))["total"]
        assert paid > Decimal("0")
        assert profiles.aggregate(total=Sum("spend_total"))["total"] == paid

    again = imported(world.branch_a, owner, kind, sample.content)

    assert (again.created_rows, again.skipped_rows, again.bad_rows) == (0, 4_750, 250)
    assert model.objects.filter(organization=world.acme).count() == 4_750
    assert ExternalId.objects.filter(kind=kind_of_id).count() == 4_750
