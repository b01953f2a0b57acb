"""The four customer groups as pure rules: facts and thresholds in, a verdict out.

No database here: `compute` gathers each patient's `GroupFacts`, this module decides.
Rules are tried in priority order (negative > loyal > low-value > potential) and the first
that holds decides the group; its code and the figures it compared (`evidence`) are kept
on the profile so a page can say why (`explain`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

LOYAL = "loyal"
POTENTIAL = "potential"
LOW_VALUE = "low_value"
NEGATIVE = "negative"

# Treatment statuses (crm.choices.TreatmentStatus values).
CONSULTED = "consulted"


@dataclass(frozen=True)
class Thresholds:
    """The organisation's tunable numbers (crm.GroupThresholds without the database)."""

    rfm_window_months: int = 24
    loyal_paid_visits: int = 4
    loyal_referrals: int = 2
    loyal_monetary_score: int = 5
    potential_not_returned_days: int = 180
    low_value_min_paid_visits: int = 2
    low_value_promo_percent: int = 50
    negative_recent_days: int = 180
    negative_missed_count: int = 3
    late_cancel_hours: int = 24
    negative_absence_factor: int = 3
    negative_absence_min_days: int = 365


THRESHOLD_FIELDS: tuple[str, ...] = tuple(Thresholds.__dataclass_fields__)


@dataclass(slots=True)  # not frozen: built a million times a night, cheaper without
class GroupFacts:
    """What the rules read about one patient."""

    visit_count: int = 0
    last_visit_on: date | None = None
    usual_interval_days: int | None = None
    has_future_appointment: bool = False
    paid_visit_count: int = 0
    window_paid_visits: int = 0
    promo_visit_count: int = 0
    referral_count: int = 0
    m_score: int = 0
    no_show_count: int = 0  # last 12 months
    late_cancel_count: int = 0  # last 12 months
    last_complaint_at: datetime | None = None
    last_detractor_at: datetime | None = None
    treatment_status: str = "nothing_planned"
    has_open_plan: bool = False


@dataclass(frozen=True)
class GroupVerdict:
    group: str
    rule: str
    evidence: dict[str, Any]


Rule = Callable[[GroupFacts, Thresholds, date], "dict[str, Any] | None"]


def _days_since(day: date | datetime | None, today: date) -> int | None:
    if day is None:
        return None
    if isinstance(day, datetime):
        day = day.date()
    return (today - day).days


def _recent(at: datetime | None, limit: int, today: date) -> dict[str, Any] | None:
    days = _days_since(at, today)
    if days is None or days > limit:
        return None
    return {"days": max(days, 0), "limit": limit}


