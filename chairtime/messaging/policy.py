"""The send rules: may this message go now, later (when), or never (why)?

Pure functions: the dispatcher gathers the facts (consent, address, what this address was
already sent today) and passes `now`; nothing here reads the database or the clock.

- Consent: the newest consent row for (patient, channel, purpose) counts. Service messages
  go unless refused; marketing needs a granted row. A refusal that came from the
  patient's own reply ("STOP") reads as opted out, and so does an address that replied
  STOP (anyone on a family's shared phone), unless the patient granted consent since.
- Quiet hours: each purpose has a window of local wall-clock time in the recipient's time
  zone; outside it the message waits for the next opening, computed in wall time and
  turned into an instant by the zone (a daylight-saving day is 23 or 25 hours long).
- Daily caps per recipient address and purpose (a shared phone has one cap; a message
  without a patient is counted too), over the recipient's local day.

The per-country table is the one place these numbers live.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chairtime.messaging.choices import Reason
from chairtime.patients.choices import ConsentPurpose


@dataclass(frozen=True)
class Window:
    opens: time
    closes: time  # exclusive

    def contains(self, moment: time) -> bool:
        return self.opens <= moment < self.closes


@dataclass(frozen=True)
class CountryRules:
    """Allowed hours and daily caps per purpose in one country."""

    service_window: Window
    marketing_window: Window
    service_daily_cap: int
    marketing_daily_cap: int

    def window(self, purpose: str) -> Window:
        return self.marketing_window if purpose == ConsentPurpose.MARKETING else self.service_window

    def daily_cap(self, purpose: str) -> int:
        if purpose == ConsentPurpose.MARKETING:
            return self.marketing_daily_cap
        return self.service_daily_cap


SERVICE_HOURS = Window(time(7), time(22))  # reminders must not wake anyone either
DEFAULT_RULES = CountryRules(
    service_window=SERVICE_HOURS, marketing_window=Window(time(8), time(21)),
    service_daily_cap=10, marketing_daily_cap=2,
)  # fmt: skip
COUNTRY_RULES: dict[str, CountryRules] = {
    # Decree 91/2020/ND-CP: advertising messages 07:00-22:00, at most 3 a day per recipient.
    "VN": CountryRules(SERVICE_HOURS, Window(time(7), time(22)), 10, 3),
    # US (TCPA): no telemarketing before 8 am or after 9 pm local time.
    "US": CountryRules(SERVICE_HOURS, Window(time(8), time(21)), 10, 2),
    "ES": CountryRules(SERVICE_HOURS, Window(time(9), time(21)), 10, 2),
    "CN": CountryRules(SERVICE_HOURS, Window(time(8), time(21)), 10, 2),
}


def rules_for(country: str) -> CountryRules:
    return COUNTRY_RULES.get(country.upper(), DEFAULT_RULES)


@dataclass(frozen=True)
class Facts:
    """What the rules need to know about one message at one moment."""

    purpose: str
    country: str
    zone: ZoneInfo
    has_address: bool = True
    consent: bool | None = None  # the newest row's answer; None: no row (or no patient)
    consent_from_reply: bool = False  # that row came from the patient's reply
    address_opted_out: bool = False  # the address replied "STOP", no grant since
    sent_today: int = 0  # to this address, this purpose, this local day


@dataclass(frozen=True)
class Go:
    pass


@dataclass(frozen=True)
class Wait:
    until: datetime
    reason: str


@dataclass(frozen=True)
class Block:
    reason: str


Decision = Go | Wait | Block


def decide(facts: Facts, now: datetime) -> Decision:
    """Go now, wait until an instant, or never go — with the reason."""
    blocked = _never(facts)
    if blocked is not None:
        return Block(blocked)
    rules = rules_for(facts.country)
    window = rules.window(facts.purpose)
    local = now.astimezone(facts.zone)
    if not window.contains(local.time()):
        return Wait(next_opening(now, facts.zone, window), Reason.QUIET_HOURS)
    if facts.sent_today >= rules.daily_cap(facts.purpose):
        tomorrow = local.date() + timedelta(days=1)
        return Wait(wall_instant(tomorrow, window.opens, facts.zone), Reason.DAILY_CAP)
    return Go()


def _never(facts: Facts) -> str | None:
    if not facts.has_address:
        return Reason.NO_ADDRESS
    if facts.address_opted_out:
        return Reason.OPTED_OUT
    if facts.consent is False:
        return Reason.OPTED_OUT if facts.consent_from_reply else Reason.REFUSED
    if facts.purpose == ConsentPurpose.MARKETING and facts.consent is not True:
        return Reason.NO_CONSENT
    return None


def wall_instant(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time on a local day. A time that does not exist
    (skipped by a spring-forward) comes out just after the gap, as zoneinfo resolves it."""
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def next_opening(now: datetime, zone: ZoneInfo, window: Window) -> datetime:
    """The first instant at or after `now` inside the window."""
    local = now.astimezone(zone)
    if window.contains(local.time()):
        return now
    day = local.date() if local.time() < window.opens else local.date() + timedelta(days=1)
    return wall_instant(day, window.opens, zone)


def local_day_bounds(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of the recipient's local day containing `now`, as UTC instants."""
    day = now.astimezone(zone).date()
    return wall_instant(day, time(0), zone), wall_instant(day + timedelta(days=1), time(0), zone)
