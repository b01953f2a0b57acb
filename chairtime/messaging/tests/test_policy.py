"""The send rules, as pure functions: consent, quiet hours (DST-correct), daily caps."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chairtime.messaging.policy import Block, Facts, Go, Wait, decide, local_day_bounds, rules_for

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
NEW_YORK = ZoneInfo("America/New_York")
MADRID = ZoneInfo("Europe/Madrid")


def vn(**fields) -> Facts:
    values = {"purpose": "service", "country": "VN", "zone": SAIGON}
    values.update(fields)
    return Facts(**values)


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


@pytest.mark.parametrize(
    ("facts", "outcome"),
    [
        (vn(), Go()),
        (vn(consent=True), Go()),
        (vn(consent=False), Block("refused")),
        (vn(consent=False, consent_from_reply=True), Block("opted_out")),
        (vn(purpose="marketing"), Block("no_consent")),
        (vn(purpose="marketing", consent=False), Block("refused")),
        (vn(purpose="marketing", consent=True), Go()),
        (vn(has_address=False, consent=True), Block("no_address")),
        (vn(address_opted_out=True), Block("opted_out")),
        (vn(consent=True, address_opted_out=True), Block("opted_out")),
    ],
)
def test_consent_and_address_decide_whether_a_message_may_ever_go(facts, outcome):
    assert decide(facts, at(SAIGON, 2030, 1, 7, 10, 0)) == outcome


def test_vietnam_marketing_waits_from_late_evening_until_seven_the_next_morning():
    facts = vn(purpose="marketing", consent=True)

    decision = decide(facts, at(SAIGON, 2030, 1, 7, 22, 0))

    assert decision == Wait(at(SAIGON, 2030, 1, 8, 7, 0), "quiet_hours")


def test_early_morning_waits_for_the_same_mornings_opening():
    assert decide(vn(), at(SAIGON, 2030, 1, 7, 5, 30)) == Wait(
        at(SAIGON, 2030, 1, 7, 7, 0), "quiet_hours"
    )


def test_vietnam_allows_three_marketing_messages_a_day_then_waits_for_tomorrow():
    morning = at(SAIGON, 2030, 1, 7, 9, 0)
    facts = vn(purpose="marketing", consent=True)

    assert decide(Facts(**{**facts.__dict__, "sent_today": 2}), morning) == Go()
    assert decide(Facts(**{**facts.__dict__, "sent_today": 3}), morning) == Wait(
        at(SAIGON, 2030, 1, 8, 7, 0), "daily_cap"
    )


def test_other_countries_use_the_default_marketing_hours_and_cap():
    rules = rules_for("DE")

    assert (rules.marketing_window.opens.hour, rules.marketing_window.closes.hour) == (8, 21)
    assert rules.marketing_daily_cap == 2


def test_the_cap_counts_what_went_to_the_address_patient_or_not():
    morning = at(SAIGON, 2030, 1, 7, 10, 0)

    assert decide(vn(sent_today=9), morning) == Go()
    assert decide(vn(sent_today=10), morning) == Wait(at(SAIGON, 2030, 1, 8, 7, 0), "daily_cap")


def test_us_spring_forward_night_waits_until_eight_eastern_daylight_time():
    # Saturday 8 March 2031, 21:30 EST; clocks go 02:00 → 03:00 on Sunday 9 March.
    facts = Facts(purpose="marketing", country="US", zone=NEW_YORK, consent=True)

    decision = decide(facts, at(NEW_YORK, 2031, 3, 8, 21, 30))

    # 08:00 EDT is 12:00 UTC (it would be 13:00 UTC the day before, in EST).
    assert decision == Wait(datetime(2031, 3, 9, 12, 0, tzinfo=UTC), "quiet_hours")


def test_spain_autumn_night_waits_until_nine_central_european_time():
    # Saturday 25 October 2031 22:00 CEST; clocks go 03:00 → 02:00 on Sunday 26 October.
    facts = Facts(purpose="marketing", country="ES", zone=MADRID, consent=True)

    decision = decide(facts, at(MADRID, 2031, 10, 25, 22, 0))

    assert decision == Wait(datetime(2031, 10, 26, 8, 0, tzinfo=UTC), "quiet_hours")  # 09:00 CET


def test_a_daylight_saving_day_is_counted_as_twenty_three_hours_for_the_cap():
    start, end = local_day_bounds(at(NEW_YORK, 2031, 3, 9, 12, 0), NEW_YORK)

    assert (start, end) == (
        datetime(2031, 3, 9, 5, 0, tzinfo=UTC),
        datetime(2031, 3, 10, 4, 0, tzinfo=UTC),
    )
    assert (end - start).total_seconds() == 23 * 3600
