"""Why a row or a file was refused, in the reader's language.

Errors are stored as a code and its values (`ImportRowError.code/params`), so the report
reads in the language of whoever opens it, not of whoever ran the import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

MESSAGES: dict[str, str | Promise] = {
    # One cell or one row.
    "required": _("A value is needed here."),
    "too_long": _("“%(value)s” is longer than %(max)s characters."),
    "bad_phone": _("“%(value)s” is not a valid phone number. Write it like %(example)s."),
    "bad_email": _("“%(value)s” is not a valid email address."),
    "bad_date": _("“%(value)s” is not a date. Write it like 2024-03-31."),
    "ambiguous_date": _(
        "“%(value)s” could be day/month or month/day. Choose the file's date format "
        "(day first or month first) and check again."
    ),
    "impossible_date": _("“%(value)s” is not a date that exists."),
    "future_date": _("“%(value)s” is in the future."),
    "unknown_branch": _("No branch has the code or name “%(value)s”."),
    "unknown_channel": _("No channel is called “%(value)s”."),
    "bad_choice": _("“%(value)s” is not one of: %(choices)s."),
    "duplicate_in_file": _("The same ID is already on line %(first_line)s of this file."),
    "unknown_patient": _(
        "No patient imported from this system has the ID “%(value)s”. Import the patients "
        "file first, with the same system name."
    ),
    "bad_amount": _("“%(value)s” is not an amount. Write it like 150000 or 12.50."),
    "ambiguous_amount": _(
        "“%(value)s” could be a thousands separator or decimals. Write it without "
        "thousands separators, like 150000 or 1.50."
    ),
    "negative_amount": _("“%(value)s” is below zero."),
    "zero_amount": _("“%(value)s”: a payment must be more than zero."),
    "too_precise": _(
        "“%(value)s” has more decimals than %(currency)s allows (at most %(places)s)."
    ),
    "amount_too_large": _("“%(value)s” is too large."),
    "short_row": _("The row has %(found)s cells but the header has %(expected)s."),
    "long_row": _("The row has %(found)s cells but the header has %(expected)s."),
    # The whole file.
    "decode_error": _(
        "Line %(line)s cannot be read as %(encoding)s. Choose the encoding the file was "
        "saved in and upload it again."
    ),
    "empty_file": _("The file has no header row."),
    "duplicate_header": _("The header “%(header)s” appears twice."),
    "missing_columns": _("Columns that are needed are not mapped: %(columns)s."),
    "bad_workbook": _("The file is not an Excel workbook (.xlsx) that can be read."),
    "bad_format": _("Upload a .csv or an .xlsx file."),
}


def describe(code: str, params: Mapping[str, Any] | None = None) -> str:
    """The translated sentence for an error code and its values."""
    message = MESSAGES.get(code)
    if message is None:
        return gettext("Unexpected problem (%(code)s).") % {"code": code}
    try:
        return str(message) % dict(params or {})
    except (KeyError, TypeError, ValueError):
        return str(message)
