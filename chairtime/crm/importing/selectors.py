"""Reads for imports: a branch's jobs, one job, its header row and its bad rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from chairtime.core.errors import NotFound
from chairtime.crm.importing.describe import describe
from chairtime.crm.importing.reading import FileProblem, open_table
from chairtime.crm.models import ImportJob, ImportRowError
from chairtime.tenancy.models import Branch


def job_path(job: ImportJob) -> Path:
    """Where the uploaded file is kept: var/imports/<organisation>/<random name>."""
    return Path(settings.VAR_DIR) / "imports" / job.stored_path


def list_jobs(*, branch: Branch) -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(organization_id=branch.organization_id, branch=branch)


def get_job(*, branch: Branch, job_id: int) -> ImportJob:
    """A job of the branch; another branch's or organisation's is NotFound."""
    job = list_jobs(branch=branch).select_related("branch", "created_by").filter(pk=job_id).first()
    if job is None:
        raise NotFound
    return job


def job_headers(job: ImportJob) -> list[str]:
    """The file's header row ([] when the file cannot be read)."""
    try:
        with open_table(job_path(job), job.file_format, job.encoding) as (headers, _rows):
            return headers
    except (FileProblem, OSError):
        return []


def list_row_errors(job: ImportJob) -> QuerySet[ImportRowError]:
    return ImportRowError.objects.filter(job=job).order_by("line", "id")


def row_error_lines(job: ImportJob) -> Iterator[tuple[int, str, str, str]]:
    """(line, field, code, message) for every bad row, in the reader's language."""
    for line, field, code, params in (
        list_row_errors(job)
        .values_list("line", "field", "code", "params")
        .iterator(chunk_size=2000)
    ):
        yield line, field, code, describe(code, params)
