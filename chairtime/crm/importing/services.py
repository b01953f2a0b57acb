"""Importing patients, and their visit and payment history, from another system's CSV or
Excel file.

A job goes uploaded -> (mapping) -> checking -> checked -> importing -> done, or failed
when the file itself cannot be read. The check (dry run) and the import share one pass
over the file, in chunks of `CHUNK` rows: each chunk's external IDs are looked up at once
(rows already imported are skipped, so a second run adds nothing), good rows are written
as plain rows (COPY on PostgreSQL) and every bad row is kept as an `ImportRowError` (line,
field, code). The three kinds differ only in their columns, how a row is read and what it
becomes (`history` for visits and payments).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.core.files import File
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_q.tasks import async_task

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.core.errors import Conflict, InvalidInput
from chairtime.crm.choices import DateFormat, ExternalKind, ImportKind, ImportMode, ImportStatus
from chairtime.crm.importing.columns import columns_of, propose_mapping
from chairtime.crm.importing.describe import describe
from chairtime.crm.importing.history import (
    EXTERNAL_KIND,
    create_history,
    known_patients,
    staff_of,
    with_external_ids,
)
from chairtime.crm.importing.reading import (
    ENCODINGS,
    FORMATS,
    FileProblem,
    Row,
    count_rows,
    open_table,
)
from chairtime.crm.importing.rows import (
    HistoryRow,
    PatientRow,
    RowContext,
    RowError,
    lookup_key,
    parse_history_row,
    parse_patient_row,
)
from chairtime.crm.importing.selectors import job_headers, job_path
from chairtime.crm.importing.writing import allocate_ids, column_list, write_rows
from chairtime.crm.models import ExternalId, ImportJob, ImportRowError
from chairtime.crm.profiles.compute import refresh_profiles
from chairtime.marketing.models import Channel
from chairtime.patients.choices import NameOrder, PatientStatus, PhoneKind
from chairtime.patients.models import Patient, PatientPhone, Tag
from chairtime.patients.services import (
    allocate_patient_numbers,
    build_search_key,
    compose_display_name,
)
from chairtime.tenancy.models import Branch

CHUNK = 1000
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
Progress = Callable[[int, int], None]  # (rows processed, rows in the file)


# --- creating and mapping --------------------------------------------------------------------
def _check_options(
    *, kind: str, source_system: str, encoding: str, date_format: str, default_country: str
) -> None:
    errors: dict[str, list[Any]] = {}
    if kind not in ImportKind.values:
        errors["kind"] = [_("Choose one of the kinds of file offered.")]
    if not source_system.strip() or len(source_system.strip()) > 40:
        errors["source_system"] = [_("Name the system the file comes from (up to 40 characters).")]
    if encoding not in dict(ENCODINGS):
        errors["encoding"] = [_("Choose one of the encodings offered.")]
    if date_format not in DateFormat.values:
        errors["date_format"] = [_("Choose one of the date formats offered.")]
    if default_country not in phonenumbers.SUPPORTED_REGIONS:
        errors["default_country"] = [_("Give a two-letter country code, such as VN.")]
    if errors:
        raise InvalidInput(errors)


def create_job(
    *,
    actor: User | None,
    branch: Branch,
    upload: File,  # type: ignore[type-arg]
    kind: str = ImportKind.PATIENTS,
    source_system: str,
    encoding: str = "utf-8",
    date_format: str = DateFormat.ISO,
    default_country: str = "",
) -> ImportJob:
    """Store the file under var/imports/, read its header and propose a column mapping.

    A file that cannot be read (wrong encoding, not a workbook, no header) still makes a
    job, in status failed with the reason, so the user sees what went wrong."""
    default_country = (default_country or branch.country).upper()
    _check_options(
        kind=kind, source_system=source_system, encoding=encoding,
        date_format=date_format, default_country=default_country,
    )  # fmt: skip
    name = Path(upload.name or "").name
    file_format = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if file_format not in FORMATS:
        raise InvalidInput.on("upload", describe("bad_format"))
    if (upload.size or 0) > MAX_UPLOAD_BYTES:
        raise InvalidInput.on("upload", _("The file is larger than 100 MB."))
    stored = f"{branch.organization_id}/{uuid.uuid4().hex}.{file_format}"
    target = job_path(ImportJob(stored_path=stored))
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        for piece in upload.chunks():
            handle.write(piece)
    job = ImportJob(
        organization_id=branch.organization_id, branch=branch, created_by=actor, kind=kind,
        source_system=source_system.strip(), original_name=name[:200], stored_path=stored,
        file_format=file_format, encoding=encoding, date_format=date_format,
        default_country=default_country, status=ImportStatus.UPLOADED,
    )  # fmt: skip
    try:
        with open_table(target, file_format, encoding) as (headers, _rows):
            job.mapping = propose_mapping(kind, headers)
        job.total_rows = count_rows(target, file_format, encoding)
    except FileProblem as problem:
        job.status = ImportStatus.FAILED
        job.failure = describe(problem.code, problem.params)
    with transaction.atomic():
        job.save()
        record_event(
            actor=actor, action=AuditAction.CREATE, target=job,
            summary=f"{job.kind} {job.original_name}"[:255],
            changes={"rows": (None, job.total_rows), "status": (None, job.status)},
        )  # fmt: skip
    return job


@transaction.atomic
def set_mapping(
    job: ImportJob, mapping: dict[str, str], mode: str, *, then_check: bool = False
) -> ImportJob:
    """Which column of the file holds which field, and how to treat bad rows.

    Changing it forgets an earlier check (its report may no longer be true)."""
    locked = ImportJob.objects.select_for_update().get(pk=job.pk)
    if locked.status not in (ImportStatus.UPLOADED, ImportStatus.CHECKED):
        raise Conflict.on("mapping", _("The mapping can only change before the import starts."))
    headers = set(job_headers(locked))
    columns = {column.field: column for column in columns_of(locked.kind)}
    errors: dict[str, list[Any]] = {}
    cleaned = {name: header for name, header in mapping.items() if header}
    for name, header in cleaned.items():
        if name not in columns:
            errors[f"mapping.{name}"] = [_("There is no such field to import.")]
        elif header not in headers:
            errors[f"mapping.{name}"] = [_("The file has no column with this header.")]
    used: dict[str, str] = {}
    for name, header in cleaned.items():
        if header in used:
            errors[f"mapping.{name}"] = [_("This column is already mapped to another field.")]
        used[header] = name
    for column in columns.values():
        if column.required and column.field not in cleaned:
            errors[f"mapping.{column.field}"] = [_("This field is needed: choose its column.")]
    if mode not in ImportMode.values:
        errors["mode"] = [_("Choose one of the modes offered.")]
    if errors:
        raise InvalidInput(errors)
    locked.mapping = cleaned
    locked.mode = mode
    locked.status = ImportStatus.UPLOADED
    locked.save(update_fields=["mapping", "mode", "status", "updated_at"])
    if then_check:
        queue_check(locked)
    return locked


# --- the pass over the file -----------------------------------------------------------------
@dataclass
class Counts:
    total: int = 0
    good: int = 0
    bad: int = 0
    skipped: int = 0
    created: int = 0
    seen: dict[str, int] = field(default_factory=dict)  # external ID -> first line


def _claim(job: ImportJob, to: str, *, from_: Iterable[str]) -> ImportJob:
    """Move the job on in one UPDATE, so two workers never run the same job."""
    moved = ImportJob.objects.filter(pk=job.pk, status__in=list(from_)).update(
        status=to, processed_rows=0, updated_at=timezone.now()
    )
    if not moved:
        raise Conflict.on("status", _("This import is already running or finished."))
    return ImportJob.objects.select_related("branch", "organization").get(pk=job.pk)


def _context(job: ImportJob) -> RowContext:
    branches: dict[str, Branch] = {}
    every_branch = list(Branch.objects.filter(organization_id=job.organization_id))
    for branch in every_branch:
        # A patient's home branch must be open; history may have happened at one closed since.
        if branch.is_active or job.kind != ImportKind.PATIENTS:
            branches.setdefault(lookup_key(branch.name), branch)
            branches[lookup_key(branch.code)] = branch
    channels: dict[str, Channel] = {}
    for channel in Channel.objects.filter(organization_id=job.organization_id):
        channels.setdefault(lookup_key(channel.name), channel)
        channels.setdefault(lookup_key(channel.code), channel)
    now = timezone.now()
    today = timezone.localdate(now, timezone=ZoneInfo(job.branch.time_zone))
    return RowContext(
        default_branch=job.branch, branches=branches, channels=channels,
        date_format=job.date_format, country=job.default_country, today=today,
        todays={b.pk: timezone.localdate(now, timezone=ZoneInfo(b.time_zone)) for b in every_branch},
        staff=staff_of(job.organization_id) if job.kind == ImportKind.VISITS else {},
        branches_by_id={branch.pk: branch for branch in every_branch},
    )  # fmt: skip


def _column_index(job: ImportJob, headers: list[str]) -> dict[str, int]:
    missing = [
        str(column.label)
        for column in columns_of(job.kind)
        if column.required and job.mapping.get(column.field) not in headers
    ]
    if missing:
        raise FileProblem("missing_columns", columns=", ".join(missing))
    return {
        name: headers.index(header) for name, header in job.mapping.items() if header in headers
    }


def _chunks(rows: Iterator[Row]) -> Iterator[list[Row]]:
    while chunk := list(islice(rows, CHUNK)):
        yield chunk


def _existing_ids(job: ImportJob, external_ids: list[str]) -> set[str]:
    """The chunk's external IDs imported before (from this system, in this organisation,
    of this kind of row)."""
    rows = ExternalId.objects.filter(
        organization_id=job.organization_id, system=job.source_system,
        kind=EXTERNAL_KIND[job.kind],
    )  # fmt: skip
    return set(with_external_ids(rows, external_ids).values_list("external_id", flat=True))


GoodRow = PatientRow | HistoryRow


def _read_chunk(
    job: ImportJob, chunk: list[Row], width: int, index: dict[str, int], context: RowContext,
    counts: Counts,
) -> tuple[list[GoodRow], list[RowError]]:  # fmt: skip
    good: list[GoodRow] = []
    errors: list[RowError] = []
    cells_of: list[tuple[int, dict[str, str]]] = []
    for line, raw in chunk:
        if len(raw) != width:
            code = "short_row" if len(raw) < width else "long_row"
            errors.append((line, "row", code, {"found": len(raw), "expected": width}))
            continue
        cells_of.append((line, {name: raw[i] for name, i in index.items()}))
    existing = _existing_ids(job, [cells["external_id"].strip() for _line, cells in cells_of])
    is_history = job.kind != ImportKind.PATIENTS
    # Whom history rows name, for the rows not imported before (a second run asks nothing).
    patients = (
        known_patients(job, [
            cells["patient_external_id"].strip()
            for _line, cells in cells_of
            if cells["external_id"].strip() not in existing
        ])
        if is_history
        else {}
    )  # fmt: skip
    for line, cells in cells_of:
        external_id = cells["external_id"].strip()
        first = counts.seen.get(external_id) if external_id else None
        if first is not None:
            errors.append((line, "external_id", "duplicate_in_file", {"first_line": first}))
            continue
        if external_id:
            counts.seen[external_id] = line
        if external_id in existing:
            counts.skipped += 1  # imported before: not checked or written again
            continue
        parsed: GoodRow | list[RowError]
        if is_history:
            patient = patients.get(cells["patient_external_id"].strip())
            parsed = parse_history_row(job.kind, line, cells, context, patient)
        else:
            parsed = parse_patient_row(line, cells, context)
        if isinstance(parsed, list):
            errors.extend(parsed)
        else:
            good.append(parsed)
    counts.bad += len({line for line, *_rest in errors})
    return good, errors


def _process(job: ImportJob, *, write: bool, progress: Progress | None) -> Counts:
    """One pass over the file: count, check every row, and (when writing) create the good
    ones. Replaces the job's error report."""
    ImportRowError.objects.filter(job=job).delete()
    counts = Counts()
    context = _context(job)
    with open_table(job_path(job), job.file_format, job.encoding) as (headers, rows):
        index = _column_index(job, headers)
        for number, chunk in enumerate(_chunks(rows)):
            good, errors = _read_chunk(job, chunk, len(headers), index, context, counts)
            counts.total += len(chunk)
            counts.good += len(good)
            with transaction.atomic():
                if write and good:
                    counts.created += len(good)
                    # Their profiles in the same transaction: an imported patient is in
                    # the groups and segments as soon as they exist, and imported history
                    # counts in the groups at once.
                    refresh_profiles(_create(job, good))
                write_rows(
                    ImportRowError, ("job", "line", "field", "code", "params"),
                    ((job.pk, line, name, code, params) for line, name, code, params in errors),
                )  # fmt: skip
                ImportJob.objects.filter(pk=job.pk).update(processed_rows=counts.total)
                if write and number == 0:
                    _refresh_statistics(job.kind)
            if progress is not None:
                progress(counts.total, max(job.total_rows, counts.total))
    return counts


