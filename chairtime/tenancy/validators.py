"""Validators for branch settings: time zone, currency and country codes."""

from __future__ import annotations

import zoneinfo

from babel.core import Locale, UnknownLocaleError
from babel.numbers import get_currency_precision, list_currencies
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_ZONES = zoneinfo.available_timezones()
_COUNTRIES = frozenset(Locale("en").territories)


def validate_time_zone(value: str) -> None:
    if value not in _ZONES:
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


# Every money column holds two decimals (ADR 8): a currency with a finer minor unit would
# be rounded silently on the way in.
MAX_CURRENCY_PLACES = 2
_FINER_CURRENCY = {
    3: _("Chairtime keeps amounts with at most two decimals; %(value)s has three."),
    4: _("Chairtime keeps amounts with at most two decimals; %(value)s has four."),
}


def validate_currency(value: str) -> None:
    """A currency code Babel knows whose minor unit the money columns can hold."""
    if value not in list_currencies():
        raise ValidationError(_("“%(value)s” is not a currency code."), params={"value": value})
    places = int(get_currency_precision(value))
    if places > MAX_CURRENCY_PLACES:
        raise ValidationError(_FINER_CURRENCY[min(places, 4)], params={"value": value})


def validate_country(value: str) -> None:
    if len(value) != 2 or not value.isupper() or value not in _COUNTRIES:
        raise ValidationError(_("“%(value)s” is not a country code."), params={"value": value})


def validate_locale(value: str) -> None:
    try:
        Locale.parse(value)
    except (ValueError, UnknownLocaleError):
        raise ValidationError(_("“%(value)s” is not a locale."), params={"value": value}) from None
