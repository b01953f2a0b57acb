"""Reading an uploaded file as a header and numbered rows of text cells.

CSV is decoded line by line in the encoding the user chose, so a wrong choice fails with
the line that could not be read instead of importing garbled names. Excel files are read
with openpyxl in read-only mode (a row at a time, never the whole sheet in memory).
"""

from __future__ import annotations

import codecs
import csv
import importlib
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from django.utils.translation import gettext_lazy as _

ENCODINGS = [
    ("utf-8", _("UTF-8 (most systems, Excel “CSV UTF-8”)")),
    ("cp1258", _("Windows Vietnamese (cp1258)")),
    ("gb18030", _("Chinese (GB18030 / GBK)")),
    ("cp1252", _("Windows Western European (cp1252)")),
]
FORMATS = ("csv", "xlsx")

Row = tuple[int, list[str]]  # the line (or sheet row) number and the cells


class FileProblem(Exception):
    """The whole file cannot be read: a code and its values for `describe()`."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(code, params)


@contextmanager
def open_table(
    path: Path, file_format: str, encoding: str
) -> Iterator[tuple[list[str], Iterator[Row]]]:
    """The header and an iterator of (line, cells); rows with no value at all are left out."""
    if file_format == "xlsx":
        with _open_workbook(path) as table:
            yield table
        return
    with path.open("rb") as handle:
        yield _csv_table(handle, encoding)


# --- CSV -------------------------------------------------------------------------------------
def _decoded_lines(handle: BinaryIO, encoding: str) -> Iterator[str]:
    # Every encoding offered writes "\n" as that one byte and never inside a character,
    # so splitting the bytes on it first is safe and names the failing line.
    codec = "utf-8-sig" if encoding == "utf-8" else encoding
    decoder = codecs.getdecoder(codec)
    for number, raw in enumerate(handle, start=1):
        if number == 1 and codec == "utf-8-sig":
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            # Windows Vietnamese writes tone marks as combining characters ("e" + "̃"),
            # and some Mac programs write decomposed UTF-8: names are stored composed.
            yield unicodedata.normalize("NFC", decoder(raw)[0])
        except UnicodeDecodeError:
            raise FileProblem("decode_error", line=number, encoding=encoding) from None


def _delimiter(header_line: str) -> str:
    """Excel writes ";" in locales with a decimal comma (Vietnamese, Spanish)."""
    counts = {sep: header_line.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","


def _csv_table(handle: BinaryIO, encoding: str) -> tuple[list[str], Iterator[Row]]:
    lines = _decoded_lines(handle, encoding)
    first = next(lines, None)
    if first is None or not first.strip():
        raise FileProblem("empty_file")
    delimiter = _delimiter(first)

    def all_lines() -> Iterator[str]:
        yield first
        yield from lines

    reader = csv.reader(all_lines(), delimiter=delimiter)
    headers = [cell.strip() for cell in next(reader)]
    _check_headers(headers)

    def rows() -> Iterator[Row]:
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            if any(cell.strip() for cell in cells):
                yield start, cells

    return headers, rows()


def _check_headers(headers: list[str]) -> None:
    if not any(headers):
        raise FileProblem("empty_file")
    seen: set[str] = set()
    for header in headers:
        if header and header in seen:
            raise FileProblem("duplicate_header", header=header)
        seen.add(header)


# --- Excel -----------------------------------------------------------------------------------
def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return (
            value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers and IDs typed as numbers
    return str(value)


@contextmanager
def _open_workbook(path: Path) -> Iterator[tuple[list[str], Iterator[Row]]]:
    openpyxl: Any = importlib.import_module("openpyxl")  # no type stubs
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # zipfile, XML and openpyxl errors alike: not a readable workbook
        raise FileProblem("bad_workbook") from None
    try:
        if workbook.active is None:
            raise FileProblem("bad_workbook")
        sheet_rows = workbook.active.iter_rows(values_only=True)
        first = next(sheet_rows, None)
        if first is None:
            raise FileProblem("empty_file")
        headers = [_cell(value).strip() for value in first]
        while headers and not headers[-1]:
            headers.pop()
        _check_headers(headers)

        def rows() -> Iterator[Row]:
            for number, values in enumerate(sheet_rows, start=2):
                cells = [_cell(value) for value in values]
                while len(cells) > len(headers) and not cells[-1].strip():
                    cells.pop()  # the sheet is wider than this file's header
                # A sheet has no short rows: cells missing at the end are blank cells.
                cells.extend([""] * (len(headers) - len(cells)))
                if any(cell.strip() for cell in cells):
                    yield number, cells

        yield headers, rows()
    finally:
        workbook.close()


def count_rows(path: Path, file_format: str, encoding: str) -> int:
    """How many data rows the file has (for the progress bar); reads it once."""
    with open_table(path, file_format, encoding) as (_headers, rows):
        return sum(1 for _row in rows)
