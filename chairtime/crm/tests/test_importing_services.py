"""Importing patients: reading files, mapping, the dry run, modes, external IDs, audit."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.core.errors import Conflict, InvalidInput
from chairtime.crm.choices import DateFormat, ImportMode, ImportStatus
from chairtime.crm.importing.columns import propose_mapping
from chairtime.crm.importing.describe import describe
from chairtime.crm.importing.rows import parse_date
from chairtime.crm.importing.services import check_job, create_job, run_job, set_mapping
from chairtime.crm.models import (
    ExternalId,
    GroupChange,
    ImportJob,
    ImportRowError,
    PatientProfile,
)
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import ChannelFactory, PatientFactory

# "Nguyễn" as Windows Vietnamese writes it: "ê" then a combining tilde.
CP1258_ROW = b"A1,Nguy\xea\xden,An,,,,,\n"
HEADER = "external_id,family_name,given_name,birth_date,phone,email,home_branch,tags\n"


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path


@pytest.fixture
def owner(persona: Callable[[Role], User]) -> User:
    return persona(Role.OWNER)


def upload(
    world: World, owner: User, content: bytes | str, *, name: str = "p.csv", **options: str
) -> ImportJob:
    data = content.encode() if isinstance(content, str) else content
    job = create_job(
        actor=owner, branch=world.branch_a, upload=SimpleUploadedFile(name, data),
        source_system=options.pop("source_system", "OldDent"), **options,
    )  # fmt: skip
    return job


def errors_of(job: ImportJob) -> list[tuple[int, str, str]]:
    return list(ImportRowError.objects.filter(job=job).values_list("line", "field", "code"))


# --- mapping ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["ID", "Last name", "First name", "Date of birth", "Mobile"],
         {"external_id": "ID", "family_name": "Last name", "given_name": "First name",
          "birth_date": "Date of birth", "phone": "Mobile"}),
        (["Mã bệnh nhân", "Họ", "Tên", "Ngày sinh", "Số điện thoại", "Chi nhánh"],
         {"external_id": "Mã bệnh nhân", "family_name": "Họ", "given_name": "Tên",
          "birth_date": "Ngày sinh", "phone": "Số điện thoại", "home_branch": "Chi nhánh"}),
        (["患者编号", "姓", "名", "出生日期", "手机", "邮箱"],
         {"external_id": "患者编号", "family_name": "姓", "given_name": "名",
          "birth_date": "出生日期", "phone": "手机", "email": "邮箱"}),
        (["Código", "Apellidos", "Nombre", "Fecha de nacimiento", "Teléfono", "Correo"],
         {"external_id": "Código", "family_name": "Apellidos", "given_name": "Nombre",
          "birth_date": "Fecha de nacimiento", "phone": "Teléfono", "email": "Correo"}),
    ],
)  # fmt: skip
def test_proposes_mapping_from_headers_in_four_languages(
    headers: list[str], expected: dict[str, str]
) -> None:
    assert propose_mapping("patients", headers) == expected


def test_set_mapping_refuses_a_missing_required_column(world: World, owner: User) -> None:
    job = upload(world, owner, "ID,Surname\n1,An\n")
    with pytest.raises(InvalidInput) as raised:
        set_mapping(job, {"external_id": "ID"}, ImportMode.GOOD_ROWS)
    assert list(raised.value.errors) == ["mapping.family_name"]
    with pytest.raises(InvalidInput) as raised:
        set_mapping(job, {"external_id": "ID", "family_name": "Nope"}, ImportMode.GOOD_ROWS)
    assert list(raised.value.errors) == ["mapping.family_name"]


# --- dates -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "date_format", "expected"),
    [
        ("2020-04-03", DateFormat.ISO, (date(2020, 4, 3), "")),
        ("03/04/2020", DateFormat.ISO, (None, "ambiguous_date")),
        ("03/04/2020", DateFormat.DAY_FIRST, (date(2020, 4, 3), "")),
        ("03/04/2020", DateFormat.MONTH_FIRST, (date(2020, 3, 4), "")),
        ("31/03/2020", DateFormat.ISO, (date(2020, 3, 31), "")),
        ("31/03/2020", DateFormat.MONTH_FIRST, (None, "impossible_date")),
        ("2021-02-29", DateFormat.ISO, (None, "impossible_date")),
        ("2099-01-01", DateFormat.ISO, (None, "future_date")),
        ("yesterday", DateFormat.ISO, (None, "bad_date")),
    ],
)
def test_parses_dates_in_the_chosen_format(
    raw: str, date_format: str, expected: tuple[date | None, str]
) -> None:
    assert parse_date(raw, date_format, date(2026, 11, 22)) == expected


# --- the dry run ----------------------------------------------------------------------------
def test_check_reports_every_bad_row_and_writes_nothing(world: World, owner: User) -> None:
    ChannelFactory(organization=world.acme, name="Facebook")
    content = HEADER + (
        "1,Nguyễn,An,1990-01-02,0912345678,an@example.com,b,vip;ortho\n"
        "2,,Bình,1990-01-02,0912345679,,,\n"  # no family name
        "3,Trần,Chi,03/04/1990,0912345670,,,\n"  # ambiguous date
        "4,Lê,Dũng,1990-01-02,12345,bad-email,nowhere,\n"  # phone, email, branch
        "5,Phạm\n"  # half-empty
        "1,Võ,Em,1990-01-02,0912345671,,,\n"  # same ID as line 2
    )
    job = upload(world, owner, content)
    job = set_mapping(job, job.mapping, ImportMode.GOOD_ROWS)

    checked = check_job(job)

    assert (checked.status, checked.total_rows, checked.good_rows, checked.bad_rows) == (
        ImportStatus.CHECKED, 6, 1, 5,
    )  # fmt: skip
    assert errors_of(job) == [
        (3, "family_name", "required"),
        (4, "birth_date", "ambiguous_date"),
        (5, "email", "bad_email"),
        (5, "phone", "bad_phone"),
        (5, "home_branch", "unknown_branch"),
        (6, "row", "short_row"),
        (7, "external_id", "duplicate_in_file"),
    ]
    assert Patient.objects.filter(organization=world.acme).count() == 0
    error = ImportRowError.objects.get(job=job, field="birth_date")
    assert describe(error.code, error.params) == (
        "“03/04/1990” could be day/month or month/day. Choose the file's date format "
        "(day first or month first) and check again."
    )
    duplicate = ImportRowError.objects.get(job=job, code="duplicate_in_file")
    assert duplicate.params == {"first_line": 2}


def test_describe_speaks_the_readers_language() -> None:
    with translation.override("en"):
        assert describe("required", {}) == "A value is needed here."
    assert describe("no_such_code", {}) == "Unexpected problem (no_such_code)."


# --- importing ---------------------------------------------------------------------------------
def test_good_rows_mode_imports_good_rows_with_phones_tags_and_external_ids(
    world: World, owner: User
) -> None:
    PatientFactory(organization=world.acme, home_branch=world.branch_a, number="P000001")
    content = HEADER + (
        "A1,Nguyễn,Văn An,1990-01-02,0912345678,an@example.com,b,vip;ortho\n"
        "A2,García López,Ana,,+34612345678,,,\n"
        "A3,,Bad,,,,,\n"
    )
    job = upload(world, owner, content)
    set_mapping(job, job.mapping, ImportMode.GOOD_ROWS)

    done = run_job(job)

    assert (done.status, done.created_rows, done.bad_rows, done.skipped_rows) == (
        ImportStatus.DONE, 2, 1, 0,
    )  # fmt: skip
    an = Patient.objects.get(organization=world.acme, given_name="Văn An")
    assert (an.display_name, an.home_branch, an.birth_date, an.number) == (
        "Nguyễn Văn An", world.branch_b, date(1990, 1, 2), "P000002",
    )  # fmt: skip
    assert list(an.phones.values_list("number", "is_primary")) == [("+84912345678", True)]
    assert sorted(an.tags.values_list("name", flat=True)) == ["ortho", "vip"]
    assert "nguyen van an" in an.search_key and "84912345678" in an.search_key
    ana = Patient.objects.get(organization=world.acme, given_name="Ana")
    assert ana.home_branch == world.branch_a
    assert ExternalId.objects.get(external_id="A1", system="OldDent").object_id == an.pk
    event = AuditEvent.objects.filter(object_type="crm.importjob", object_id=str(job.pk))
    assert event.count() == 2  # uploaded, imported
    assert event.order_by("id").last().changes["created"] == [None, 2]  # type: ignore[union-attr]


def test_second_run_adds_nothing(world: World, owner: User) -> None:
    content = HEADER + "A1,Nguyễn,An,,0912345678,,,\nA2,Trần,Bình,,,,,\n"
    first = upload(world, owner, content)
    set_mapping(first, first.mapping, ImportMode.GOOD_ROWS)
    run_job(first)
    second = upload(world, owner, content + "A3,Lê,Chi,,,,,\n")
    set_mapping(second, second.mapping, ImportMode.GOOD_ROWS)

    done = run_job(second)

    assert (done.created_rows, done.skipped_rows) == (1, 2)
    assert Patient.objects.filter(organization=world.acme).count() == 3
    other_system = upload(world, owner, content, source_system="Other")
    set_mapping(other_system, other_system.mapping, ImportMode.GOOD_ROWS)
    assert run_job(other_system).created_rows == 2  # another system's IDs are other IDs


def test_all_or_nothing_refuses_a_file_with_a_bad_row(world: World, owner: User) -> None:
    content = HEADER + "A1,Nguyễn,An,,,,,\nA2,,Bình,,,,,\n"
    job = upload(world, owner, content)
    set_mapping(job, job.mapping, ImportMode.ALL_OR_NOTHING)

    with pytest.raises(Conflict):
        run_job(job)

    job.refresh_from_db()
    assert (job.status, job.bad_rows, job.created_rows) == (ImportStatus.CHECKED, 1, 0)
    assert Patient.objects.filter(organization=world.acme).count() == 0
    assert ExternalId.objects.count() == 0


def test_all_or_nothing_imports_a_clean_file(world: World, owner: User) -> None:
    job = upload(world, owner, HEADER + "A1,Nguyễn,An,,,,,\nA2,Trần,Bình,,,,,\n")
    set_mapping(job, job.mapping, ImportMode.ALL_OR_NOTHING)
    assert run_job(job).created_rows == 2


@pytest.mark.parametrize("mode", [ImportMode.GOOD_ROWS, ImportMode.ALL_OR_NOTHING])
def test_imported_patients_have_their_profiles_at_once(
    world: World, owner: User, mode: str
) -> None:
    referrer = PatientFactory(organization=world.acme, home_branch=world.branch_a)
    job = upload(world, owner, HEADER + "A1,Nguyễn,An,,,,b,\nA2,Trần,Bình,,,,,\n")
    set_mapping(job, job.mapping, mode)

    run_job(job)

    imported = Patient.objects.filter(organization=world.acme).exclude(pk=referrer.pk)
    profiles = PatientProfile.objects.filter(patient__in=imported).order_by("patient__given_name")
    assert [
        (p.patient.given_name, p.home_branch_id, p.group, p.group_rule, p.visit_count)
        for p in profiles
    ] == [
        ("An", world.branch_b.pk, "potential", "potential.new", 0),
        ("Bình", world.branch_a.pk, "potential", "potential.new", 0),
    ]
    assert GroupChange.objects.filter(patient__in=imported, to_group="potential").count() == 2
    assert not PatientProfile.objects.filter(patient=referrer).exists()  # only the new ones


def test_a_job_runs_once(world: World, owner: User) -> None:
    job = upload(world, owner, HEADER + "A1,Nguyễn,An,,,,,\n")
    run_job(job)
    with pytest.raises(Conflict):
        run_job(job)


# --- files -----------------------------------------------------------------------------------
def test_wrong_encoding_fails_the_job_naming_the_line(world: World, owner: User) -> None:
    content = HEADER.encode() + CP1258_ROW
    job = upload(world, owner, content, encoding="utf-8")
    assert job.status == ImportStatus.FAILED
    assert job.failure == (
        "Line 2 cannot be read as utf-8. Choose the encoding the file was saved in and "
        "upload it again."
    )


@pytest.mark.parametrize("encoding", ["cp1258", "gb18030", "cp1252"])
def test_reads_the_chosen_encoding(world: World, owner: User, encoding: str) -> None:
    name = {"cp1258": "Nguyễn", "gb18030": "王", "cp1252": "Muñoz"}[encoding]
    row = CP1258_ROW if encoding == "cp1258" else f"A1,{name},An,,,,,\n".encode(encoding)
    job = upload(world, owner, HEADER.encode() + row, encoding=encoding)
    run_job(job)
    assert Patient.objects.get(organization=world.acme).family_name == name


def test_utf8_with_bom_and_semicolons(world: World, owner: User) -> None:
    content = "\ufeffID;Họ;Tên\r\nA1;Nguyễn;An\r\n".encode()
    job = upload(world, owner, content)
    assert job.mapping == {"external_id": "ID", "family_name": "Họ", "given_name": "Tên"}
    assert run_job(job).created_rows == 1


def test_missing_required_column_fails_the_check(world: World, owner: User) -> None:
    job = upload(world, owner, "Name,Phone\nAn,0912345678\n")
    assert job.mapping == {"phone": "Phone"}
    checked = check_job(job)
    assert checked.status == ImportStatus.FAILED
    assert checked.failure == (
        "Columns that are needed are not mapped: ID in the old system, Family name."
    )


def test_imports_an_excel_workbook(world: World, owner: User) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Mã bệnh nhân", "Họ", "Tên", "Ngày sinh", "Điện thoại"])
    sheet.append([1001, "Nguyễn", "An", date(1990, 1, 2), 912345678])
    sheet.append([1002, "Trần", "Bình", "02/01/1990", None])
    sheet.append([None, None, None, None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    job = upload(world, owner, buffer.getvalue(), name="patients.xlsx", date_format="day_first")
    assert (job.file_format, job.total_rows) == ("xlsx", 2)

    done = run_job(job)

    assert done.created_rows == 2
    an = Patient.objects.get(organization=world.acme, family_name="Nguyễn")
    assert an.birth_date == date(1990, 1, 2)
    assert list(an.phones.values_list("number", flat=True)) == ["+84912345678"]
    assert ExternalId.objects.filter(external_id__in=["1001", "1002"]).count() == 2
    assert Patient.objects.get(family_name="Trần").birth_date == date(1990, 1, 2)


def test_a_broken_workbook_fails_the_job(world: World, owner: User) -> None:
    job = upload(world, owner, b"not a zip", name="patients.xlsx")
    assert (job.status, job.failure) == (
        ImportStatus.FAILED, "The file is not an Excel workbook (.xlsx) that can be read.",
    )  # fmt: skip


def test_refuses_other_file_types_and_options(world: World, owner: User) -> None:
    with pytest.raises(InvalidInput) as raised:
        upload(world, owner, "x", name="patients.txt")
    assert list(raised.value.errors) == ["upload"]
    with pytest.raises(InvalidInput) as raised:
        upload(world, owner, HEADER, encoding="latin-9", date_format="nope", source_system=" ")
    assert sorted(raised.value.errors) == ["date_format", "encoding", "source_system"]