def _create(job: ImportJob, rows: list[GoodRow]) -> Iterable[int]:
    """Write one chunk's good rows; returns the patients whose profiles change."""
    if job.kind == ImportKind.PATIENTS:
        return _create_patients(job, [row for row in rows if isinstance(row, PatientRow)])
    return create_history(job, [row for row in rows if isinstance(row, HistoryRow)])


# Tables an import fills. PostgreSQL's planner takes a table it has never analysed
# for nearly empty; once thousands of rows land in one (an import into a new organisation's
# database, or all of it inside one transaction), a join over it can pick a nested loop
# that runs for minutes. Statistics taken after the first chunk scale with the table from
# then on (the planner multiplies them by its current size). ANALYZE counts rows this
# transaction wrote.
_IMPORTED_TABLES = {
    ImportKind.PATIENTS.value: (
        "patients_patient", "patients_patientphone", "patients_patient_tags",
        "crm_externalid", "crm_patientprofile",
    ),
    ImportKind.VISITS.value: ("crm_historicalvisit", "crm_externalid", "crm_patientprofile"),
    ImportKind.PAYMENTS.value: ("crm_historicalpayment", "crm_externalid", "crm_patientprofile"),
}  # fmt: skip


def _refresh_statistics(kind: str) -> None:
    if connection.vendor != "postgresql":
        return  # SQLite plans these queries from its indexes alone
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(_IMPORTED_TABLES[kind]))


