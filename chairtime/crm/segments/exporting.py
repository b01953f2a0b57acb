"""Exports of patient lists: CSV (streamed, UTF-8 with a BOM so Excel reads Vietnamese and
Chinese names) and Excel (openpyxl's write-only workbook). Every export is audited first,
with its row count, then the rows are produced."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from chairtime.core.errors import InvalidInput
from chairtime.crm.models import PatientProfile, Segment
from chairtime.crm.segments.filters import Definition, parse_definition
from chairtime.crm.segments.selectors import count_patients, segment_patients
from chairtime.crm.segments.services import record_export
from chairtime.patients.models import Patient
from chairtime.patients.selectors import list_patients
from chairtime.tenancy.models import Branch

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Cell = str | int | Decimal | date | None


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    chunks: Iterable[bytes]
    rows: int


def headers() -> list[str]:
    return [
        _("Number"), _("Family name"), _("Given name"), _("Display name"), _("Birth date"),
        _("Sex"), _("Phone"), _("Email"), _("Home branch"), _("Customer group"),
        _("Last visit"), _("Visits"), _("Spend"), _("Balance"), _("Currency"),
    ]  # fmt: skip


def row_of(patient: Patient) -> list[Cell]:
    try:
        profile: PatientProfile | None = patient.profile
    except PatientProfile.DoesNotExist:
        profile = None
    phones = getattr(patient, "primary_phones", None)
    phone = phones[0].number if phones else ""
    return [
        patient.number, patient.family_name, patient.given_name, patient.display_name,
        patient.birth_date, patient.get_sex_display(), phone, patient.email,
        patient.home_branch.name,
        profile.get_group_display() if profile else "",
        profile.last_visit_on if profile else None,
        profile.visit_count if profile else None,
        profile.spend_total if profile else None,
        profile.balance if profile else None,
        profile.currency if profile else "",
    ]  # fmt: skip


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, date):
        return cell.isoformat()
    text = str(cell)
    # A cell starting with "=" or "@" (or "+"/"-" not followed by a digit) would be read by
    # a spreadsheet as a formula: quote it. Phone numbers ("+84…") stay as they are.
    if text[:1] in ("=", "@", "\t", "\r") or (text[:1] in ("+", "-") and not text[1:2].isdigit()):
        return "'" + text
    return text


class _Line:
    """A file-like that hands back what csv.writer writes, for streaming."""

    def write(self, value: str) -> str:
        return value


def csv_chunks(patients: Iterable[Patient]) -> Iterator[bytes]:
    writer = csv.writer(_Line())
    yield "\ufeff".encode()
    yield writer.writerow(headers()).encode()
    for patient in patients:
        yield writer.writerow([_text(cell) for cell in row_of(patient)]).encode()


def xlsx_bytes(patients: Iterable[Patient]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Patients"))
    sheet.append(headers())
    for patient in patients:
        sheet.append(
            [
                cell if isinstance(cell, int | Decimal | date) or cell is None else _text(cell)
                for cell in row_of(patient)
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _parse_format(file_format: str) -> str:
    if file_format not in FORMATS:
        raise InvalidInput.on("format", _("Use “csv” or “xlsx”."))
    return file_format


def _build(
    *,
    actor: AbstractBaseUser,
    branch: Branch,
    file_format: str,
    stem: str,
    what: str,
    rows: int,
    patients: Iterable[Patient],
    segment: Segment | None = None,
) -> Export:
    with transaction.atomic():
        record_export(
            actor=actor, branch=branch, what=what, file_format=file_format, rows=rows,
            segment=segment,
        )  # fmt: skip
    day = timezone.localdate(timezone.now(), branch.zone).isoformat()
    filename = f"{stem}-{day}.{file_format}"
    chunks: Iterable[bytes] = (
        csv_chunks(patients) if file_format == "csv" else [xlsx_bytes(patients)]
    )
    return Export(filename, CONTENT_TYPES[file_format], chunks, rows)


def export_segment(
    *, actor: AbstractBaseUser, branch: Branch, segment: Segment, file_format: str
) -> Export:
    """A saved segment, re-evaluated now."""
    file_format = _parse_format(file_format)
    definition = parse_definition(segment.definition)
    return _build(
        actor=actor, branch=branch, file_format=file_format, stem=f"segment-{segment.pk}",
        what=_("segment “%(name)s”") % {"name": segment.name},
        rows=count_patients(definition, branch=branch),
        patients=segment_patients(definition, branch=branch), segment=segment,
    )  # fmt: skip


def export_filter(
    *, actor: AbstractBaseUser, branch: Branch, definition: Definition, file_format: str
) -> Export:
    """An unsaved filter from the builder or the API."""
    file_format = _parse_format(file_format)
    return _build(
        actor=actor, branch=branch, file_format=file_format, stem="patients-filter",
        what=_("filter with %(count)d conditions") % {"count": definition.count_conditions()},
        rows=count_patients(definition, branch=branch),
        patients=segment_patients(definition, branch=branch),
    )  # fmt: skip


def export_patient_list(
    *, actor: AbstractBaseUser, branch: Branch, query: str, scope: str, file_format: str
) -> Export:
    """The patient list as its page shows it (`?q=` search, `scope` branch or all)."""
    file_format = _parse_format(file_format)
    patients: QuerySet[Patient] = list_patients(
        branch=branch, query=query, home_branch_only=scope != "all"
    ).select_related("profile")
    what = _("patient list (search “%(query)s”, %(scope)s)") % {
        "query": query, "scope": _("all branches") if scope == "all" else branch.name,
    }  # fmt: skip
    return _build(
        actor=actor, branch=branch, file_format=file_format, stem="patients", what=what,
        rows=patients.count(), patients=patients.iterator(chunk_size=2000),
    )  # fmt: skip
