"""The arithmetic of care tasks, without a database: calls, cool-off, recall dates, absence."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chairtime.care.choices import Outcome, TaskKind, TaskStatus
from chairtime.care.rules import (
    DEFAULT_RULES,
    OFFSET_UNITS,
    add_months,
    after_call,
    birthday_in,
    is_recall_lapsed,
    next_call_at,
    reactivation_kind,
    relevant_recall_due,
)

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2030, 3, 5, 3, 0, tzinfo=UTC)  # 10:00 in Saigon, Tuesday 5 March
DUE = datetime(2030, 3, 4, 17, 0, tzinfo=UTC)


def call(outcome: str, attempts: int = 0, max_attempts: int = 3, cool_off_days: int = 2):
    return after_call(
        outcome=outcome, attempts=attempts, max_attempts=max_attempts,
        cool_off_days=cool_off_days, now=NOW, zone=SAIGON, next_attempt_at=DUE,
    )  # fmt: skip


@pytest.mark.parametrize(
    "outcome",
    [Outcome.REACHED, Outcome.BOOKED, Outcome.DECLINED, Outcome.WRONG_NUMBER,
     Outcome.DO_NOT_CONTACT],
)  # fmt: skip
def test_every_outcome_but_no_answer_closes_the_task(outcome):
    result = call(outcome)

    assert (result.attempts, result.status, result.outcome, result.is_closed) == (
        1, TaskStatus.DONE, outcome, True,
    )  # fmt: skip
    assert result.next_attempt_at == DUE


def test_no_answer_moves_the_next_call_to_the_start_of_the_day_after_the_cool_off():
    result = call(Outcome.NO_ANSWER, cool_off_days=2)

    assert (result.attempts, result.status, result.is_closed) == (1, TaskStatus.OPEN, False)
    assert result.next_attempt_at == datetime(2030, 3, 7, 0, 0, tzinfo=SAIGON)


def test_no_answer_without_cool_off_can_be_tried_again_at_once():
    assert call(Outcome.NO_ANSWER, cool_off_days=0).next_attempt_at == NOW


def test_the_last_unanswered_attempt_closes_the_task_as_no_answer():
    result = call(Outcome.NO_ANSWER, attempts=2, max_attempts=3)

    assert (result.attempts, result.status, result.outcome, result.is_closed) == (
        3, TaskStatus.DONE, Outcome.NO_ANSWER, True,
    )  # fmt: skip


def test_cool_off_counts_the_branch_days_across_a_dst_change():
    # Madrid moves its clocks forward on Sunday 31 March 2030: the next call still starts
    # at local midnight, 23 hours after the previous one.
    saturday_evening = datetime(2030, 3, 30, 20, 0, tzinfo=UTC)  # 21:00 in Madrid

    later = next_call_at(saturday_evening, 2, MADRID)

    assert later == datetime(2030, 4, 1, 0, 0, tzinfo=MADRID)
    assert later.astimezone(UTC) == datetime(2030, 3, 31, 22, 0, tzinfo=UTC)


def test_recall_date_is_the_earliest_interval_due_date():
    # Cleaning (6 months) and deep cleaning (4 months) at the same visit: due at 4 months.
    assert relevant_recall_due([(6, date(2030, 1, 10)), (4, date(2030, 1, 10))]) == date(
        2030, 5, 10
    )


def test_a_recall_date_answered_by_a_later_visit_no_longer_counts():
    # The monthly orthodontic check of two years ago fell due long before the last
    # cleaning: only the cleaning's date matters.
    done = [(1, date(2028, 1, 15)), (6, date(2030, 1, 10))]

    assert relevant_recall_due(done) == date(2030, 7, 10)


def test_a_short_recall_after_the_last_long_one_stays_the_earliest():
    done = [(6, date(2030, 1, 10)), (1, date(2030, 2, 1))]

    assert relevant_recall_due(done) == date(2030, 3, 1)


def test_no_recall_procedure_means_no_recall_date():
    assert relevant_recall_due([]) is None
    assert relevant_recall_due([(0, date(2030, 1, 1))]) is None


def test_months_end_on_the_last_day_of_a_shorter_month():
    assert add_months(date(2030, 8, 31), 6) == date(2031, 2, 28)
    assert add_months(date(2030, 3, 31), -1) == date(2030, 2, 28)


def test_a_leap_day_birthday_falls_on_the_28th_in_other_years():
    assert birthday_in(2031, date(2000, 2, 29)) == date(2031, 2, 28)
    assert birthday_in(2032, date(2000, 2, 29)) == date(2032, 2, 29)


@pytest.mark.parametrize(
    ("last_visit", "expected"),
    [
        (date(2030, 3, 6), ""),
        (date(2029, 9, 6), ""),
        (date(2029, 9, 5), TaskKind.REACTIVATION_6M),
        (date(2029, 3, 6), TaskKind.REACTIVATION_6M),
        (date(2029, 3, 5), TaskKind.REACTIVATION_12M),
    ],
)
def test_absence_of_six_and_twelve_months(last_visit, expected):
    assert reactivation_kind(last_visit, date(2030, 3, 5)) == expected


def test_a_recall_lapses_past_the_hand_over_with_every_attempt_used():
    today = date(2030, 3, 5)
    lapsed = {"today": today, "hand_over_after_days": 60, "max_attempts": 3}

    assert is_recall_lapsed(due_on=date(2030, 1, 3), attempts=3, **lapsed)  # 61 days ago
    assert not is_recall_lapsed(due_on=date(2030, 1, 3), attempts=2, **lapsed)
    assert not is_recall_lapsed(due_on=date(2030, 1, 4), attempts=3, **lapsed)  # 60 days


def test_every_kind_has_a_default_rule_and_an_offset_unit():
    assert set(DEFAULT_RULES) == set(OFFSET_UNITS) == set(TaskKind.values)
