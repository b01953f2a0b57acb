"""A transparent no-show risk for one appointment (ADR 14), until the prediction issue
replaces it. Pure: numbers in, a score and its reasons out; no database.

The patient's own record of missed visits (no-shows, and late cancellations counted as
half a miss) is smoothed with a prior, so one miss in one visit is not "100 %": a patient
with no history scores the prior (about 10 %). Booking far ahead and a first visit raise
it, because those appointments are the ones most often forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# The prior: as if every patient had already had PRIOR_VISITS visits, missing PRIOR_RATE
# of them.
PRIOR_RATE = Decimal("0.10")
PRIOR_VISITS = Decimal("5")
LATE_CANCEL_WEIGHT = Decimal("0.5")
FAR_AHEAD_DAYS = 30  # booked at least this many days ahead…
FAR_AHEAD_FACTOR = Decimal("1.5")  # …multiplies the rate by this
WEEKS_AHEAD_DAYS = 7
WEEKS_AHEAD_FACTOR = Decimal("1.2")
FIRST_VISIT_ADDS = Decimal("0.10")
HIGH = Decimal("0.25")  # at or above: shown under "high no-show risk"
CEILING = Decimal("0.95")


@dataclass(frozen=True)
class History:
    """A patient's past appointments that were due (started before now)."""

    appointments: int = 0
    no_shows: int = 0
    late_cancellations: int = 0


@dataclass(frozen=True)
class Risk:
    score: Decimal  # 0..0.95, two decimals
    reasons: tuple[str, ...]

    @property
    def is_high(self) -> bool:
        return self.score >= HIGH

    @property
    def percent(self) -> int:
        return int(self.score * 100)


def no_show_risk(history: History, *, lead_days: int, is_first_visit: bool) -> Risk:
    """The risk that the patient does not come, and why, in words a receptionist reads:
    "2 of 5 missed", "booked 40 days ahead", "first visit"."""
    misses = Decimal(history.no_shows) + LATE_CANCEL_WEIGHT * history.late_cancellations
    rate = (misses + PRIOR_RATE * PRIOR_VISITS) / (Decimal(history.appointments) + PRIOR_VISITS)
    reasons: list[str] = []
    if history.no_shows:
        reasons.append(
            _("%(missed)s of %(total)s missed")
            % {"missed": history.no_shows, "total": history.appointments}
        )
    if history.late_cancellations:
        reasons.append(
            ngettext(
                "%(count)s late cancellation", "%(count)s late cancellations",
                history.late_cancellations,
            ) % {"count": history.late_cancellations}
        )  # fmt: skip
    lead_days = max(lead_days, 0)
    if lead_days >= FAR_AHEAD_DAYS:
        rate *= FAR_AHEAD_FACTOR
    elif lead_days >= WEEKS_AHEAD_DAYS:
        rate *= WEEKS_AHEAD_FACTOR
    if lead_days >= WEEKS_AHEAD_DAYS:
        reasons.append(_("booked %(days)s days ahead") % {"days": lead_days})
    if is_first_visit:
        rate += FIRST_VISIT_ADDS
        reasons.append(_("first visit"))
    score = min(rate, CEILING).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Risk(score=score, reasons=tuple(reasons))
