"""Validators for branch settings: time zone, currency and country codes."""

from __future__ import annotations

import zoneinfo

from babel.core import Locale, UnknownLocaleError
from babel.numbers import list_currencies
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_ZONES = zoneinfo.available_timezones()
_COUNTRIES = frozenset(Locale("en").territories)


def validate_time_zone(value: str) -> None:
    if value not in _ZONES:
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


def validate_currency(value: str) -> None:
    if value not in list_currencies():
        raise ValidationError(_("“%(value)s” is not a currency code."), params={"value": value})


def validate_country(value: str) -> None:
    if len(value) != 2 or not value.isupper() or value not in _COUNTRIES:
        raise ValidationError(_("“%(value)s” is not a country code."), params={"value": value})


def validate_locale(value: str) -> None:
    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError):
        raise ValidationError(_("“%(value)s” is not a locale."), params={"value": value}) from None
