"""Turning one row of a patient file into checked values, or the reasons it is bad.

No database access here: the branches, channels and staff a row may name are looked up
in dictionaries the caller fills once per job, and the patients history rows name are
looked up by the caller once per chunk. Phones follow `patients.forms.parse_phone`
(the same phonenumbers calls: read in the given country, valid, stored as E.164); it is
not imported because services must not depend on forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from chairtime.core.money import LARGEST, currency_places
from chairtime.core.text import fold
from chairtime.crm.choices import DateFormat, ImportKind
from chairtime.marketing.models import Channel
from chairtime.patients.choices import Sex
from chairtime.tenancy.models import Branch

RowError = tuple[int, str, str, dict[str, Any]]  # line, field, code, params

MAX_LENGTHS = {
    "external_id": 100, "family_name": 100, "given_name": 100, "email": 254, "notes": 5000,
    "patient_external_id": 100, "doctor": 200, "description": 300, "method": 40,
    "reference": 100,
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
    branches: dict[str, Branch]  # folded code or name -> branch rows may name
    channels: dict[str, Channel]  # folded name or code -> channel of the organisation
    date_format: str
    country: str
    today: date
    # History files: each branch's local today (a visit cannot be in its branch's future)
    # and the organisation's staff by folded e-mail, username or name (None: two people
    # answer to it, so the text names nobody for sure).
    todays: dict[int, date] = field(default_factory=dict)
    staff: dict[str, int | None] = field(default_factory=dict)
    branches_by_id: dict[int, Branch] = field(default_factory=dict)  # every branch, by id


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


# --- visit and payment history -----------------------------------------------------------------
@dataclass
class HistoryRow:
    """One good row of a visit or payment file, ready to be written."""

    line: int
    external_id: str
    patient_id: int
    branch: Branch
    on: date
    amount: Decimal | None = None
    doctor_id: int | None = None
    doctor_name: str = ""
    description: str = ""
    method: str = ""
    reference: str = ""


@dataclass(frozen=True)
class KnownPatient:
    """The patient a history row's `patient_external_id` leads to (a merged record's
    survivor when it was merged)."""

    id: int
    home_branch_id: int


_GROUPED = {",": re.compile(r"^\d{1,3}(,\d{3})+$"), ".": re.compile(r"^\d{1,3}(\.\d{3})+$")}
_SPACES = str.maketrans("", "", " \u00a0\u202f\u2009'")


def parse_amount(raw: str, currency: str, *, positive: bool) -> tuple[Decimal | None, str]:
    """(the amount, "") or (None, error code). "150000", "150.000.000", "1,234.50" and
    "12,50" are read; "150.000" alone could be thousands or decimals and is refused, as an
    ambiguous date is. Finer than the currency's minor unit is refused, never rounded."""
    text = raw.strip().translate(_SPACES)
    negative = text.startswith("-")
    text = text.removeprefix("-")
    number = _plain_number(text)
    if number is None:
        return None, "bad_amount"
    if number == "ambiguous":
        return None, "ambiguous_amount"
    amount = Decimal(number)
    if negative and amount != 0:
        return None, "negative_amount"
    if amount == 0 and positive:
        return None, "zero_amount"
    if amount > LARGEST:
        return None, "amount_too_large"
    unit = Decimal(1).scaleb(-currency_places(currency))
    if amount != amount.quantize(unit):
        return None, "too_precise"
    return amount.quantize(unit), ""


def _plain_number(text: str) -> str | None:
    """Digits with at most a "." before the decimals ("ambiguous" when one separator
    followed by three digits could be either), or None when it is not a number."""
    if not text or not all(ch.isdigit() or ch in ",." for ch in text) or not text[0].isdigit():
        return None
    separators = [ch for ch in text if ch in ",."]
    if not separators:
        return text
    decimal_mark = separators[-1]
    whole, _mark, decimals = text.rpartition(decimal_mark)
    if len(set(separators)) == 2:  # "1.234,56" or "1,234.56": the last one is the decimals
        group = "," if decimal_mark == "." else "."
        if separators.count(decimal_mark) > 1 or not _GROUPED[group].match(whole):
            return None
        return f"{whole.replace(group, '')}.{decimals}" if decimals.isdigit() else None
    if len(separators) > 1:  # "150.000.000": thousands
        return text.replace(decimal_mark, "") if _GROUPED[decimal_mark].match(text) else None
    if not decimals.isdigit() or not whole.isdigit():
        return None
    if len(decimals) == 3:
        return "ambiguous"
    return f"{whole}.{decimals}"


