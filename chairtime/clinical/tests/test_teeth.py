"""Teeth in FDI notation and tooth surfaces."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chairtime.clinical.teeth import (
    FDI_TEETH,
    parse_teeth,
    validate_surfaces,
    validate_teeth,
)
from chairtime.core.errors import InvalidInput


def refusal(call, *args):
    with pytest.raises(InvalidInput) as refused:
        call(*args)
    return refused.value.errors


def test_fdi_has_32_permanent_and_20_primary_teeth():
    assert len(FDI_TEETH) == 52
    assert {11, 18, 28, 38, 48, 51, 55, 65, 75, 85} <= FDI_TEETH
    assert not {10, 19, 20, 29, 39, 49, 50, 56, 66, 76, 86, 90, 9, 100} & FDI_TEETH


def test_teeth_come_back_sorted_without_repeats():
    assert validate_teeth([21, 11, "12", 11]) == (11, 12, 21)
    assert validate_teeth([]) == ()


@pytest.mark.parametrize(
    ("values", "messages"),
    [
        ([19], ["19 is not a tooth in FDI notation."]),
        (
            [11, 56, 90],
            ["56 is not a tooth in FDI notation.", "90 is not a tooth in FDI notation."],
        ),
        (["1a"], ["“1a” is not a tooth number."]),
        ([True], ["“True” is not a tooth number."]),
        ([-11], ["-11 is not a tooth in FDI notation."]),
    ],
)
def test_refuses_what_is_not_a_tooth_naming_it(values, messages):
    assert refusal(validate_teeth, values) == {"teeth": messages}


def test_names_the_field_it_is_told():
    assert refusal(validate_teeth, [19], "performed.0.teeth") == {
        "performed.0.teeth": ["19 is not a tooth in FDI notation."]
    }


@given(st.lists(st.integers(min_value=-1000, max_value=1000)))
def test_accepts_exactly_the_fdi_numbers(values):
    bad = [v for v in values if v not in FDI_TEETH]
    if bad:
        with pytest.raises(InvalidInput) as refused:
            validate_teeth(values)
        assert refused.value.errors["teeth"] == [
            f"{v} is not a tooth in FDI notation." for v in bad
        ]
    else:
        assert validate_teeth(values) == tuple(sorted(set(values)))


@given(
    st.lists(st.sampled_from(sorted(FDI_TEETH)), max_size=10),
    st.sampled_from([",", " ", ", ", ";"]),
)
def test_parse_reads_what_it_was_given(teeth, separator):
    assert parse_teeth(separator.join(map(str, teeth))) == tuple(sorted(set(teeth)))


def test_parses_commas_and_spaces():
    assert parse_teeth(" 11, 12 21 ") == (11, 12, 21)
    assert parse_teeth("") == ()
    assert refusal(parse_teeth, "11, 1x") == {"teeth": ["“1x” is not a tooth number."]}


@pytest.mark.parametrize(("typed", "kept"), [("mod", "MOD"), ("B", "B"), ("", ""), (" o d ", "OD")])
def test_surfaces_are_capital_letters(typed, kept):
    assert validate_surfaces(typed) == kept


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("MXZ", "X, Z is not a tooth surface; use the letters M O D B L I F."),
        ("MOM", "Give each surface once (M is repeated)."),
        ("MODBLI", "A tooth has at most five surfaces."),
    ],
)
def test_refuses_bad_surfaces(typed, message):
    assert refusal(validate_surfaces, typed) == {"surfaces": [message]}
