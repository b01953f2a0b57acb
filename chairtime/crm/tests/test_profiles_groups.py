"""The group rules (pure): every rule, its boundaries, the priority order, RFM quintiles."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from chairtime.crm.profiles.groups import (
    RULE_CODES,
    GroupFacts,
    Thresholds,
    cut_points,
    evaluate,
    explain,
    quintile,
    rfm_scores,
    score_by_cuts,
)

TODAY = date(2030, 3, 1)
T = Thresholds()


def at(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), tzinfo=UTC)


def verdict(**facts: object) -> tuple[str, str]:
    found = evaluate(GroupFacts(**facts), T, TODAY)  # type: ignore[arg-type]
    return found.group, found.rule


def test_a_patient_with_nothing_is_potential_new() -> None:
    assert verdict() == ("potential", "potential.new")


def test_a_returning_patient_without_another_rule_is_potential_other() -> None:
    assert verdict(visit_count=1, last_visit_on=TODAY - timedelta(days=10)) == (
        "potential",
        "potential.other",
    )


@pytest.mark.parametrize(
    ("days", "expected"), [(180, "negative.complaint"), (181, "potential.new")]
)
def test_a_complaint_counts_for_the_recent_days_inclusive(days: int, expected: str) -> None:
    assert verdict(last_complaint_at=at(days))[1] == expected


@pytest.mark.parametrize(("days", "expected"), [(0, "negative.detractor"), (181, "potential.new")])
def test_a_detractor_score_counts_for_the_recent_days(days: int, expected: str) -> None:
    assert verdict(last_detractor_at=at(days))[1] == expected


@pytest.mark.parametrize(
    ("no_shows", "late", "expected"),
    [
        (3, 0, "negative.missed"),
        (1, 2, "negative.missed"),
        (2, 0, "potential.new"),
        (0, 2, "potential.new"),
    ],
)
def test_missed_appointments_add_no_shows_and_late_cancellations(
    no_shows: int, late: int, expected: str
) -> None:
    assert verdict(no_show_count=no_shows, late_cancel_count=late)[1] == expected


def test_missed_evidence_lists_both_kinds() -> None:
    found = evaluate(GroupFacts(no_show_count=1, late_cancel_count=2), T, TODAY)
    assert found.evidence == {"missed": 3, "no_shows": 1, "late_cancellations": 2, "needed": 3}


@pytest.mark.parametrize(
    ("interval", "days", "expected"),
    [
        (30, 364, "potential.not_returned"),  # 3 x 30 = 90 < the 365-day minimum
        (30, 365, "negative.absent"),
        (200, 599, "potential.not_returned"),  # 3 x 200 = 600 days
        (200, 600, "negative.absent"),
    ],
)
def test_absence_is_measured_against_the_usual_interval_and_the_minimum(
    interval: int, days: int, expected: str
) -> None:
    facts = {
        "visit_count": 3,
        "last_visit_on": TODAY - timedelta(days=days),
        "usual_interval_days": interval,
    }
    assert verdict(**facts)[1] == expected


def test_absence_needs_two_visits_and_no_future_booking() -> None:
    last = TODAY - timedelta(days=800)
    assert verdict(visit_count=1, last_visit_on=last, usual_interval_days=None)[1] == (
        "potential.not_returned"
    )
    assert (
        verdict(
            visit_count=4, last_visit_on=last, usual_interval_days=30, has_future_appointment=True
        )[1]
        == "potential.other"
    )


@pytest.mark.parametrize(("visits", "expected"), [(4, "loyal.visits"), (3, "potential.other")])
def test_loyal_by_paid_visits_in_the_window(visits: int, expected: str) -> None:
    assert verdict(visit_count=visits, window_paid_visits=visits, paid_visit_count=visits,
                   last_visit_on=TODAY)[1] == expected  # fmt: skip


@pytest.mark.parametrize(("referrals", "expected"), [(2, "loyal.referrals"), (1, "potential.new")])
def test_loyal_by_referrals(referrals: int, expected: str) -> None:
    assert verdict(referral_count=referrals)[1] == expected


@pytest.mark.parametrize(
    ("score", "expected"), [(5, "loyal.spend"), (4, "potential.new"), (0, "potential.new")]
)
def test_loyal_by_top_spend_score(score: int, expected: str) -> None:
    assert verdict(m_score=score)[1] == expected


@pytest.mark.parametrize(
    ("paid", "promo", "expected"),
    [(2, 1, "low_value.promotions"), (4, 1, "potential.new"), (1, 1, "potential.new"),
     (3, 2, "low_value.promotions"), (3, 1, "potential.new")],
)  # fmt: skip
def test_low_value_when_most_paid_visits_used_a_promotion(
    paid: int, promo: int, expected: str
) -> None:
    assert verdict(paid_visit_count=paid, promo_visit_count=promo)[1] == expected


def test_potential_rules_in_order() -> None:
    old = TODAY - timedelta(days=200)
    assert verdict(has_open_plan=True, treatment_status="in_treatment", visit_count=1,
                   last_visit_on=old)[1] == "potential.open_plan"  # fmt: skip
    assert verdict(treatment_status="consulted", visit_count=1, last_visit_on=old)[1] == (
        "potential.consulted"
    )
    assert verdict(visit_count=1, last_visit_on=old)[1] == "potential.not_returned"
    assert verdict(visit_count=1, last_visit_on=TODAY - timedelta(days=179))[1] == "potential.other"


def test_not_returned_does_not_apply_with_a_booking() -> None:
    old = TODAY - timedelta(days=400)
    assert verdict(visit_count=1, last_visit_on=old, has_future_appointment=True)[1] == (
        "potential.other"
    )


def test_negative_beats_loyal_beats_low_value_beats_potential() -> None:
    everything = GroupFacts(
        last_complaint_at=at(1), referral_count=5, window_paid_visits=9, paid_visit_count=9,
        promo_visit_count=9, has_open_plan=True, visit_count=9, last_visit_on=TODAY,
    )  # fmt: skip
    assert evaluate(everything, T, TODAY).rule == "negative.complaint"
    assert evaluate(replace(everything, last_complaint_at=None), T, TODAY).rule == "loyal.visits"
    no_loyal = replace(everything, last_complaint_at=None, referral_count=0, window_paid_visits=1)
    assert evaluate(no_loyal, T, TODAY).rule == "low_value.promotions"
    assert evaluate(replace(no_loyal, promo_visit_count=0), T, TODAY).rule == "potential.open_plan"


def test_thresholds_move_the_boundaries() -> None:
    tuned = Thresholds(loyal_paid_visits=2, negative_recent_days=10, low_value_promo_percent=100)
    assert evaluate(GroupFacts(window_paid_visits=2), tuned, TODAY).rule == "loyal.visits"
    assert evaluate(GroupFacts(last_complaint_at=at(11)), tuned, TODAY).rule == "potential.new"
    half = GroupFacts(paid_visit_count=2, promo_visit_count=1)
    assert evaluate(half, tuned, TODAY).rule == "potential.new"


def test_every_rule_has_a_sentence() -> None:
    evidence = {
        "days": 5, "limit": 180, "missed": 3, "no_shows": 1, "late_cancellations": 2,
        "needed": 4, "interval": 30, "visits": 5, "months": 24, "referrals": 2, "score": 5,
        "promo": 2, "paid": 3, "percent": 66,
    }  # fmt: skip
    for code in RULE_CODES:
        assert explain(code, evidence) != code


def test_explain_reads_the_evidence() -> None:
    found = evaluate(GroupFacts(window_paid_visits=5, visit_count=5), T, TODAY)
    assert explain(found.rule, found.evidence) == "5 paid visits in 24 months (4 needed)."


def test_explain_is_translated() -> None:
    with translation.override("vi"):
        translated = explain("potential.new", {})
    assert translated  # the active language's sentence, never an error
    assert explain("", {}) == "Not computed yet."


def test_explain_survives_missing_evidence() -> None:
    assert explain("loyal.visits", {}) == "loyal.visits"


def test_quintile_scores() -> None:
    assert rfm_scores([10, 20, 30, 40, 50]) == [1, 2, 3, 4, 5]
    assert rfm_scores([50, 10, 30, 20, 40]) == [5, 1, 3, 2, 4]
    assert rfm_scores(list(range(10))) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_equal_values_score_the_same() -> None:
    assert rfm_scores([7, 7, 7, 7]) == [1, 1, 1, 1]
    assert rfm_scores([1, 2, 2, 2, 3]) == [1, 2, 2, 2, 5]


def test_quintile_of_nothing_is_zero() -> None:
    assert rfm_scores([]) == []
    assert quintile(0, 0) == 0
    assert quintile(0, 1) == 1
    assert rfm_scores([date(2030, 1, 1), date(2029, 1, 1)]) == [3, 1]


@given(st.lists(st.integers(min_value=-5, max_value=40), max_size=60))
def test_cut_points_score_as_the_quintiles_they_come_from(values: list[int]) -> None:
    cuts = cut_points(sorted(values))
    assert len(cuts) == (4 if values else 0)
    assert [score_by_cuts(value, cuts) for value in values] == rfm_scores(values)


def test_a_value_between_cut_points_scores_by_those_it_exceeds() -> None:
    cuts = cut_points(list(range(10)))  # scores 1, 1, 2, 2, 3, 3, 4, 4, 5, 5
    assert cuts == [1, 3, 5, 7]
    assert [score_by_cuts(v, cuts) for v in (-1, 1, 2, 6, 100)] == [1, 1, 2, 4, 5]
    assert score_by_cuts(3, []) == 0