# --- writing patients ------------------------------------------------------------------------
def _tag_ids(job: ImportJob, names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    found = dict(
        Tag.objects.filter(organization_id=job.organization_id, name__in=names).values_list(
            "name", "pk"
        )
    )
    missing = names - set(found)
    if missing:
        Tag.objects.bulk_create(
            [Tag(organization_id=job.organization_id, name=name) for name in sorted(missing)],
            ignore_conflicts=True,
        )
        found = dict(
            Tag.objects.filter(organization_id=job.organization_id, name__in=names).values_list(
                "name", "pk"
            )
        )
    return found


def _name_order(branch: Branch) -> str:
    # As the patient form: Vietnamese and Chinese names put the family name first.
    family_first = branch.locale.split("_")[0] in {"vi", "zh"}
    return NameOrder.FAMILY_FIRST if family_first else NameOrder.GIVEN_FIRST


_PATIENT_COLUMNS = (
    "organization", "home_branch", "number", "family_name", "given_name", "name_order",
    "display_name", "birth_date", "sex", "email", "preferred_language", "preferred_times",
    "source_channel", "referrer_external", "notes", "status", "search_key", "created_at",
    "updated_at",
)  # fmt: skip


def _insert_patients(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """The patients of one chunk; returns number -> id. Django's bulk_create builds a model
    instance and an SQL fragment per value, which costs more than the database itself at
    100,000 rows. Ids are matched by number (unique in the organisation)."""
    meta = Patient._meta
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        ids = allocate_ids(Patient, len(rows))
        write_rows(
            Patient,
            ("id", *_PATIENT_COLUMNS),
            [(i, *row) for i, row in zip(ids, rows, strict=True)],
        )
        return {row[2]: patient_id for patient_id, row in zip(ids, rows, strict=True)}
    per_statement = max(1, (connection.features.max_query_params or 999) // len(_PATIENT_COLUMNS))
    placeholders = "(" + ", ".join(["%s"] * len(_PATIENT_COLUMNS)) + ")"
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(rows), per_statement):
            batch = rows[start : start + per_statement]
            # Identifiers come from model metadata and are quoted; values are parameters.
            sql = "INSERT INTO {} ({}) VALUES {} RETURNING {}, {}".format(  # noqa: S608
                quote(meta.db_table), column_list(Patient, _PATIENT_COLUMNS),
                ", ".join([placeholders] * len(batch)), quote("id"), quote("number"),
            )  # fmt: skip
            cursor.execute(sql, [value for row in batch for value in row])
            found.update((number, patient_id) for patient_id, number in cursor.fetchall())
    return found


def _create_patients(job: ImportJob, rows: list[PatientRow]) -> list[int]:
    """Patients, their phones, tags and external IDs for one chunk of good rows; returns
    the new patients' ids."""
    numbers = allocate_patient_numbers(job.organization, len(rows))
    is_postgresql = connection.vendor == "postgresql"
    now: Any = timezone.now()
    now = (
        now
        if is_postgresql
        else Patient._meta.get_field("created_at").get_db_prep_save(now, connection)
    )
    no_times = "[]"  # the JSON text of an empty list, on both databases
    values = []
    for row, number in zip(rows, numbers, strict=True):
        order = _name_order(row.home_branch)
        display_name = compose_display_name(
            family_name=row.family_name, given_name=row.given_name, name_order=order
        )
        search_key = build_search_key(
            display_name=display_name, family_name=row.family_name,
            given_name=row.given_name, number=number, phones=row.phones,
        )  # fmt: skip
        values.append((
            job.organization_id, row.home_branch.pk, number, row.family_name, row.given_name,
            order, display_name[:200], row.birth_date, row.sex, row.email,
            row.preferred_language, no_times,
            row.source_channel.pk if row.source_channel else None, "", row.notes,
            PatientStatus.ACTIVE, search_key, now, now,
        ))  # fmt: skip
    ids = _insert_patients(values)
    patient_ids = [ids[number] for number in numbers]
    write_rows(
        PatientPhone, ("patient", "number", "kind", "is_primary"),
        (
            (patient_id, phone, PhoneKind.MOBILE, position == 0)
            for patient_id, row in zip(patient_ids, rows, strict=True)
            for position, phone in enumerate(row.phones)
        ),
    )  # fmt: skip
    tag_ids = _tag_ids(job, {tag for row in rows for tag in row.tags})
    write_rows(
        Patient.tags.through, ("patient", "tag"),
        (
            (patient_id, tag_ids[tag])
            for patient_id, row in zip(patient_ids, rows, strict=True)
            for tag in row.tags
        ),
    )  # fmt: skip
    write_rows(
        ExternalId, ("organization", "system", "kind", "external_id", "object_id", "job"),
        (
            (job.organization_id, job.source_system, ExternalKind.PATIENT, row.external_id,
             patient_id, job.pk)
            for patient_id, row in zip(patient_ids, rows, strict=True)
        ),
    )  # fmt: skip
    return patient_ids


# --- check and run ---------------------------------------------------------------------------
def _save_counts(job: ImportJob, counts: Counts, *, status: str, **more: Any) -> ImportJob:
    job.status = status
    job.total_rows = counts.total
    job.processed_rows = counts.total
    job.good_rows = counts.good
    job.bad_rows = counts.bad
    job.skipped_rows = counts.skipped
    for name, value in more.items():
        setattr(job, name, value)
    job.save()
    return job


def _fail(job: ImportJob, problem: FileProblem) -> ImportJob:
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportStatus.FAILED, failure=describe(problem.code, problem.params),
        finished_at=timezone.now(),
    )  # fmt: skip
    job.refresh_from_db()
    return job


_READY = (ImportStatus.UPLOADED, ImportStatus.CHECKED)


def check_job(
    job: ImportJob, progress: Progress | None = None, *, queued: bool = False
) -> ImportJob:
    """The dry run: every bad row reported (line, field, reason), nothing written.

    `queued`: the job was claimed when its task was queued (a task handed out again after
    its worker died finds the job still checking, and checks again)."""
    claimed = _claim(
        job, ImportStatus.CHECKING, from_=(ImportStatus.CHECKING,) if queued else _READY
    )
    try:
        counts = _process(claimed, write=False, progress=progress)
    except FileProblem as problem:
        return _fail(claimed, problem)
    except BaseException:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.UPLOADED)
        raise
    return _save_counts(claimed, counts, status=ImportStatus.CHECKED, failure="")


