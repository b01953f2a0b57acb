"""Import pages: the list, the upload, the column mapping, and a job's progress and report."""

from __future__ import annotations

import csv
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.core.http import is_htmx
from chairtime.crm.choices import ImportStatus
from chairtime.crm.importing.columns import columns_of
from chairtime.crm.importing.describe import describe
from chairtime.crm.importing.forms import MappingForm, UploadForm
from chairtime.crm.importing.selectors import (
    get_job,
    job_headers,
    list_jobs,
    list_row_errors,
    row_error_lines,
)
from chairtime.crm.importing.services import create_job, queue_run, set_mapping
from chairtime.crm.models import ImportJob
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability

ERRORS_PER_PAGE = 50
RUNNING = (ImportStatus.CHECKING, ImportStatus.IMPORTING)


def _add_errors(form: UploadForm | MappingForm, error: InvalidInput, prefix: str = "") -> None:
    for name, messages in error.errors.items():
        target = f"{prefix}{name.removeprefix('mapping.')}" if name.startswith("mapping.") else name
        for message in messages:
            form.add_error(target if target in form.fields else None, message)


@capability_required(Capability.PATIENT_IMPORT)
def import_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    page = Paginator(list_jobs(branch=access.branch), 50).get_page(request.GET.get("page"))
    return render(request, "crm/importing/import_list.html", {"page": page})


@capability_required(Capability.PATIENT_IMPORT)
def import_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            job = create_job(
                actor=acting_user(request), branch=access.branch, upload=data["upload"],
                kind=data["kind"], source_system=data["source_system"],
                encoding=data["encoding"], date_format=data["date_format"],
                default_country=data["default_country"],
            )  # fmt: skip
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            if job.status == ImportStatus.FAILED:
                return redirect("crm:import_detail", job_id=job.pk)
            return redirect("crm:import_mapping", job_id=job.pk)
    return render(request, "crm/importing/import_create.html", {"form": form})


@capability_required(Capability.PATIENT_IMPORT)
def import_mapping(request: HttpRequest, job_id: int) -> HttpResponse:
    access = branch_access_of(request)
    job = get_job(branch=access.branch, job_id=job_id)
    headers = job_headers(job)
    form = MappingForm(
        request.POST or None, kind=job.kind, headers=headers,
        initial=MappingForm.initial_for(job.mapping, job.mode),
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            set_mapping(job, form.mapping(), form.cleaned_data["mode"], then_check=True)
        except InvalidInput as error:
            _add_errors(form, error, prefix="column_")
        else:
            return redirect("crm:import_detail", job_id=job.pk)
    context = {"job": job, "form": form, "headers": headers}
    return render(request, "crm/importing/import_mapping.html", context)


@capability_required(Capability.PATIENT_IMPORT)
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    access = branch_access_of(request)
    job = get_job(branch=access.branch, job_id=job_id)
    if is_htmx(request) and request.GET.get("part") == "progress":
        response = render(request, "crm/importing/import_detail.html#progress", {"job": job})
        if job.status not in RUNNING:
            response["HX-Refresh"] = "true"  # finished: show the counts and the report
        return response
    context = {"job": job, **_error_page(job, request.GET.get("page"))}
    return render(request, "crm/importing/import_detail.html", context)


def _error_page(job: ImportJob, number: str | int | None) -> dict[str, Any]:
    errors = Paginator(list_row_errors(job), ERRORS_PER_PAGE).get_page(number)
    labels = {column.field: str(column.label) for column in columns_of(job.kind)}
    labels["row"] = _("The whole row")
    rows = [
        (error.line, labels.get(error.field, error.field), describe(error.code, error.params))
        for error in errors
    ]
    return {"errors": errors, "error_rows": rows}


@require_POST
@capability_required(Capability.PATIENT_IMPORT)
def import_run(request: HttpRequest, job_id: int) -> HttpResponse:
    access = branch_access_of(request)
    job = get_job(branch=access.branch, job_id=job_id)
    try:
        queue_run(job, actor=acting_user(request))
    except InvalidInput as error:
        errors = Paginator(list_row_errors(job), ERRORS_PER_PAGE).get_page(1)
        context = {
            "job": job,
            "errors": errors,
            "refusal": " ".join(error.errors.get("status", [])),
        }
        return render(request, "crm/importing/import_detail.html", context, status=409)
    return redirect("crm:import_detail", job_id=job.pk)


@capability_required(Capability.PATIENT_IMPORT)
def import_errors_csv(request: HttpRequest, job_id: int) -> HttpResponse:
    access = branch_access_of(request)
    job = get_job(branch=access.branch, job_id=job_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    response.write("\ufeff")  # so that Excel reads Vietnamese and Chinese as UTF-8
    writer = csv.writer(response)
    writer.writerow([_("Line"), _("Field"), _("Code"), _("Problem")])
    writer.writerows(row_error_lines(job))
    return response
