"""Background work for imports started from the pages or the API (django-q)."""

from __future__ import annotations

from chairtime.accounts.models import User
from chairtime.core.errors import InvalidInput
from chairtime.crm.importing.services import check_job, run_job
from chairtime.crm.models import ImportJob


def check_import_task(job_id: int) -> str:
    """The dry run of one job; a job already running or finished is left alone."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    try:
        return check_job(job, queued=True).status
    except InvalidInput as error:  # already running, or claimed by another worker
        return str(error)


def run_import_task(job_id: int, actor_id: int | None = None) -> str:
    """Import one job; refusals (all-or-nothing with bad rows) stay on the job's page."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        return "missing"
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        return run_job(job, actor=actor, queued=True).status
    except InvalidInput as error:
        return str(error)
