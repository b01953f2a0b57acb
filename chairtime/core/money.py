"""Amounts of money: how many decimals a currency has, rounding, and reading typed amounts.

A currency's minor unit decides the valid precision (VND, JPY and KRW have none; USD, EUR
and CNY have cents). Typed amounts with more decimals than that are refused, never
silently rounded; amounts the system computes (a percentage off) are rounded half up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision
from django.utils.translation import gettext as _

from chairtime.core.errors import InvalidInput

ZERO = Decimal("0")
# The money columns hold 14 digits with 2 decimals.
LARGEST = Decimal("999999999999.99")


def currency_places(currency: str) -> int:
    """Decimals of the currency's minor unit: 0 for VND, 2 for USD."""
    return int(get_currency_precision(currency.upper()))


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up to the currency's minor unit."""
    return amount.quantize(Decimal(1).scaleb(-currency_places(currency)), rounding=ROUND_HALF_UP)


def parse_amount(value: object, currency: str, field: str, *, allow_zero: bool = False) -> Decimal:
    """A typed amount as a Decimal, or InvalidInput naming `field`: not a number, negative,
    zero (unless `allow_zero`), too large, or finer than the currency's minor unit."""
    amount = _to_decimal(value, field)
    if amount < 0:
        raise InvalidInput.on(field, _("The amount cannot be negative."))
    if amount == 0 and not allow_zero:
        raise InvalidInput.on(field, _("The amount must be more than zero."))
    if amount > LARGEST:
        raise InvalidInput.on(field, _("The amount is too large."))
    places = currency_places(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):
        if places == 0:
            message = _("%(currency)s has no minor unit: give a whole amount.") % {
                "currency": currency.upper()
            }
        else:
            message = _("%(currency)s has %(places)s decimals: give at most that many.") % {
                "currency": currency.upper(),
                "places": places,
            }
        raise InvalidInput.on(field, message)
    return amount.quantize(Decimal(1).scaleb(-places))


def _to_decimal(value: object, field: str) -> Decimal:
    # Floats are refused: 0.1 is not a tenth, and money must never pass through one.
    if isinstance(value, bool | float) or not isinstance(value, Decimal | int | str):
        raise InvalidInput.on(field, _("Give the amount as a number, e.g. 150000 or 12.50."))
    try:
        amount = Decimal(value.strip().replace(" ", "") if isinstance(value, str) else value)
    except InvalidOperation:
        raise InvalidInput.on(
            field, _("Give the amount as a number, e.g. 150000 or 12.50.")
        ) from None
    if not amount.is_finite():
        raise InvalidInput.on(field, _("Give the amount as a number, e.g. 150000 or 12.50."))
    return amount
