"""The no-show risk is a transparent, pure function of the patient's record and the lead
time: bounded, monotonic, and it says why."""

from __future__ import annotations

from decimal import Decimal

from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from chairtime.frontdesk.risk import CEILING, PRIOR_RATE, History, no_show_risk


def test_a_patient_without_history_scores_the_prior():
    risk = no_show_risk(History(), lead_days=1, is_first_visit=False)

    assert (risk.score, risk.reasons, risk.is_high) == (PRIOR_RATE, (), False)


def test_names_the_reasons_in_words():
    with translation.override("en"):
        risk = no_show_risk(
            History(appointments=5, no_shows=2, late_cancellations=1),
            lead_days=40, is_first_visit=False,
        )  # fmt: skip

    # (2 + 0.5 + 0.5) / (5 + 5) = 0.30, booked 40 days ahead: x 1.5
    assert risk.score == Decimal("0.45")
    assert risk.reasons == ("2 of 5 missed", "1 late cancellation", "booked 40 days ahead")
    assert risk.is_high


def test_a_first_visit_booked_weeks_ahead_is_riskier_than_a_regular_tomorrow():
    first = no_show_risk(History(), lead_days=10, is_first_visit=True)
    regular = no_show_risk(History(appointments=8), lead_days=1, is_first_visit=False)

    assert (first.score, regular.score) == (Decimal("0.22"), Decimal("0.04"))


histories = st.builds(
    lambda total, missed, late: History(total, min(missed, total), min(late, total - min(missed, total))),
    st.integers(0, 200), st.integers(0, 200), st.integers(0, 200),
)  # fmt: skip


@given(histories, st.integers(-5, 400), st.booleans())
def test_score_stays_between_zero_and_the_ceiling(history, lead_days, is_first_visit):
    risk = no_show_risk(history, lead_days=lead_days, is_first_visit=is_first_visit)

    assert Decimal("0") <= risk.score <= CEILING


@given(histories, st.integers(0, 400), st.booleans())
def test_one_more_no_show_never_lowers_the_score(history, lead_days, is_first_visit):
    worse = History(history.appointments + 1, history.no_shows + 1, history.late_cancellations)

    before = no_show_risk(history, lead_days=lead_days, is_first_visit=is_first_visit)
    after = no_show_risk(worse, lead_days=lead_days, is_first_visit=is_first_visit)

    assert after.score >= before.score


@given(histories, st.integers(0, 400), st.integers(0, 400), st.booleans())
def test_booking_further_ahead_never_lowers_the_score(history, lead, more, is_first_visit):
    near = no_show_risk(history, lead_days=lead, is_first_visit=is_first_visit)
    far = no_show_risk(history, lead_days=lead + more, is_first_visit=is_first_visit)

    assert far.score >= near.score
