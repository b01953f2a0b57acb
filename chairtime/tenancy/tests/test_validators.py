"""Branch settings' validators: a branch's currency must be one whose amounts the money
columns (two decimals) hold exactly."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from chairtime.tenancy.validators import validate_currency
from conftest import World
from tests.factories import BranchFactory


@pytest.mark.parametrize("code", ["VND", "JPY", "USD", "EUR", "CNY"])
def test_currencies_with_at_most_two_decimals_are_accepted(code: str) -> None:
    validate_currency(code)


@pytest.mark.parametrize("code", ["KWD", "BHD", "OMR", "JOD", "TND"])
def test_currencies_with_three_decimals_are_refused(code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_currency(code)
    assert caught.value.messages == [
        f"Chairtime keeps amounts with at most two decimals; {code} has three."
    ]


def test_the_refusal_names_four_decimals_and_is_translated() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_currency("CLF")
    assert caught.value.messages == [
        "Chairtime keeps amounts with at most two decimals; CLF has four."
    ]
    with translation.override("es"):
        with pytest.raises(ValidationError) as caught:
            validate_currency("KWD")
        spanish = caught.value.messages  # the message is translated when it is read
    assert spanish == [
        "Chairtime guarda los importes con dos decimales como máximo; KWD tiene tres."
    ]


def test_a_branch_in_kuwaiti_dinars_is_not_valid(world: World) -> None:
    kuwait = BranchFactory.build(
        organization=world.acme, name="Acme Kuwait", code="kw", country="KW",
        time_zone="Asia/Kuwait", currency="KWD", locale="ar_KW",
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        kuwait.full_clean()
    assert caught.value.message_dict == {
        "currency": ["Chairtime keeps amounts with at most two decimals; KWD has three."]
    }
