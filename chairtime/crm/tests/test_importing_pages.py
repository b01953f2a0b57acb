"""Import pages, API, background tasks and the import_patients command."""

from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ

from chairtime.accounts.models import User
from chairtime.crm.choices import ImportMode, ImportStatus
from chairtime.crm.importing.services import create_job, set_mapping
from chairtime.crm.importing.tasks import check_import_task, run_import_task
from chairtime.crm.models import ImportJob
from chairtime.patients.models import Patient
from chairtime.tenancy.access import default_branch_access
from chairtime.tenancy.roles import Role
from conftest import World

CONTENT = (
    "Mã bệnh nhân,Họ,Tên,Ngày sinh,Điện thoại\n"
    "A1,Nguyễn,An,1990-01-02,0912345678\n"
    "A2,,Bình,1990-01-02,0912345679\n"
    "A3,Trần,Chi,03/04/1990,0912345670\n"
    "A4,Lê,Dũng,,\n"
)


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path


def make_job(world: World, user: User, *, branch=None) -> ImportJob:  # type: ignore[no-untyped-def]
    job = create_job(
        actor=user, branch=branch or world.branch_a, source_system="OldDent",
        upload=SimpleUploadedFile("p.csv", CONTENT.encode()),
    )  # fmt: skip
    return set_mapping(job, job.mapping, ImportMode.GOOD_ROWS)


# --- pages -------------------------------------------------------------------------------------
def test_upload_map_check_and_import_through_the_pages(
    world: World, persona: Callable[[Role], User], logged_in: Callable[[User], Client],
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    client = logged_in(persona(Role.BRANCH_MANAGER))
    response = client.post(
        reverse("crm:import_create"),
        {"upload": SimpleUploadedFile("p.csv", CONTENT.encode()), "kind": "patients",
         "source_system": "OldDent", "encoding": "utf-8", "date_format": "iso"},
    )  # fmt: skip
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:import_mapping", args=[job.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert 'value="Họ" selected' in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("crm:import_mapping", args=[job.pk]),
            {"column_external_id": "Mã bệnh nhân", "column_family_name": "Họ",
             "column_given_name": "Tên", "column_birth_date": "Ngày sinh",
             "column_phone": "Điện thoại", "mode": "good_rows"},
        )  # fmt: skip
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.CHECKING
    assert OrmQ.objects.count() == 1  # the check waits for a worker

    poll = client.get(
        reverse("crm:import_detail", args=[job.pk]) + "?part=progress", HTTP_HX_REQUEST="true"
    )
    assert b'hx-trigger="every 1s"' in poll.content and b"<progress" in poll.content
    assert "HX-Refresh" not in poll

    assert check_import_task(job.pk) == ImportStatus.CHECKED
    poll = client.get(
        reverse("crm:import_detail", args=[job.pk]) + "?part=progress", HTTP_HX_REQUEST="true"
    )
    assert poll["HX-Refresh"] == "true"
    detail = client.get(reverse("crm:import_detail", args=[job.pk])).content.decode()
    assert "A value is needed here." in detail
    assert "could be day/month or month/day" in detail

    errors = client.get(reverse("crm:import_errors_csv", args=[job.pk]))
    lines = errors.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "Line,Field,Code,Problem"
    assert lines[1].startswith("3,family_name,required,")
    assert lines[2].startswith("4,birth_date,ambiguous_date,")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("crm:import_run", args=[job.pk]))
    assert response.status_code == 302
    assert run_import_task(job.pk, persona(Role.BRANCH_MANAGER).pk) == ImportStatus.DONE
    job.refresh_from_db()
    assert (job.created_rows, job.bad_rows) == (2, 2)
    assert client.post(reverse("crm:import_run", args=[job.pk])).status_code == 409


def test_failed_upload_shows_the_reason(
    world: World, persona: Callable[[Role], User], logged_in: Callable[[User], Client]
) -> None:
    client = logged_in(persona(Role.OWNER))
    response = client.post(
        reverse("crm:import_create"),
        {"upload": SimpleUploadedFile("p.csv", b"ID,Name\nA1,Nguy\xea\xden\n"), "kind": "patients",
         "source_system": "OldDent", "encoding": "utf-8", "date_format": "iso"},
        follow=True,
    )  # fmt: skip
    assert "Line 2 cannot be read as utf-8." in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.OWNER, 200), (Role.BRANCH_MANAGER, 200), (Role.RECEPTIONIST, 404),
     (Role.MARKETER, 404), (Role.DOCTOR, 404)],
)  # fmt: skip
def test_job_pages_need_the_import_capability(
    world: World, persona: Callable[[Role], User], logged_in: Callable[[User], Client],
    role: Role, status: int,
) -> None:  # fmt: skip
    user = persona(role)
    access = default_branch_access(user)
    assert access is not None
    job = make_job(world, persona(Role.OWNER), branch=access.branch)  # where the user works
    client = logged_in(user)
    for name in ("crm:import_detail", "crm:import_mapping", "crm:import_errors_csv"):
        assert client.get(reverse(name, args=[job.pk])).status_code == status, name
    refused = client.post(reverse("crm:import_run", args=[job.pk]))
    assert refused.status_code == (302 if status == 200 else 404)


