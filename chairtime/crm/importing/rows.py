"""Turning one row of a patient file into checked values, or the reasons it is bad.

No database access here: the branches and channels a row may name are looked up in
dictionaries the caller fills once per job. Phones follow `patients.forms.parse_phone`
(the same phonenumbers calls: read in the given country, valid, stored as E.164); it is
not imported because services must not depend on forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from chairtime.core.text import fold
from chairtime.crm.choices import DateFormat
from chairtime.marketing.models import Channel
from chairtime.patients.choices import Sex
from chairtime.tenancy.models import Branch

RowError = tuple[int, str, str, dict[str, Any]]  # line, field, code, params

MAX_LENGTHS = {
    "external_id": 100, "family_name": 100, "given_name": 100, "email": 254, "notes": 5000,
}  # fmt: skip
TAG_MAX_LENGTH = 60

_SEX = {
    Sex.FEMALE: ("f", "female", "woman", "w", "nu", "女", "mujer", "femenino"),
    Sex.MALE: ("m", "male", "man", "nam", "男", "hombre", "masculino", "h", "varon"),
    Sex.OTHER: ("other", "khac", "其他", "otro"),
    Sex.UNKNOWN: ("unknown", "?", "-", "khong ro", "未知", "desconocido"),
}
SEX_WORDS = {word: value.value for value, words in _SEX.items() for word in (*words, value.value)}

_LANGUAGES = {
    "en": ("english", "tieng anh", "英语", "英文", "ingles"),
    "zh-hans": ("zh", "chinese", "tieng trung", "中文", "汉语", "chino"),
    "vi": ("vietnamese", "tieng viet", "越南语", "vietnamita"),
    "es": ("spanish", "tieng tay ban nha", "西班牙语", "espanol"),
}
LANGUAGE_WORDS = {
    word: code
    for code, words in _LANGUAGES.items()
    if code in dict(settings.LANGUAGES)
    for word in (*words, code)
}

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


@dataclass
class PatientRow:
    """One good row, ready to become a patient."""

    line: int
    external_id: str
    family_name: str
    home_branch: Branch
    given_name: str = ""
    birth_date: date | None = None
    sex: str = Sex.UNKNOWN
    phones: list[str] = field(default_factory=list)
    email: str = ""
    preferred_language: str = ""
    source_channel: Channel | None = None
    tags: list[str] = field(default_factory=list)
    notes: str = ""


@dataclass
class RowContext:
    """What every row of one job is read against."""

    default_branch: Branch
    branches: dict[str, Branch]  # folded code or name -> branch of the organisation
    channels: dict[str, Channel]  # folded name or code -> channel of the organisation
    date_format: str
    country: str
    today: date


def parse_date(raw: str, date_format: str, today: date) -> tuple[date | None, str]:
    """(the date, "") or (None, error code). ISO is always read; "03/04/2020" only with
    the format the user chose (with ISO chosen it is ambiguous unless one reading is
    impossible)."""
    return _parse_date(raw.strip(), date_format, today)


@lru_cache(maxsize=65536)
def _parse_date(text: str, date_format: str, today: date) -> tuple[date | None, str]:
    iso = _ISO.match(text)
    if iso:
        return _checked_date(int(iso[1]), int(iso[2]), int(iso[3]), today)
    numeric = _NUMERIC.match(text)
    if not numeric:
        return None, "bad_date"
    first, second, year = int(numeric[1]), int(numeric[2]), int(numeric[3])
    if date_format == DateFormat.DAY_FIRST:
        return _checked_date(year, second, first, today)
    if date_format == DateFormat.MONTH_FIRST:
        return _checked_date(year, first, second, today)
    day_first = _checked_date(year, second, first, today)
    month_first = _checked_date(year, first, second, today)
    if day_first[0] is not None and month_first[0] is not None and day_first != month_first:
        return None, "ambiguous_date"
    if day_first[0] is None and month_first[0] is None:
        return day_first
    return day_first if day_first[0] is not None else month_first


def _checked_date(year: int, month: int, day: int, today: date) -> tuple[date | None, str]:
    try:
        value = date(year, month, day)
    except ValueError:
        return None, "impossible_date"
    if value > today:
        return None, "future_date"
    return value, ""


def parse_phone_number(raw: str, country: str) -> str | None:
    """E.164, or None when phonenumbers does not accept it (as `parse_phone`)."""
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


@lru_cache(maxsize=16)
def phone_example(country: str) -> str:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return "+84 91 234 56 78"
    return str(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def lookup_key(text: str) -> str:
    return fold(text)


class _Row:
    """Collects one row's values and errors."""

    def __init__(self, line: int, cells: dict[str, str]) -> None:
        self.line = line
        self.cells = cells
        self.errors: list[RowError] = []

    def error(self, name: str, code: str, **params: Any) -> None:
        self.errors.append((self.line, name, code, params))

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.cells.get(name, "").strip()
        if required and not value:
            self.error(name, "required")
        limit = MAX_LENGTHS.get(name)
        if limit is not None and len(value) > limit:
            self.error(name, "too_long", value=value[:40], max=limit)
        return value


