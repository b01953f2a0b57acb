"""Visit and payment history through the import page, the API and the command."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.crm.choices import ImportStatus
from chairtime.crm.importing.tasks import check_import_task, run_import_task
from chairtime.crm.models import HistoricalPayment, HistoricalVisit, ImportJob
from chairtime.crm.tests.helpers_history import known_as
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory

VISITS = (
    "Mã lượt khám,Mã bệnh nhân,Ngày khám,Bác sĩ,Nội dung,Thành tiền\n"
    "LK1,BN1,2024-03-05,BS. Minh,Cạo vôi răng,300000\n"
    "LK2,BN9,2024-03-06,,,\n"
    "LK3,BN1,05/04/2024,,,\n"
    "LK4,BN1,2024-04-10,,Trám răng,150.000\n"
    "LK5,BN1,2024-05-10,,Khám,\n"
)
PAYMENTS = (
    "Recibo,Paciente,Fecha de pago,Importe,Forma de pago\n"
    "R1,BN1,2024-03-05,500000,Efectivo\n"
    "R2,BN1,2024-03-06,0,Tarjeta\n"
)


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path


@pytest.fixture
def an(world: World) -> Patient:
    patient: Patient = PatientFactory(home_branch=world.branch_a)
    known_as(patient, "BN1")
    return patient


def test_a_visits_file_through_the_pages(
    world: World, an: Patient, persona: Callable[[Role], User],
    logged_in: Callable[[User], Client], django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    manager = persona(Role.BRANCH_MANAGER)
    client = logged_in(manager)
    form = client.get(reverse("crm:import_create")).content.decode()
    assert '<option value="visits">Visit history</option>' in form

    response = client.post(
        reverse("crm:import_create"),
        {"upload": SimpleUploadedFile("visits.csv", VISITS.encode()), "kind": "visits",
         "source_system": "OldDent", "encoding": "utf-8", "date_format": "iso"},
    )  # fmt: skip
    job = ImportJob.objects.get()
    assert (job.kind, response.status_code) == ("visits", 302)
    assert response["Location"] == reverse("crm:import_mapping", args=[job.pk])
    page = client.get(response["Location"]).content.decode()
    assert "Patient&#x27;s ID in the old system" in page
    assert 'value="Mã bệnh nhân" selected' in page and 'value="Thành tiền" selected' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("crm:import_mapping", args=[job.pk]),
            {"column_external_id": "Mã lượt khám", "column_patient_external_id": "Mã bệnh nhân",
             "column_date": "Ngày khám", "column_doctor": "Bác sĩ",
             "column_description": "Nội dung", "column_amount": "Thành tiền",
             "mode": "good_rows"},
        )  # fmt: skip
    assert response.status_code == 302
    poll = client.get(
        reverse("crm:import_detail", args=[job.pk]) + "?part=progress", HTTP_HX_REQUEST="true"
    )
    assert b"<progress" in poll.content

    assert check_import_task(job.pk) == ImportStatus.CHECKED
    detail = client.get(reverse("crm:import_detail", args=[job.pk])).content.decode()
    assert "Visit history" in detail
    assert "No patient imported from this system has the ID “BN9”." in detail
    assert "could be day/month or month/day" in detail
    assert "could be a thousands separator or decimals" in detail
    assert "Import 2 good rows" in detail
    errors = client.get(reverse("crm:import_errors_csv", args=[job.pk]))
    rows = list(csv.reader(errors.content.decode("utf-8-sig").splitlines()))
    assert [row[:3] for row in rows] == [
        ["Line", "Field", "Code"],
        ["3", "patient_external_id", "unknown_patient"],
        ["4", "date", "ambiguous_date"],
        ["5", "amount", "ambiguous_amount"],
    ]
    assert rows[3][3] == (
        "“150.000” could be a thousands separator or decimals. Write it without thousands "
        "separators, like 150000 or 1.50."
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("crm:import_run", args=[job.pk])).status_code == 302
    assert run_import_task(job.pk, manager.pk) == ImportStatus.DONE
    detail = client.get(reverse("crm:import_detail", args=[job.pk])).content.decode()
    assert "Visits created" in detail
    assert sorted(HistoricalVisit.objects.values_list("description", flat=True)) == [
        "Cạo vôi răng", "Khám",
    ]  # fmt: skip
    listing = client.get(reverse("crm:import_list")).content.decode()
    assert "Visit history" in listing


def test_api_imports_a_payments_file(
    world: World, an: Patient, persona: Callable[[Role], User],
    logged_in: Callable[[User], Client], django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    owner = persona(Role.OWNER)
    client = logged_in(owner)
    headers = {"X-Branch": str(world.branch_a.pk)}
    created = client.post(
        "/api/v1/imports/",
        {"upload": SimpleUploadedFile("pagos.csv", PAYMENTS.encode()), "kind": "payments",
         "source_system": "OldDent"},
        headers=headers,
    )  # fmt: skip
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["mapping"]) == ("payments", {
        "external_id": "Recibo", "patient_external_id": "Paciente", "date": "Fecha de pago",
        "amount": "Importe", "method": "Forma de pago",
    })  # fmt: skip
    unmapped = client.put(
        f"/api/v1/imports/{body['id']}/mapping",
        json.dumps({"mapping": {"external_id": "Recibo"}, "mode": "good_rows"}),
        content_type="application/json", headers=headers,
    )  # fmt: skip
    assert unmapped.status_code == 422
    assert sorted(unmapped.json()["errors"]) == [
        "mapping.amount", "mapping.date", "mapping.patient_external_id",
    ]  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        checking = client.post(f"/api/v1/imports/{body['id']}/check", headers=headers)
    assert checking.status_code == 202
    check_import_task(body["id"])
    errors = client.get(f"/api/v1/imports/{body['id']}/errors", headers=headers).json()
    assert [(e["line"], e["field"], e["code"], e["params"]) for e in errors["errors"]] == [
        (3, "amount", "zero_amount", {"value": "0"}),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/v1/imports/{body['id']}/run", headers=headers)
    run_import_task(body["id"], owner.pk)
    job = client.get(f"/api/v1/imports/{body['id']}", headers=headers).json()
    assert (job["status"], job["created_rows"], job["bad_rows"]) == ("done", 1, 1)
    assert HistoricalPayment.objects.get().method == "Efectivo"


def test_api_refuses_an_unknown_kind(
    world: World, persona: Callable[[Role], User], logged_in: Callable[[User], Client]
) -> None:
    client = logged_in(persona(Role.OWNER))
    refused = client.post(
        "/api/v1/imports/",
        {"upload": SimpleUploadedFile("x.csv", PAYMENTS.encode()), "kind": "invoices",
         "source_system": "OldDent"},
        headers={"X-Branch": str(world.branch_a.pk)},
    )  # fmt: skip
    assert refused.status_code == 422
    assert list(refused.json()["errors"]) == ["kind"]
    assert ImportJob.objects.count() == 0


def test_the_command_imports_history_by_kind(world: World, an: Patient, tmp_path: Path) -> None:
    path = tmp_path / "visits.csv"
    path.write_text(VISITS, encoding="utf-8")
    arguments = [
        str(path), "--kind", "visits", "--organization", "acme", "--branch", "a",
        "--source", "OldDent",
    ]  # fmt: skip

    out = StringIO()
    call_command("import_patients", *arguments, "--dry-run", stdout=out, verbosity=0)
    assert "line 3, patient_external_id: No patient imported" in out.getvalue()
    assert HistoricalVisit.objects.count() == 0

    out = StringIO()
    call_command("import_patients", *arguments, stdout=out, verbosity=0)
    assert "5 rows, 2 good, 3 bad, 0 already imported, 2 visits created" in out.getvalue()
    out = StringIO()
    call_command("import_patients", *arguments, stdout=out, verbosity=0)
    assert "2 already imported, 0 visits created" in out.getvalue()
    assert HistoricalVisit.objects.count() == 2

    with pytest.raises(CommandError, match="5 rows are bad"):
        call_command(
            "import_patients", *arguments, "--mode", "all_or_nothing", "--source", "Other",
            stdout=StringIO(), verbosity=0,
        )  # fmt: skip
    assert HistoricalVisit.objects.count() == 2