_TITLES = ("dr", "dra", "doctor", "bs", "bac si", "ths bs", "ts bs", "医生", "医师")


def staff_keys(*, email: str, username: str, first_name: str, last_name: str) -> set[str]:
    """The folded texts a file may name a staff member by: e-mail, username, and the
    full name in both orders (Vietnamese and Chinese put the family name first)."""
    keys = {fold(email), fold(username)}
    if first_name or last_name:
        keys.add(fold(f"{first_name} {last_name}"))
        keys.add(fold(f"{last_name} {first_name}"))
    return {key for key in keys if key}


def match_doctor(text: str, staff: dict[str, int | None]) -> int | None:
    """The staff member the text names, ignoring case, accents and a title ("Dr.", "BS.",
    "Bác sĩ"); None when nobody, or more than one person, answers to it."""
    key = fold(text)
    if key in staff:
        return staff[key]
    words = key.replace(".", " ").split()
    for title in _TITLES:
        size = len(title.split())
        if " ".join(words[:size]) == title:
            return staff.get(" ".join(words[size:]))
    return None


def parse_history_row(
    kind: str, line: int, cells: dict[str, str], context: RowContext,
    patient: KnownPatient | None,
) -> HistoryRow | list[RowError]:  # fmt: skip
    """A visit or payment row's values, or every reason it is bad. `patient`: whom its
    `patient_external_id` names (None: nobody imported from this system)."""
    row = _Row(line, cells)
    is_payment = kind == ImportKind.PAYMENTS
    external_id = row.text("external_id", required=True)
    reference_id = row.text("patient_external_id", required=True)
    if reference_id and patient is None:
        row.error("patient_external_id", "unknown_patient", value=reference_id[:60])
    branch = _history_branch(row, context, patient)
    on = _history_date(row, context, branch)
    amount = _history_amount(row, branch, required=is_payment)
    texts = {name: row.text(name) for name in _HISTORY_TEXTS[is_payment]}
    if row.errors or patient is None or on is None:
        return row.errors
    doctor = texts.get("doctor", "")
    return HistoryRow(
        line=line, external_id=external_id, patient_id=patient.id, branch=branch, on=on,
        amount=amount, doctor_id=match_doctor(doctor, context.staff) if doctor else None,
        doctor_name=doctor, description=texts.get("description", ""),
        method=texts.get("method", ""), reference=texts.get("reference", ""),
    )  # fmt: skip


_HISTORY_TEXTS = {False: ("doctor", "description"), True: ("method", "reference")}


def _history_branch(row: _Row, context: RowContext, patient: KnownPatient | None) -> Branch:
    """The branch the file names, else the patient's home branch (the job's branch when the
    patient is unknown)."""
    raw = row.text("branch")
    if raw:
        found = context.branches.get(lookup_key(raw))
        if found is not None:
            return found
        row.error("branch", "unknown_branch", value=raw[:60])
    elif patient is not None:
        home = context.branches_by_id.get(patient.home_branch_id)
        if home is not None:
            return home
    return context.default_branch


def _history_date(row: _Row, context: RowContext, branch: Branch) -> date | None:
    """The row's date; in the future is counted from the branch's local today."""
    raw = row.text("date", required=True)
    if not raw:
        return None
    on, code = parse_date(raw, context.date_format, context.todays.get(branch.pk, context.today))
    if code:
        row.error("date", code, value=raw[:40])
    return on


def _history_amount(row: _Row, branch: Branch, *, required: bool) -> Decimal | None:
    """In the branch's currency: a payment's is needed and above zero, a visit's may be
    missing or zero (a free check-up)."""
    raw = row.text("amount", required=required)
    if not raw:
        return None
    amount, code = parse_amount(raw, branch.currency, positive=required)
    if code:
        params: dict[str, Any] = {"value": raw[:40]}
        if code == "too_precise":
            params.update(currency=branch.currency, places=currency_places(branch.currency))
        row.error("amount", code, **params)
    return amount
