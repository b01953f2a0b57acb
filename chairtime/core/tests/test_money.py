"""Amounts: the currency's minor unit decides what may be typed; computed amounts round
half up; floats never pass."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chairtime.core.errors import InvalidInput
from chairtime.core.money import currency_places, parse_amount, quantize


def test_currency_places_follow_the_minor_unit() -> None:
    assert [currency_places(c) for c in ("VND", "JPY", "KRW", "USD", "EUR", "CNY")] == [
        0, 0, 0, 2, 2, 2,
    ]  # fmt: skip
    assert currency_places("usd") == 2


def test_quantize_rounds_half_up() -> None:
    assert quantize(Decimal("12500.5"), "VND") == Decimal("12501")
    assert quantize(Decimal("12499.49"), "VND") == Decimal("12499")
    assert quantize(Decimal("10.005"), "USD") == Decimal("10.01")
    assert quantize(Decimal("10.004"), "USD") == Decimal("10.00")


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("150000", "VND", Decimal("150000")),
        (" 150 000 ", "VND", Decimal("150000")),
        (150000, "VND", Decimal("150000")),
        ("150000.00", "VND", Decimal("150000")),
        ("12.5", "USD", Decimal("12.50")),
        (Decimal("0.01"), "USD", Decimal("0.01")),
    ],
)
def test_parse_amount_reads_valid_amounts(value: object, currency: str, expected: Decimal) -> None:
    assert parse_amount(value, currency, "amount") == expected


@pytest.mark.parametrize(
    ("value", "currency", "message"),
    [
        ("abc", "VND", "Give the amount as a number, e.g. 150000 or 12.50."),
        ("NaN", "USD", "Give the amount as a number, e.g. 150000 or 12.50."),
        ("Infinity", "USD", "Give the amount as a number, e.g. 150000 or 12.50."),
        (12.5, "USD", "Give the amount as a number, e.g. 150000 or 12.50."),
        (True, "USD", "Give the amount as a number, e.g. 150000 or 12.50."),
        (None, "USD", "Give the amount as a number, e.g. 150000 or 12.50."),
        ("-5", "USD", "The amount cannot be negative."),
        ("0", "USD", "The amount must be more than zero."),
        ("1000000000000", "VND", "The amount is too large."),
        ("150000.5", "VND", "VND has no minor unit: give a whole amount."),
        ("100.5", "JPY", "JPY has no minor unit: give a whole amount."),
        ("12.505", "USD", "USD has 2 decimals: give at most that many."),
    ],
)
def test_parse_amount_refuses_naming_the_field(value: object, currency: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(value, currency, "deposit")
    assert caught.value.errors == {"deposit": [message]}


def test_zero_is_allowed_where_asked() -> None:
    assert parse_amount("0", "VND", "discount", allow_zero=True) == Decimal("0")
