"""Dates, times and money in a message's language and the branch's time zone.

Babel formats with the CLDR locale of the language (chairtime.core's table), the same as
the pages' money filter. Results are cached: generating the day's reminders formats the
same few hundred appointment times thousands of times.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.core import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_currency
from django.conf import settings

from chairtime.core.templatetags.chairtime import babel_locale
from chairtime.tenancy.models import Branch

LANGUAGE_CODES = tuple(code for code, _name in settings.LANGUAGES)
# CLDR's no-break spaces ("9:30\u202fAM", "125,50\xa0€") are outside the SMS alphabet: one
# would make a whole English SMS go as UCS-2 (70 characters a part instead of 160).
_PLAIN_SPACES = str.maketrans({"\u202f": " ", "\xa0": " "})


def branch_language(branch: Branch) -> str:
    """The site language closest to the branch's locale ("zh_CN" → "zh-hans")."""
    prefix = branch.locale.split("_")[0].lower()
    return next(
        (code for code in LANGUAGE_CODES if code.split("-")[0] == prefix), settings.LANGUAGE_CODE
    )


@lru_cache(maxsize=8192)
def appointment_time(
    starts_at: datetime, zone: ZoneInfo, language: str, *, short: bool = False
) -> str:
    """The local date and time, joined the way the language joins them: "09:30 Thứ Hai,
    14 tháng 1, 2030", "Monday, January 14, 2030, 9:30 AM", "2030年1月14日星期一 09:30".
    `short` (for the chat apps' 20-30 character fields): "09:30 Th 2, 14 tháng 1"."""
    locale = Locale.parse(babel_locale(language))
    local = starts_at.astimezone(zone)
    if short:
        day = format_skeleton("MMMMEd", local, locale=locale)
    else:
        day = format_date(local, "full", locale=locale)
    clock = format_time(local, "short", locale=locale)
    pattern = str(locale.datetime_formats["medium"])
    return pattern.replace("{1}", day).replace("{0}", clock).translate(_PLAIN_SPACES)


def money(amount: Decimal, currency: str, language: str) -> str:
    """12.500.000 ₫ in Vietnamese, ₫12,500,000 in English: the currency's own decimals."""
    return str(format_currency(amount, currency, locale=babel_locale(language))).translate(
        _PLAIN_SPACES
    )
