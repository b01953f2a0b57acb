"""API for imports: upload a file, map its columns, check it, import it, read the report.

Checking and importing run as background tasks: POST /check and /run answer 202 at once
with the job, whose `processed_rows` / `total_rows` show the progress; poll GET /{id}.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from chairtime.accounts.access import acting_user
from chairtime.crm.choices import DateFormat, ImportKind, ImportMode
from chairtime.crm.importing.describe import describe
from chairtime.crm.importing.selectors import get_job, job_headers, list_row_errors
from chairtime.crm.importing.services import create_job, queue_check, queue_run, set_mapping
from chairtime.crm.models import ImportJob
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["importing"])


class JobIn(Schema):
    kind: str = Field(
        ImportKind.PATIENTS,
        description="patients, visits (visit history) or payments (payment history); "
        "history rows name their patient by the patients file's external ID",
    )
    source_system: str = Field(..., max_length=40, description="the system the file comes from")
    encoding: str = Field("utf-8", description="utf-8, cp1258, gb18030 or cp1252 (CSV)")
    date_format: str = Field(DateFormat.ISO, description="iso, day_first or month_first")
    default_country: str = Field("", description="for local phone numbers; default: the branch's")


class JobOut(Schema):
    id: int
    kind: str
    source_system: str
    original_name: str
    file_format: str
    encoding: str
    date_format: str
    default_country: str
    headers: list[str]
    mapping: dict[str, str]
    mode: str
    status: str
    total_rows: int
    processed_rows: int
    good_rows: int
    bad_rows: int
    skipped_rows: int
    created_rows: int
    failure: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class MappingIn(Schema):
    mapping: dict[str, str] = Field(..., description="our field -> the file's column header")
    mode: str = Field(ImportMode.GOOD_ROWS, description="all_or_nothing or good_rows")


class RowErrorOut(Schema):
    line: int
    field: str
    code: str
    params: dict[str, Any]
    message: str


class ErrorPageOut(Schema):
    count: int
    page: int
    pages: int
    errors: list[RowErrorOut]


class PageIn(Schema):
    page: int = Field(1, ge=1)


def _job_out(job: ImportJob) -> JobOut:
    return JobOut(
        id=job.pk, kind=job.kind, source_system=job.source_system,
        original_name=job.original_name, file_format=job.file_format, encoding=job.encoding,
        date_format=job.date_format, default_country=job.default_country,
        headers=job_headers(job), mapping=job.mapping, mode=job.mode, status=job.status,
        total_rows=job.total_rows, processed_rows=job.processed_rows, good_rows=job.good_rows,
        bad_rows=job.bad_rows, skipped_rows=job.skipped_rows, created_rows=job.created_rows,
        failure=job.failure, created_at=job.created_at, started_at=job.started_at,
        finished_at=job.finished_at,
    )  # fmt: skip


def _job(request: HttpRequest, job_id: int) -> ImportJob:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_IMPORT)
    return get_job(branch=access.branch, job_id=job_id)


@router.post(
    "/",
    response={201: JobOut},
    summary="Upload a file to import",
    description="Multipart: `upload` (.csv or .xlsx) and the fields of JobIn. The answer "
    "holds the file's headers and the proposed mapping; a file that cannot be read gives "
    "a job in status failed with the reason.",
)
def import_create(
    request: HttpRequest, upload: File[UploadedFile], payload: Form[JobIn]
) -> Status[JobOut]:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_IMPORT)
    job = create_job(
        actor=acting_user(request), branch=access.branch, upload=upload, kind=payload.kind,
        source_system=payload.source_system, encoding=payload.encoding,
        date_format=payload.date_format, default_country=payload.default_country,
    )  # fmt: skip
    return Status(201, _job_out(job))


@router.get("/{int:job_id}", response=JobOut, summary="One import job with its progress")
def import_detail(request: HttpRequest, job_id: int) -> JobOut:
    return _job_out(_job(request, job_id))


@router.put("/{int:job_id}/mapping", response=JobOut, summary="Map the file's columns")
def import_mapping(request: HttpRequest, job_id: int, payload: MappingIn) -> JobOut:
    job = set_mapping(_job(request, job_id), payload.mapping, payload.mode)
    return _job_out(job)


@router.post("/{int:job_id}/check", response={202: JobOut}, summary="Start the dry run")
def import_check(request: HttpRequest, job_id: int) -> Status[JobOut]:
    return Status(202, _job_out(queue_check(_job(request, job_id))))


@router.post(
    "/{int:job_id}/run",
    response={202: JobOut},
    summary="Start the import",
    description="All or nothing: refused after the check when any row is bad (the job "
    "goes back to checked). Rows imported before (same system and external ID) are skipped.",
)
def import_run(request: HttpRequest, job_id: int) -> Status[JobOut]:
    job = _job(request, job_id)
    return Status(202, _job_out(queue_run(job, actor=acting_user(request))))


@router.get("/{int:job_id}/errors", response=ErrorPageOut, summary="The bad rows, 100 a page")
def import_errors(request: HttpRequest, job_id: int, filters: Query[PageIn]) -> ErrorPageOut:
    job = _job(request, job_id)
    page = Paginator(list_row_errors(job), 100).get_page(filters.page)
    return ErrorPageOut(
        count=page.paginator.count, page=page.number, pages=page.paginator.num_pages,
        errors=[
            RowErrorOut(line=e.line, field=e.field, code=e.code, params=e.params,
                        message=describe(e.code, e.params))
            for e in page
        ],
    )  # fmt: skip