def parse_patient_row(
    line: int, cells: dict[str, str], context: RowContext
) -> PatientRow | list[RowError]:
    """The row's values, or every reason it is bad (all fields are checked, not just the first)."""
    row = _Row(line, cells)
    external_id = row.text("external_id", required=True)
    family_name = row.text("family_name", required=True)
    given_name = row.text("given_name")
    email = row.text("email")
    notes = row.text("notes")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            row.error("email", "bad_email", value=email[:60])
    birth_date = None
    raw_date = row.text("birth_date")
    if raw_date:
        birth_date, code = parse_date(raw_date, context.date_format, context.today)
        if code:
            row.error("birth_date", code, value=raw_date[:40])
    sex = Sex.UNKNOWN.value
    raw_sex = row.text("sex")
    if raw_sex:
        found = SEX_WORDS.get(fold(raw_sex))
        if found is None:
            row.error(
                "sex", "bad_choice", value=raw_sex[:40], choices="female, male, other, unknown"
            )
        else:
            sex = found
    phones: list[str] = []
    for name in ("phone", "phone_alt"):
        raw_phone = row.text(name)
        if raw_phone:
            number = parse_phone_number(raw_phone, context.country)
            if number is None:
                row.error(
                    name, "bad_phone", value=raw_phone[:40], example=phone_example(context.country)
                )
            elif number not in phones:
                phones.append(number)
    home_branch = context.default_branch
    raw_branch = row.text("home_branch")
    if raw_branch:
        branch = context.branches.get(lookup_key(raw_branch))
        if branch is None:
            row.error("home_branch", "unknown_branch", value=raw_branch[:60])
        else:
            home_branch = branch
    language = ""
    raw_language = row.text("preferred_language")
    if raw_language:
        language = LANGUAGE_WORDS.get(fold(raw_language), "")
        if not language:
            row.error(
                "preferred_language", "bad_choice", value=raw_language[:40],
                choices=", ".join(code for code, _label in settings.LANGUAGES),
            )  # fmt: skip
    channel = None
    raw_channel = row.text("source_channel")
    if raw_channel:
        channel = context.channels.get(lookup_key(raw_channel))
        if channel is None:
            row.error("source_channel", "unknown_channel", value=raw_channel[:60])
    tags = []
    for tag in row.text("tags").split(";"):
        tag = " ".join(tag.split())
        if len(tag) > TAG_MAX_LENGTH:
            row.error("tags", "too_long", value=tag[:40], max=TAG_MAX_LENGTH)
        elif tag and tag not in tags:
            tags.append(tag)
    if row.errors:
        return row.errors
    return PatientRow(
        line=line, external_id=external_id, family_name=family_name, given_name=given_name,
        home_branch=home_branch, birth_date=birth_date, sex=sex, phones=phones, email=email,
        preferred_language=language, source_channel=channel, tags=tags, notes=notes,
    )  # fmt: skip