def _complaint(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    return _recent(f.last_complaint_at, t.negative_recent_days, today)


def _detractor(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    return _recent(f.last_detractor_at, t.negative_recent_days, today)


def _missed(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    missed = f.no_show_count + f.late_cancel_count
    if t.negative_missed_count < 1 or missed < t.negative_missed_count:
        return None
    return {
        "missed": missed,
        "no_shows": f.no_show_count,
        "late_cancellations": f.late_cancel_count,
        "needed": t.negative_missed_count,
    }


def _absent(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    days = _days_since(f.last_visit_on, today)
    if f.has_future_appointment or f.visit_count < 2 or not f.usual_interval_days or days is None:
        return None
    limit = max(t.negative_absence_factor * f.usual_interval_days, t.negative_absence_min_days)
    if days < limit:
        return None
    return {"days": days, "interval": f.usual_interval_days, "limit": limit}


def _loyal_visits(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    if f.window_paid_visits < max(t.loyal_paid_visits, 1):
        return None
    return {
        "visits": f.window_paid_visits,
        "months": t.rfm_window_months,
        "needed": t.loyal_paid_visits,
    }


def _loyal_referrals(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    if f.referral_count < max(t.loyal_referrals, 1):
        return None
    return {"referrals": f.referral_count, "needed": t.loyal_referrals}


def _loyal_spend(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    if f.m_score < 1 or f.m_score < t.loyal_monetary_score:
        return None
    return {"score": f.m_score, "needed": t.loyal_monetary_score}


def _promotions(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    paid = f.paid_visit_count
    if paid < max(t.low_value_min_paid_visits, 1):
        return None
    if f.promo_visit_count * 100 < t.low_value_promo_percent * paid:
        return None
    return {
        "promo": f.promo_visit_count,
        "paid": paid,
        "percent": f.promo_visit_count * 100 // paid,
        "needed": t.low_value_promo_percent,
    }


def _open_plan(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    return {} if f.has_open_plan else None


def _consulted(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    return {} if f.treatment_status == CONSULTED else None


def _not_returned(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    days = _days_since(f.last_visit_on, today)
    if days is None or f.has_future_appointment or days < t.potential_not_returned_days:
        return None
    return {"days": days, "limit": t.potential_not_returned_days}


def _new(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    return {} if f.visit_count == 0 else None


def _other(f: GroupFacts, t: Thresholds, today: date) -> dict[str, Any] | None:
    return {"visits": f.visit_count}


# In priority order: the first rule that holds decides.
RULES: tuple[tuple[str, str, Rule], ...] = (
    (NEGATIVE, "negative.complaint", _complaint),
    (NEGATIVE, "negative.detractor", _detractor),
    (NEGATIVE, "negative.missed", _missed),
    (NEGATIVE, "negative.absent", _absent),
    (LOYAL, "loyal.visits", _loyal_visits),
    (LOYAL, "loyal.referrals", _loyal_referrals),
    (LOYAL, "loyal.spend", _loyal_spend),
    (LOW_VALUE, "low_value.promotions", _promotions),
    (POTENTIAL, "potential.open_plan", _open_plan),
    (POTENTIAL, "potential.consulted", _consulted),
    (POTENTIAL, "potential.not_returned", _not_returned),
    (POTENTIAL, "potential.new", _new),
    (POTENTIAL, "potential.other", _other),
)
RULE_CODES: tuple[str, ...] = tuple(code for _group, code, _rule in RULES)


def evaluate(facts: GroupFacts, thresholds: Thresholds, today: date) -> GroupVerdict:
    """The group of a patient, the rule that put them there and the figures it compared."""
    for group, code, rule in RULES:
        evidence = rule(facts, thresholds, today)
        if evidence is not None:
            return GroupVerdict(group, code, evidence)
    raise AssertionError("potential.other always holds")  # pragma: no cover


RULE_LABELS: dict[str, str | Promise] = {
    "negative.complaint": gettext_lazy("A recent complaint"),
    "negative.detractor": gettext_lazy("A recent detractor score"),
    "negative.missed": gettext_lazy("Repeated no-shows or late cancellations"),
    "negative.absent": gettext_lazy("Absent far beyond their usual interval"),
    "loyal.visits": gettext_lazy("Frequent paid visits"),
    "loyal.referrals": gettext_lazy("Refers other patients"),
    "loyal.spend": gettext_lazy("Top spend"),
    "low_value.promotions": gettext_lazy("Most paid visits used a promotion"),
    "potential.open_plan": gettext_lazy("An accepted plan not yet done"),
    "potential.consulted": gettext_lazy("Consulted, not treated"),
    "potential.not_returned": gettext_lazy("Visited and did not return"),
    "potential.new": gettext_lazy("No visit yet"),
    "potential.other": gettext_lazy("In no other group yet"),
}


def rule_label(rule: str) -> str:
    """The rule's short name in the active language, where its figures are not at hand (a
    group change names only its rule)."""
    return str(RULE_LABELS.get(rule, rule))


def explain(rule: str, evidence: dict[str, Any]) -> str:
    """The rule as a sentence in the active language ("5 paid visits in 24 months (4 needed)")."""
    e = evidence
    try:
        return _SENTENCES[rule](e)
    except (KeyError, TypeError, ValueError):
        return rule if rule else _("Not computed yet.")


def _sentence_complaint(e: dict[str, Any]) -> str:
    return ngettext(
        "Complained %(days)s day ago (counts for %(limit)s days).",
        "Complained %(days)s days ago (counts for %(limit)s days).",
        e["days"],
    ) % {"days": e["days"], "limit": e["limit"]}


def _sentence_detractor(e: dict[str, Any]) -> str:
    return ngettext(
        "Gave a detractor score %(days)s day ago (counts for %(limit)s days).",
        "Gave a detractor score %(days)s days ago (counts for %(limit)s days).",
        e["days"],
    ) % {"days": e["days"], "limit": e["limit"]}


def _sentence_missed(e: dict[str, Any]) -> str:
    return _(
        "%(missed)s missed appointments in 12 months: %(no_shows)s no-shows and "
        "%(late)s late cancellations (%(needed)s count)."
    ) % {
        "missed": e["missed"],
        "no_shows": e["no_shows"],
        "late": e["late_cancellations"],
        "needed": e["needed"],
    }


def _sentence_absent(e: dict[str, Any]) -> str:
    return _("No visit for %(days)s days, usually every %(interval)s days (%(limit)s count).") % {
        "days": e["days"],
        "interval": e["interval"],
        "limit": e["limit"],
    }


def _sentence_visits(e: dict[str, Any]) -> str:
    return ngettext(
        "%(visits)s paid visit in %(months)s months (%(needed)s needed).",
        "%(visits)s paid visits in %(months)s months (%(needed)s needed).",
        e["visits"],
    ) % {"visits": e["visits"], "months": e["months"], "needed": e["needed"]}


def _sentence_referrals(e: dict[str, Any]) -> str:
    return ngettext(
        "Referred %(referrals)s patient (%(needed)s needed).",
        "Referred %(referrals)s patients (%(needed)s needed).",
        e["referrals"],
    ) % {"referrals": e["referrals"], "needed": e["needed"]}


def _sentence_spend(e: dict[str, Any]) -> str:
    return _("Spend score %(score)s of 5 (%(needed)s needed).") % {
        "score": e["score"],
        "needed": e["needed"],
    }


def _sentence_promotions(e: dict[str, Any]) -> str:
    return _(
        "%(promo)s of %(paid)s paid visits used a promotion (%(percent)s%%, %(needed)s%% counts)."
    ) % {"promo": e["promo"], "paid": e["paid"], "percent": e["percent"], "needed": e["needed"]}


def _sentence_not_returned(e: dict[str, Any]) -> str:
    return _("No visit for %(days)s days (%(limit)s count).") % {
        "days": e["days"],
        "limit": e["limit"],
    }


_SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "negative.complaint": _sentence_complaint,
    "negative.detractor": _sentence_detractor,
    "negative.missed": _sentence_missed,
    "negative.absent": _sentence_absent,
    "loyal.visits": _sentence_visits,
    "loyal.referrals": _sentence_referrals,
    "loyal.spend": _sentence_spend,
    "low_value.promotions": _sentence_promotions,
    "potential.open_plan": lambda e: _("Has an accepted treatment plan not yet done."),
    "potential.consulted": lambda e: _("Consulted, not treated."),
    "potential.not_returned": _sentence_not_returned,
    "potential.new": lambda e: _("No visit yet."),
    "potential.other": lambda e: _("Visits, with no other rule matching."),
}


# --- RFM ---------------------------------------------------------------------------------
class _Comparable(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


T = TypeVar("T", bound=_Comparable)


def quintile(below: int, count: int) -> int:
    """The score 1..5 of a value with `below` of `count` values strictly lower."""
    if count < 1:
        return 0
    return 1 + (5 * below) // count


def rfm_scores(values: Sequence[T]) -> list[int]:
    """Quintile scores 1..5 (higher value, higher score); equal values score the same."""
    ordered = sorted(values)
    count = len(ordered)
    return [quintile(bisect_left(ordered, value), count) for value in values]


def cut_points(ordered: Sequence[T]) -> list[T]:
    """Of sorted values, the four cut points of their quintiles: for s = 1..4, the value
    at position ceil(s * count / 5) - 1. A value with at least that many values below it
    exceeds it, so `score_by_cuts` gives what `quintile` gives over the same values.
    Fewer than one value: no cut points."""
    count = len(ordered)
    if count < 1:
        return []
    return [ordered[-(-s * count // 5) - 1] for s in range(1, 5)]


def score_by_cuts(value: T, cuts: Sequence[T]) -> int:
    """The score 1..5 of a value against stored cut points (0 without any)."""
    if not cuts:
        return 0
    return 1 + sum(1 for cut in cuts if cut < value)