def run_job(
    job: ImportJob,
    progress: Progress | None = None,
    *,
    actor: User | None = None,
    queued: bool = False,
) -> ImportJob:
    """Import the file. All or nothing: refused (nothing written) if any row is bad. Good
    rows: the good rows go in, chunk by chunk, and the bad ones are reported. Rows whose
    external ID was imported before are skipped, so running it again adds nothing."""
    claimed = _claim(
        job, ImportStatus.IMPORTING, from_=(ImportStatus.IMPORTING,) if queued else _READY
    )
    claimed.started_at = timezone.now()
    claimed.save(update_fields=["started_at"])
    actor = actor or claimed.created_by
    try:
        if claimed.mode == ImportMode.ALL_OR_NOTHING:
            counts = _process(claimed, write=False, progress=progress)
            if counts.bad:
                _save_counts(claimed, counts, status=ImportStatus.CHECKED)
                raise Conflict.on("mode", gettext(
                    "%(count)s rows are bad, so nothing was imported. Correct them, or "
                    "choose to import the good rows."
                ) % {"count": counts.bad})  # fmt: skip
            with transaction.atomic():
                counts = _process(claimed, write=True, progress=progress)
                return _finish(claimed, counts, actor)
        counts = _process(claimed, write=True, progress=progress)
        with transaction.atomic():
            return _finish(claimed, counts, actor)
    except FileProblem as problem:
        return _fail(claimed, problem)
    except Conflict:
        raise
    except BaseException:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED, finished_at=timezone.now(),
            failure=gettext("The import stopped on an unexpected error; rows already "
                            "imported stay and are skipped when it runs again."),
        )  # fmt: skip
        raise