def test_outsider_and_other_branch_see_no_job(
    world: World, persona: Callable[[Role], User], outsider: User,
    logged_in: Callable[[User], Client],
) -> None:  # fmt: skip
    job = make_job(world, persona(Role.OWNER), branch=world.branch_b)
    manager_of_a = logged_in(persona(Role.BRANCH_MANAGER))
    assert manager_of_a.get(reverse("crm:import_detail", args=[job.pk])).status_code == 404
    other = logged_in(outsider)
    assert other.get(reverse("crm:import_detail", args=[job.pk])).status_code == 404
    assert other.get(f"/api/v1/imports/{job.pk}").status_code == 404


# --- API -------------------------------------------------------------------------------------
def test_api_upload_map_check_run_and_errors(
    world: World, persona: Callable[[Role], User], logged_in: Callable[[User], Client],
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:  # fmt: skip
    owner = persona(Role.OWNER)
    client = logged_in(owner)
    headers = {"X-Branch": str(world.branch_a.pk)}
    created = client.post(
        "/api/v1/imports/",
        {"upload": SimpleUploadedFile("p.csv", CONTENT.encode()), "source_system": "OldDent"},
        headers=headers,
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["headers"] == ["Mã bệnh nhân", "Họ", "Tên", "Ngày sinh", "Điện thoại"]
    assert body["mapping"]["family_name"] == "Họ"
    job_id = body["id"]

    bad = client.put(
        f"/api/v1/imports/{job_id}/mapping",
        json.dumps({"mapping": {"external_id": "Mã bệnh nhân"}, "mode": "good_rows"}),
        content_type="application/json", headers=headers,
    )  # fmt: skip
    assert bad.status_code == 422
    assert list(bad.json()["errors"]) == ["mapping.family_name"]
    mapped = client.put(
        f"/api/v1/imports/{job_id}/mapping",
        json.dumps({"mapping": body["mapping"], "mode": "good_rows"}),
        content_type="application/json", headers=headers,
    )  # fmt: skip
    assert mapped.status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        checking = client.post(f"/api/v1/imports/{job_id}/check", headers=headers)
    assert (checking.status_code, checking.json()["status"]) == (202, "checking")
    check_import_task(job_id)
    errors = client.get(f"/api/v1/imports/{job_id}/errors", headers=headers).json()
    assert errors["count"] == 2
    assert [(e["line"], e["field"], e["code"]) for e in errors["errors"]] == [
        (3, "family_name", "required"), (4, "birth_date", "ambiguous_date"),
    ]  # fmt: skip
    assert errors["errors"][1]["params"] == {"value": "03/04/1990"}

    with django_capture_on_commit_callbacks(execute=True):
        running = client.post(f"/api/v1/imports/{job_id}/run", headers=headers)
    assert running.status_code == 202
    run_import_task(job_id, owner.pk)
    job = client.get(f"/api/v1/imports/{job_id}", headers=headers).json()
    assert (job["status"], job["created_rows"], job["bad_rows"]) == ("done", 2, 2)
    again = client.post(f"/api/v1/imports/{job_id}/run", headers=headers)
    assert again.status_code == 409


def test_api_needs_the_import_capability(
    world: World, persona: Callable[[Role], User], logged_in: Callable[[User], Client]
) -> None:
    job = make_job(world, persona(Role.OWNER))
    client = logged_in(persona(Role.RECEPTIONIST))
    assert client.get(f"/api/v1/imports/{job.pk}").status_code == 404
    upload = client.post(
        "/api/v1/imports/",
        {"upload": SimpleUploadedFile("p.csv", CONTENT.encode()), "source_system": "X"},
    )
    assert upload.status_code == 404
    assert ImportJob.objects.count() == 1


# --- command ---------------------------------------------------------------------------------
def test_import_patients_command(world: World, tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(CONTENT, encoding="utf-8")
    out = StringIO()
    arguments = [str(path), "--organization", "acme", "--branch", "a", "--source", "OldDent"]

    call_command("import_patients", *arguments, "--dry-run", stdout=out, verbosity=0)
    assert "line 3, family_name: A value is needed here. [required]" in out.getvalue()
    assert Patient.objects.count() == 0

    out = StringIO()
    call_command("import_patients", *arguments, stdout=out, verbosity=0)
    assert "4 rows, 2 good, 2 bad, 0 already imported, 2 patients created" in out.getvalue()
    out = StringIO()
    call_command("import_patients", *arguments, stdout=out, verbosity=0)
    assert "2 already imported, 0 patients created" in out.getvalue()
    assert Patient.objects.count() == 2

    with pytest.raises(CommandError, match="2 rows are bad"):
        call_command(
            "import_patients", *arguments, "--source", "Other", "--mode", "all_or_nothing",
            stdout=StringIO(), verbosity=0,
        )  # fmt: skip
    assert Patient.objects.count() == 2