_SUMMARIES = {
    ImportKind.PATIENTS.value: _("Imported %(created)s patients from %(name)s"),
    ImportKind.VISITS.value: _("Imported %(created)s visits from %(name)s"),
    ImportKind.PAYMENTS.value: _("Imported %(created)s payments from %(name)s"),
}


def _finish(job: ImportJob, counts: Counts, actor: User | None) -> ImportJob:
    _save_counts(
        job, counts, status=ImportStatus.DONE, created_rows=counts.created,
        finished_at=timezone.now(), failure="",
    )  # fmt: skip
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=job,
        summary=_SUMMARIES[job.kind] % {"created": counts.created, "name": job.original_name},
        changes={
            "status": (ImportStatus.IMPORTING, ImportStatus.DONE), "rows": (None, counts.total),
            "created": (None, counts.created), "skipped": (None, counts.skipped),
            "bad": (None, counts.bad), "mode": (None, job.mode),
        },
    )  # fmt: skip
    return job


# --- background -----------------------------------------------------------------------------
def queue_check(job: ImportJob) -> ImportJob:
    """Check in a background task (pages, API); the job shows "checking" at once and the
    progress bar follows `processed_rows`."""
    claimed = _claim(job, ImportStatus.CHECKING, from_=_READY)
    transaction.on_commit(
        lambda: async_task("chairtime.crm.importing.tasks.check_import_task", claimed.pk)
    )
    return claimed


def queue_run(job: ImportJob, *, actor: User) -> ImportJob:
    """Import in a background task; the audit event names `actor`."""
    claimed = _claim(job, ImportStatus.IMPORTING, from_=_READY)
    transaction.on_commit(
        lambda: async_task("chairtime.crm.importing.tasks.run_import_task", claimed.pk, actor.pk)
    )
    return claimed
