"""PatientProfile computation: the numbers of every patient and their group.

Both ways in share one pipeline, so a refresh of one patient and the nightly run over an
organisation give the same row:

- `recompute_organization`: a handful of aggregate queries grouped by patient over the
  whole organisation (no per-patient query), dicts in Python, the rules of `groups`, then
  an upsert in chunks (`INSERT ... ON CONFLICT (patient_id) DO UPDATE`, on SQLite and
  PostgreSQL alike) and GroupChange rows for the patients whose group changed.
- `refresh_profiles`: the same queries filtered to some patients. RFM quintiles compare a
  patient with the organisation's other stored profiles (counts of lower values), which is
  what the full run computes when the others are current.

Dates: visit days are the patient's home branch's local days; "today" is the local day of
the organisation's first branch (a day of difference between branches does not move a
threshold of months). Money columns are in the home branch's currency; invoices in other
currencies are left out of them. Spend is the total of invoices that are not void.
"""

from __future__ import annotations

import calendar
import json
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Context as DecimalContext
from decimal import Decimal
from operator import itemgetter as _itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Case, Count, F, IntegerField, Max, Min, Q, Sum, Value, When
from django.utils import timezone
from tqdm import tqdm

from chairtime.billing.models import Invoice, InvoiceStatus
from chairtime.care.rules import relevant_recall_due
from chairtime.clinical.models import (
    OPEN_PLAN_STATUSES,
    ItemStatus,
    LadderStep,
    LadderTier,
    OptionStatus,
    PerformedProcedure,
    Procedure,
    ProcedureCategory,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.crm.choices import ReferrerKind, TreatmentStatus
from chairtime.crm.models import (
    Complaint,
    GroupChange,
    GroupThresholds,
    HistoricalPayment,
    HistoricalVisit,
    NpsSurvey,
    PatientProfile,
    ProfileRun,
)
from chairtime.crm.profiles.groups import (
    THRESHOLD_FIELDS,
    GroupFacts,
    GroupVerdict,
    Thresholds,
    cut_points,
    evaluate,
    quintile,
    score_by_cuts,
)
from chairtime.patients.choices import ConsentPurpose, ContactChannel, PatientStatus
from chairtime.patients.models import Consent, Patient
from chairtime.scheduling.choices import AppointmentStatus, CancelledBy
from chairtime.scheduling.models import Appointment
from chairtime.simulation.bulk import insert_rows
from chairtime.tenancy.models import Branch, Organization

CHUNK = 2_000
READ_CHUNK = 10_000  # rows fetched at a time from a raw cursor
WRITE_CHUNK = 10_000  # rows per executemany
SCORE_BY_QUERY = 20  # refresh: up to this many patients scored by count queries
COPY_FROM_ROWS = 2_000  # PostgreSQL: from this many rows on, COPY and one upsert
# SQLite's page cache during a full run (a ceiling, not allocated up front).
SQLITE_CACHE_KIB = 512 * 1024
DETRACTOR_MAX = 6
ZERO = Decimal("0")
UPCOMING = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier when negative), the month's last day when the
    month is shorter (31 August + 6 months = 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def consent_bit(channel: str, purpose: str) -> int:
    """The bit of `PatientProfile.consent_bits` for a (channel, purpose) granted."""
    purposes = ConsentPurpose.values
    return 1 << (ContactChannel.values.index(channel) * len(purposes) + purposes.index(purpose))


CONSENT_BITS: dict[tuple[str, str], int] = {
    (channel, purpose): consent_bit(channel, purpose)
    for channel in ContactChannel.values
    for purpose in ConsentPurpose.values
}


@dataclass(frozen=True)
class RecomputeResult:
    patients: int
    changed_groups: int
    seconds: float


def thresholds_of(organization_id: int) -> Thresholds:
    row = GroupThresholds.objects.filter(organization_id=organization_id).first()
    if row is None:
        return Thresholds()
    return Thresholds(**{name: getattr(row, name) for name in THRESHOLD_FIELDS})


# --- the facts of a set of patients -------------------------------------------------------
@dataclass
class _Scope:
    """Which patients one run covers: an organisation's, or some of them."""

    organization: Organization
    branch_ids: list[int]
    patient_ids: list[int] | None  # None: every patient of the organisation
    now: datetime
    today: date
    thresholds: Thresholds

    def on(self, patient_field: str = "patient_id", branch_field: str | None = "branch_id") -> Q:
        if self.patient_ids is not None:
            return Q(**{f"{patient_field}__in": self.patient_ids})
        if branch_field is None:
            return Q(**{patient_field.replace("_id", "__organization_id"): self.organization.pk})
        return Q(**{f"{branch_field}__in": self.branch_ids})


@dataclass
class _Row:
    """One patient's profile being built (column name -> value)."""

    values: dict[str, Any] = field(default_factory=dict)


def _local_day(at: datetime | None, zone: ZoneInfo) -> date | None:
    return None if at is None else at.astimezone(zone).date()


def _raw(queryset: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of a values_list queryset straight from the cursor, without Django's
    per-value converters (on SQLite they cost more than the query): aggregated times come
    as text there (`_aware`), sums of money as floats (`_money`)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(READ_CHUNK):
            yield from batch


def _aware(value: Any) -> datetime | None:
    """A datetime as the ORM gives it: SQLite's naive UTC text made aware."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


_FROM_FLOAT = DecimalContext(prec=15).create_decimal_from_float


def _money(value: Any) -> Decimal | None:
    """A sum of money as the ORM gives it (SQLite sums REALs: 15 significant digits)."""
    if value is None or isinstance(value, Decimal):
        return value
    return _FROM_FLOAT(value)


_BY_PATIENT = str(ReferrerKind.PATIENT.value)
_BY_STAFF = str(ReferrerKind.STAFF.value)
_BY_EXTERNAL = str(ReferrerKind.EXTERNAL.value)
_BY_NOBODY = str(ReferrerKind.NONE.value)


def _patients(scope: _Scope) -> dict[int, dict[str, Any]]:
    rows = Patient.objects.filter(organization_id=scope.organization.pk).exclude(
        status=PatientStatus.MERGED
    )
    if scope.patient_ids is not None:
        rows = rows.filter(pk__in=scope.patient_ids)
    out: dict[int, dict[str, Any]] = {}
    for (pk, branch_id, birth, channel, doctor, by_patient, by_staff, external) in (
        _raw(rows.order_by().values_list(
            "pk", "home_branch_id", "birth_date", "source_channel_id", "preferred_doctor_id",
            "referred_by_patient_id", "referred_by_staff_id", "referrer_external",
        ))
    ):  # fmt: skip
        kind = (
            _BY_PATIENT if by_patient else _BY_STAFF if by_staff else
            _BY_EXTERNAL if external else _BY_NOBODY
        )  # fmt: skip
        out[pk] = {
            "patient_id": pk, "organization_id": scope.organization.pk,
            "home_branch_id": branch_id, "birth_date": birth,
            "birth_month": birth.month if birth else None, "source_channel_id": channel,
            "preferred_doctor_id": doctor, "referrer_kind": kind,
            "referred_by_patient_id": by_patient, "referred_by_staff_id": by_staff,
        }  # fmt: skip
    return out


def _appointments(scope: _Scope) -> Iterator[tuple[Any, ...]]:
    completed = Q(status=AppointmentStatus.COMPLETED)
    year_ago = scope.now - timedelta(days=365)
    diagnostic = list(
        Procedure.objects.filter(
            organization_id=scope.organization.pk, category=ProcedureCategory.DIAGNOSTIC
        ).values_list("pk", flat=True)
    )
    return _raw(
        Appointment.objects.filter(scope.on())
        .order_by()
        .values_list("patient_id")
        .annotate(
            visits=Count("id", filter=completed),
            first=Min("starts_at", filter=completed),
            last=Max("starts_at", filter=completed),
            consults=Count("id", filter=completed & Q(procedure_id__in=diagnostic)),
            no_shows=Count("id", filter=Q(status=AppointmentStatus.NO_SHOW)),
            recent_no_shows=Count(
                "id", filter=Q(status=AppointmentStatus.NO_SHOW, starts_at__gte=year_ago)
            ),
            arrived=Count("arrived_at"),
            on_time=Count("id", filter=Q(arrived_at__lte=F("starts_at"))),
            upcoming=Min("starts_at", filter=Q(status__in=UPCOMING, starts_at__gte=scope.now)),
        )
    )


def _late_cancellations(scope: _Scope) -> dict[int, int]:
    """Cancellations by the patient less than `late_cancel_hours` before the start, in the
    last 12 months (few rows: compared here, not with date arithmetic in SQL)."""
    late = timedelta(hours=scope.thresholds.late_cancel_hours)
    counts: dict[int, int] = defaultdict(int)
    for patient_id, starts_at, cancelled_at in (
        Appointment.objects.filter(
            scope.on(),
            status=AppointmentStatus.CANCELLED,
            cancelled_by=CancelledBy.PATIENT,
            starts_at__gte=scope.now - timedelta(days=365),
            cancelled_at__isnull=False,
        )
        .order_by()
        .values_list("patient_id", "starts_at", "cancelled_at")
        .iterator(chunk_size=CHUNK)
    ):
        if cancelled_at is not None and starts_at - cancelled_at < late:
            counts[patient_id] += 1
    return counts


def _invoices(scope: _Scope, window_start: date) -> Iterator[tuple[Any, ...]]:
    live = ~Q(status=InvoiceStatus.VOID)
    paid = live & Q(total__gt=0)
    year_start = scope.today - timedelta(days=365)
    return _raw(
        Invoice.objects.filter(scope.on())
        .order_by()
        .values_list("patient_id", "currency")
        .annotate(
            spend=Sum("total", filter=live),
            spend_year=Sum("total", filter=live & Q(issued_on__gt=year_start)),
            window_spend=Sum("total", filter=live & Q(issued_on__gt=window_start)),
            balance=Sum("balance", filter=Q(status=InvoiceStatus.OPEN)),
            paid_days=Count("issued_on", distinct=True, filter=paid),
            window_days=Count("issued_on", distinct=True, filter=paid & Q(issued_on__gt=window_start)),
            promo_days=Count("issued_on", distinct=True, filter=paid & Q(promotion__isnull=False)),
        )
    )  # fmt: skip


def _counts(rows: Iterable[tuple[Any, ...]]) -> dict[int, Any]:
    return {key: value for key, value in rows}


def _treatment(scope: _Scope) -> tuple[dict[int, int], dict[int, int], dict[int, list[Any]]]:
    open_items = _counts(
        TreatmentItem.objects.filter(
            scope.on("option__plan__patient_id", "option__plan__branch_id"),
            option__status=OptionStatus.ACCEPTED,
            option__plan__status__in=OPEN_PLAN_STATUSES,
            status__in=(ItemStatus.PLANNED, ItemStatus.SCHEDULED),
        )
        .order_by()
        .values_list("option__plan__patient_id")
        .annotate(n=Count("id"))
    )
    plans = _counts(
        TreatmentPlan.objects.filter(scope.on())
        .order_by()
        .values_list("patient_id")
        .annotate(n=Count("id"))
    )
    intervals: dict[int, list[int]] = defaultdict(list)
    for pk, months in Procedure.objects.filter(
        organization_id=scope.organization.pk, recall_interval_months__gt=0
    ).values_list("pk", "recall_interval_months"):
        if months:
            intervals[months].append(pk)
    recall = Case(
        *(When(procedure_id__in=ids, then=Value(months)) for months, ids in intervals.items()),
        default=Value(0),
        output_field=IntegerField(),
    )
    performed: dict[int, list[Any]] = defaultdict(list)
    for patient_id, months, count, last in _raw(
        PerformedProcedure.objects.filter(scope.on())
        .order_by()
        .annotate(recall=recall)
        .values_list("patient_id", "recall")
        .annotate(n=Count("id"), last=Max("performed_at"))
    ):
        performed[patient_id].append((months, count, _aware(last)))
    return open_items, plans, performed


def _relationships(scope: _Scope) -> dict[str, dict[int, Any]]:
    referred = Patient.objects.exclude(status=PatientStatus.MERGED)
    if scope.patient_ids is None:
        referred = referred.filter(organization_id=scope.organization.pk)
    else:
        referred = referred.filter(referred_by_patient_id__in=scope.patient_ids)
    referrals = _counts(
        referred.filter(referred_by_patient__isnull=False)
        .order_by()
        .values_list("referred_by_patient_id")
        .annotate(n=Count("id"))
    )
    complaints = _counts(
        Complaint.objects.filter(scope.on(branch_field="branch_id"))
        .order_by()
        .values_list("patient_id")
        .annotate(last=Max("received_at"))
    )
    ladder = _counts(
        LadderStep.objects.filter(scope.on())
        .order_by()
        .values_list("patient_id")
        .annotate(rank=Max("rank"))
    )
    last_score: dict[int, tuple[Any, ...]] = {}
    detractor: dict[int, Any] = {}
    for patient_id, answered_at, pk, score in (
        NpsSurvey.objects.filter(scope.on(), answered_at__isnull=False)
        .order_by()
        .values_list("patient_id", "answered_at", "pk", "score")
        .iterator(chunk_size=CHUNK)
    ):
        known = last_score.get(patient_id)
        if known is None or (answered_at, pk) > known[:2]:
            last_score[patient_id] = (answered_at, pk, score)
        if (
            score is not None
            and score <= DETRACTOR_MAX
            and (patient_id not in detractor or answered_at > detractor[patient_id])
        ):
            detractor[patient_id] = answered_at
    return {
        "referrals": referrals,
        "complaints": complaints,
        "ladder": ladder,
        "last_score": {pk: value[2] for pk, value in last_score.items()},
        "detractor": detractor,
    }


def _consents(scope: _Scope) -> dict[int, int]:
    """Newest row per (patient, channel, purpose) wins: read in that order, keep the first."""
    bits: dict[int, int] = defaultdict(int)
    seen: tuple[int, str, str] | None = None
    for patient_id, channel, purpose, granted in _raw(
        Consent.objects.filter(scope.on(branch_field=None))
        .order_by("patient_id", "channel", "purpose", "-recorded_at", "-id")
        .values_list("patient_id", "channel", "purpose", "is_granted")
    ):
        key = (patient_id, channel, purpose)
        if key == seen:
            continue
        seen = key
        if granted:
            bits[patient_id] |= CONSENT_BITS.get(key[1:], 0)
    return bits


# --- building the rows ---------------------------------------------------------------------
_EMPTY_NUMBERS: dict[str, Any] = {
    "first_visit_on": None, "last_visit_on": None, "visit_count": 0, "paid_visit_count": 0,
    "window_paid_visits": 0, "promo_visit_count": 0, "usual_interval_days": None,
    "next_appointment_at": None, "no_show_count": 0, "late_cancel_count": 0,
    "no_show_rate": None, "on_time_rate": None, "spend_total": ZERO, "spend_365d": ZERO,
    "window_spend": ZERO, "balance": ZERO, "has_open_plan": False, "ladder_tier": "",
    "recall_due_on": None, "referral_count": 0, "last_complaint_at": None,
    "last_detractor_at": None, "last_nps_score": None, "consent_bits": 0,
}  # fmt: skip


def _percent(part: int, whole: int) -> int | None:
    return None if whole == 0 else round(100 * part / whole)


def _build(scope: _Scope) -> dict[int, dict[str, Any]]:
    """Every column but the RFM scores and the group, for the scope's patients."""
    rows = _patients(scope)
    branches = {
        b.pk: (ZoneInfo(b.time_zone), b.currency)
        for b in Branch.objects.filter(organization_id=scope.organization.pk)
    }
    consults: dict[int, int] = {}
    for row in rows.values():
        row.update(_EMPTY_NUMBERS)
        row["currency"] = branches[row["home_branch_id"]][1]
    late_cancellations = _late_cancellations(scope)
    for (pid, visits, first, last, consult, no_shows, recent_no_shows, arrived, on_time,
         upcoming) in _appointments(scope):  # fmt: skip
        found = rows.get(pid)
        if found is None:
            continue
        row = found
        zone = branches[row["home_branch_id"]][0]
        first, last, upcoming = _aware(first), _aware(last), _aware(upcoming)
        row["visit_count"] = visits
        row["first_visit_on"] = _local_day(first, zone)
        row["last_visit_on"] = _local_day(last, zone)
        if visits >= 2 and first is not None and last is not None:
            row["usual_interval_days"] = max((last - first).days // (visits - 1), 1)
        row["next_appointment_at"] = upcoming
        row["no_show_count"] = recent_no_shows
        row["late_cancel_count"] = late_cancellations.get(pid, 0)
        row["no_show_rate"] = _percent(no_shows, visits + no_shows)
        row["on_time_rate"] = _percent(on_time, arrived)
        consults[pid] = consult
    window_start = add_months(scope.today, -scope.thresholds.rfm_window_months)
    for (pid, currency, spend, year, window, balance, paid_days, window_days,
         promo_days) in _invoices(scope, window_start):  # fmt: skip
        found = rows.get(pid)
        if found is None or currency != found["currency"]:
            continue
        row = found
        row.update(
            spend_total=_money(spend) or ZERO, spend_365d=_money(year) or ZERO,
            window_spend=_money(window) or ZERO, balance=_money(balance) or ZERO,
            paid_visit_count=paid_days, window_paid_visits=window_days,
            promo_visit_count=promo_days,
        )  # fmt: skip
    _add_history(scope, rows, window_start)
    open_items, plans, performed = _treatment(scope)
    relations = _relationships(scope)
    consents = _consents(scope)
    tiers = LadderTier.values
    ladder, referrals = relations["ladder"], relations["referrals"]
    complaints, detractor, last_score = (
        relations["complaints"], relations["detractor"], relations["last_score"]
    )  # fmt: skip
    for pid, row in rows.items():
        done = performed.get(pid)
        has_open = row["has_open_plan"] = open_items.get(pid, 0) > 0
        row["treatment_status"] = _treatment_status(
            has_open, sum(n for _m, n, _l in done) if done else 0, plans.get(pid, 0),
            consults.get(pid, 0),
        )  # fmt: skip
        if done:
            row["recall_due_on"] = _recall_due(done, branches[row["home_branch_id"]][0])
        rank = ladder.get(pid)
        row["ladder_tier"] = tiers[rank - 1] if rank and rank <= len(tiers) else ""
        row["referral_count"] = referrals.get(pid, 0)
        row["last_complaint_at"] = complaints.get(pid)
        row["last_detractor_at"] = detractor.get(pid)
        row["last_nps_score"] = last_score.get(pid)
        row["consent_bits"] = consents.get(pid, 0)
    return rows


# --- imported history ---------------------------------------------------------------------
def _day(value: Any) -> date | None:
    """A date as the cursor gives it (ISO text on SQLite)."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _add_history(scope: _Scope, rows: dict[int, dict[str, Any]], window_start: date) -> None:
    """Visits and payments imported from another system (ADR 9, "Imported history"): one
    aggregate query per table over the scope, nothing per patient.

    A historical visit is a completed visit (count, first and last day, usual interval);
    one with an amount above zero is a paid visit day. Historical payments add to the
    spend in the profile's currency. No-show and on-time rates stay the appointment
    book's own: the old system's visits say nothing of missed ones."""
    paid = Q(amount__gt=0)
    for pid, visits, first, last, paid_days, window_days in _raw(
        HistoricalVisit.objects.filter(scope.on())
        .order_by()
        .values_list("patient_id")
        .annotate(
            visits=Count("id"), first=Min("visited_on"), last=Max("visited_on"),
            paid_days=Count("visited_on", distinct=True, filter=paid),
            window_days=Count(
                "visited_on", distinct=True, filter=paid & Q(visited_on__gt=window_start)
            ),
        )
    ):  # fmt: skip
        row = rows.get(pid)
        if row is not None:
            _merge_visits(row, visits, _day(first), _day(last), paid_days, window_days)
    year_start = scope.today - timedelta(days=365)
    for pid, currency, spend, year, window in _raw(
        HistoricalPayment.objects.filter(scope.on())
        .order_by()
        .values_list("patient_id", "currency")
        .annotate(
            spend=Sum("amount"), year=Sum("amount", filter=Q(paid_on__gt=year_start)),
            window=Sum("amount", filter=Q(paid_on__gt=window_start)),
        )
    ):  # fmt: skip
        row = rows.get(pid)
        if row is not None and currency == row["currency"]:
            row["spend_total"] += _money(spend) or ZERO
            row["spend_365d"] += _money(year) or ZERO
            row["window_spend"] += _money(window) or ZERO


def _merge_visits(
    row: dict[str, Any], visits: int, first: date | None, last: date | None, paid_days: int,
    window_days: int,
) -> None:  # fmt: skip
    """Add one patient's historical visits to the appointment book's figures. A day with
    both an invoice and a historical paid visit counts twice: the old system's history
    ends where the book begins, so they do not meet in practice."""
    if not visits or first is None or last is None:
        return
    total = row["visit_count"] + visits
    first = min(filter(None, (row["first_visit_on"], first)))
    last = max(filter(None, (row["last_visit_on"], last)))
    row.update(
        visit_count=total, first_visit_on=first, last_visit_on=last,
        paid_visit_count=row["paid_visit_count"] + paid_days,
        window_paid_visits=row["window_paid_visits"] + window_days,
        usual_interval_days=max((last - first).days // (total - 1), 1) if total >= 2 else None,
    )  # fmt: skip


_IN_TREATMENT = str(TreatmentStatus.IN_TREATMENT.value)
_COMPLETED = str(TreatmentStatus.COMPLETED.value)
_CONSULTED = str(TreatmentStatus.CONSULTED.value)
_NOTHING_PLANNED = str(TreatmentStatus.NOTHING_PLANNED.value)


def _treatment_status(has_open: bool, performed: int, plans: int, consults: int) -> str:
    if has_open:
        return _IN_TREATMENT
    if performed:
        return _COMPLETED
    if plans or consults:
        return _CONSULTED
    return _NOTHING_PLANNED


def _recall_due(done: Sequence[tuple[int, int, datetime]], zone: ZoneInfo) -> date | None:
    """The patient's recall date by the one recall rule (`care.rules.relevant_recall_due`,
    ADR 11): `done` holds, per recall interval, the count and the last time a procedure
    with that interval was performed; the days are the home branch's local days."""
    return relevant_recall_due(
        (months, day)
        for months, _count, last in done
        if months and (day := _local_day(last, zone)) is not None
    )


# --- RFM and groups ----------------------------------------------------------------------
def _rfm_keys(row: dict[str, Any]) -> tuple[date, int, Decimal] | None:
    """Recency, frequency and monetary values; None for a patient with nothing to score."""
    if row["window_paid_visits"] < 1 or row["last_visit_on"] is None:
        return None
    return row["last_visit_on"], row["window_paid_visits"], row["window_spend"]


def _score_all(rows: dict[int, dict[str, Any]]) -> _Cuts:
    """Quintiles over every scored patient of the organisation (the full run); returns the
    cut points of each score, kept for the refreshes until the next run."""
    keyed = [(pid, keys) for pid, row in rows.items() if (keys := _rfm_keys(row)) is not None]
    for row in rows.values():
        row["r_score"] = row["f_score"] = row["m_score"] = 0
    count = len(keyed)
    cuts: list[list[Any]] = []
    for position, column in enumerate(("r_score", "f_score", "m_score")):
        ordered = sorted(keys[position] for _pid, keys in keyed)
        below = _below_index(ordered)
        for pid, keys in keyed:
            rows[pid][column] = quintile(below[keys[position]], count)
        cuts.append(cut_points(ordered))
    return _Cuts(count, *cuts)


@dataclass(frozen=True)
class _Cuts:
    """The RFM cut points of a full run (see `ProfileRun`)."""

    scored: int
    recency: list[date]
    frequency: list[int]
    monetary: list[Decimal]

    def save(self, scope: _Scope, *, seconds: float, patients: int, moved: int) -> None:
        """The run as of `scope.now` (a test's or a replay's clock, or the real one)."""
        ProfileRun.objects.create(
            organization=scope.organization, started_at=scope.now,
            finished_at=scope.now + timedelta(seconds=seconds),
            patients=patients, scored=self.scored, changed_groups=moved,
            recency_cuts=[day.isoformat() for day in self.recency],
            frequency_cuts=self.frequency,
            monetary_cuts=[f"{m.normalize():f}" for m in self.monetary],  # same text on both
        )  # fmt: skip

    @classmethod
    def latest(cls, organization_id: int) -> _Cuts | None:
        """The last full run's cut points; None before any run scored a patient."""
        run = ProfileRun.objects.filter(organization_id=organization_id, scored__gt=0).first()
        if run is None:
            return None
        return cls(
            run.scored, [date.fromisoformat(d) for d in run.recency_cuts],
            [int(f) for f in run.frequency_cuts], [Decimal(m) for m in run.monetary_cuts],
        )  # fmt: skip


def _below_index(ordered: list[Any]) -> dict[Any, int]:
    """For each distinct value of a sorted list, how many values are lower."""
    below: dict[Any, int] = {}
    for index, value in enumerate(ordered):
        if value not in below:
            below[value] = index
    return below


_RFM_COLUMNS = (
    ("r_score", "last_visit_on"),
    ("f_score", "window_paid_visits"),
    ("m_score", "window_spend"),
)


def _score_some(scope: _Scope, rows: dict[int, dict[str, Any]]) -> None:
    """Quintiles of some patients: against the cut points of the organisation's last full
    run when there is one; else against its other stored profiles: counts
    of lower values, by three queries per patient for a few, from the others' values read
    once for more (an import's chunk, a batch of signals)."""
    keyed = {pid: keys for pid, row in rows.items() if (keys := _rfm_keys(row)) is not None}
    for row in rows.values():
        row["r_score"] = row["f_score"] = row["m_score"] = 0
    if not keyed:  # nobody to score: no query
        return
    cuts = _Cuts.latest(scope.organization.pk)
    if cuts is not None:  # last night's quintiles: no pass over the other profiles
        for pid, (recency, frequency, monetary) in keyed.items():
            row = rows[pid]
            row["r_score"] = score_by_cuts(recency, cuts.recency)
            row["f_score"] = score_by_cuts(frequency, cuts.frequency)
            row["m_score"] = score_by_cuts(monetary, cuts.monetary)
        return
    others = PatientProfile.objects.filter(
        organization_id=scope.organization.pk, window_paid_visits__gt=0, last_visit_on__isnull=False
    ).exclude(patient_id__in=list(rows))
    if len(keyed) > SCORE_BY_QUERY:
        sources = [source for _column, source in _RFM_COLUMNS]
        values = list(others.order_by().values_list(*sources))
        count = len(values) + len(keyed)
        for position, (column, _source) in enumerate(_RFM_COLUMNS):
            ordered = sorted(
                [value[position] for value in values] + [keys[position] for keys in keyed.values()]
            )
            for pid, keys in keyed.items():
                rows[pid][column] = quintile(bisect_left(ordered, keys[position]), count)
        return
    count = others.count() + len(keyed)
    for pid, keys in keyed.items():
        for position, (column, source) in enumerate(_RFM_COLUMNS):
            value: Any = keys[position]
            below = others.filter(**{f"{source}__lt": value}).count()
            below += sum(1 for other in keyed.values() if value > other[position])
            rows[pid][column] = quintile(below, count)


def _facts(row: dict[str, Any]) -> GroupFacts:
    return GroupFacts(
        visit_count=row["visit_count"], last_visit_on=row["last_visit_on"],
        usual_interval_days=row["usual_interval_days"],
        has_future_appointment=row["next_appointment_at"] is not None,
        paid_visit_count=row["paid_visit_count"], window_paid_visits=row["window_paid_visits"],
        promo_visit_count=row["promo_visit_count"], referral_count=row["referral_count"],
        m_score=row["m_score"], no_show_count=row["no_show_count"],
        late_cancel_count=row["late_cancel_count"], last_complaint_at=row["last_complaint_at"],
        last_detractor_at=row["last_detractor_at"], treatment_status=row["treatment_status"],
        has_open_plan=row["has_open_plan"],
    )  # fmt: skip


_FACT_KEY = _itemgetter(
    "visit_count", "last_visit_on", "usual_interval_days", "paid_visit_count",
    "window_paid_visits", "promo_visit_count", "referral_count", "m_score", "no_show_count",
    "late_cancel_count", "last_complaint_at", "last_detractor_at", "treatment_status",
    "has_open_plan",
)  # fmt: skip


def _decide(scope: _Scope, rows: dict[int, dict[str, Any]]) -> None:
    """The rules for every row. Many patients share the same facts (every patient without a
    visit, for one): each distinct set of facts is evaluated once (the rules are pure, and
    the evidence is only read afterwards)."""
    verdicts: dict[tuple[Any, ...], GroupVerdict] = {}
    for row in rows.values():
        key = (*_FACT_KEY(row), row["next_appointment_at"] is not None)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = evaluate(_facts(row), scope.thresholds, scope.today)
        row["group"] = verdict.group
        row["group_rule"] = verdict.rule
        row["group_evidence"] = verdict.evidence
        row["group_since"] = scope.now
        row["computed_at"] = scope.now


# --- writing ------------------------------------------------------------------------------
COLUMNS: tuple[str, ...] = (
    "patient_id", "organization_id", "home_branch_id", "birth_date", "birth_month",
    "source_channel_id", "preferred_doctor_id", "referrer_kind", "referred_by_patient_id",
    "referred_by_staff_id", "consent_bits", "first_visit_on", "last_visit_on", "visit_count",
    "paid_visit_count", "window_paid_visits", "promo_visit_count", "usual_interval_days",
    "next_appointment_at", "no_show_count", "late_cancel_count", "no_show_rate",
    "on_time_rate", "currency", "spend_total", "spend_365d", "window_spend", "balance",
    "treatment_status", "has_open_plan", "ladder_tier", "recall_due_on", "referral_count",
    "last_complaint_at", "last_detractor_at", "last_nps_score", "r_score", "f_score",
    "m_score", "group", "group_rule", "group_evidence", "group_since", "computed_at",
)  # fmt: skip
_DATETIMES = frozenset(
    {"next_appointment_at", "last_complaint_at", "last_detractor_at", "group_since", "computed_at"}
)
_DATES = frozenset({"birth_date", "first_visit_on", "last_visit_on", "recall_due_on"})


_DECIMALS = frozenset({"spend_total", "spend_365d", "window_spend", "balance"})
_CENT = Decimal("0.01")


def _adapters(*, copy: bool = False) -> list[Any]:
    """Per column, what turns a row's value into the parameter the backend stores (None:
    the value as it is). SQLite stores text for dates and times (naive UTC for datetimes,
    as Django writes them), PostgreSQL's driver takes dates, aware datetimes and decimals
    themselves; JSON as text on SQLite, through the field on PostgreSQL."""
    is_sqlite = connection.vendor == "sqlite"
    evidence = PatientProfile._meta.get_field("group_evidence")
    zone = connection.timezone

    prepared: dict[int, Any] = {}  # rows with the same verdict share its evidence dict

    def as_json(value: Any) -> Any:
        found = prepared.get(id(value))
        if found is None:
            found = prepared[id(value)] = (
                json.dumps(value)
                if is_sqlite or copy
                else evidence.get_db_prep_save(value, connection)
            )
        return found

    texts: dict[datetime, str] = {}  # group_since and computed_at: one value for all

    def as_text(value: datetime) -> str:
        text = texts.get(value)
        if text is None:
            text = str(value.astimezone(zone).replace(tzinfo=None))
            if len(texts) < 1000:
                texts[value] = text
        return text

    def as_decimal(value: Decimal) -> str:
        return f"{value.quantize(_CENT):f}"

    adapters: list[Any] = []
    for column in COLUMNS:
        if column == "group_evidence":
            adapters.append(as_json)
        elif not is_sqlite:
            adapters.append(None)
        elif column in _DATETIMES:
            adapters.append(as_text)
        elif column in _DATES:
            adapters.append(date.isoformat)
        elif column in _DECIMALS:
            adapters.append(as_decimal)
        else:
            adapters.append(None)
    return adapters


def _upsert_sql(rows_per_statement: int, source: str = "") -> str:
    """INSERT ... ON CONFLICT DO UPDATE of `rows_per_statement` rows of parameters, or of
    the rows of the table `source` (quoted) when given."""
    quote = connection.ops.quote_name
    table = quote(PatientProfile._meta.db_table)
    names = ", ".join(quote(c) for c in COLUMNS)
    one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    updates = [
        f"{quote(c)} = excluded.{quote(c)}"
        for c in COLUMNS
        if c not in {"patient_id", "group_since"}
    ]
    group = quote("group")
    # A patient who stays in their group keeps the time they entered it.
    updates.append(
        f"{quote('group_since')} = CASE WHEN {table}.{group} = excluded.{group} "
        f"THEN {table}.{quote('group_since')} ELSE excluded.{quote('group_since')} END"
    )
    rows = (
        f"SELECT {names} FROM {source}"  # noqa: S608
        if source
        else "VALUES " + ", ".join([one] * rows_per_statement)
    )
    # Only our own quoted names are spliced in; every value is a parameter.
    return (
        f"INSERT INTO {table} ({names}) {rows} "
        f"ON CONFLICT ({quote('patient_id')}) DO UPDATE SET {', '.join(updates)}"
    )


def _copy_upsert(rows: list[dict[str, Any]], progress: Any) -> None:
    """PostgreSQL, many rows: COPY into a temporary table, then one upsert from it (binding
    a multi-row INSERT's parameters costs the client more than the server's work)."""
    quote = connection.ops.quote_name
    table, load = quote(PatientProfile._meta.db_table), quote("crm_profile_load")
    names = ", ".join(quote(c) for c in COLUMNS)
    adapters = [(i, adapt) for i, adapt in enumerate(_adapters(copy=True)) if adapt is not None]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {load}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {load} ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {names} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {load} ({names}) FROM STDIN") as copy:
            for start in range(0, len(rows), WRITE_CHUNK):
                for row in rows[start : start + WRITE_CHUNK]:
                    copy.write_row(_prepared(row, adapters))
                if progress is not None:
                    progress.update(len(rows[start : start + WRITE_CHUNK]))
        cursor.execute(_upsert_sql(0, source=load))
        cursor.execute(f"DROP TABLE {load}")


def _write(rows: list[dict[str, Any]], stored: Container[int], progress: Any = None) -> None:
    """Insert or update the rows; `stored`: the patients who had a profile when the
    transaction read them."""
    adapters = [(i, adapt) for i, adapt in enumerate(_adapters()) if adapt is not None]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # One prepared statement run per row is SQLite's fastest path, and a plain
            # INSERT costs a third of an upsert there. A profile another connection added
            # since we read cannot slip in between: SQLite refuses to write from a read
            # transaction whose snapshot is out of date.
            upsert, insert = _upsert_sql(1), _insert_sql()
            for start in range(0, len(rows), WRITE_CHUNK):
                chunk = rows[start : start + WRITE_CHUNK]
                old = [_prepared(row, adapters) for row in chunk if row["patient_id"] in stored]
                new = [_prepared(row, adapters) for row in chunk if row["patient_id"] not in stored]
                for sql, params in ((upsert, old), (insert, new)):
                    if params:
                        cursor.executemany(sql, params)
                if progress is not None:
                    progress.update(len(chunk))
            return
        if len(rows) >= COPY_FROM_ROWS:
            _copy_upsert(rows, progress)
            return
        per_statement = max(1, min(500, 60_000 // len(COLUMNS)))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            params = [value for row in chunk for value in _prepared(row, adapters)]
            cursor.execute(_upsert_sql(len(chunk)), params)
            if progress is not None:
                progress.update(len(chunk))


def _insert_sql() -> str:
    quote = connection.ops.quote_name
    # Only our own quoted column names are spliced in; every value is a parameter.
    return "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quote(PatientProfile._meta.db_table),
        ", ".join(quote(c) for c in COLUMNS),
        ", ".join(["%s"] * len(COLUMNS)),
    )


_ALL_COLUMNS = _itemgetter(*COLUMNS)


def _prepared(row: dict[str, Any], adapters: list[tuple[int, Any]]) -> tuple[Any, ...]:
    """The row's values in COLUMNS order, adapted where `adapters` (position, function) say."""
    values = list(_ALL_COLUMNS(row))
    for index, adapt in adapters:
        value = values[index]
        if value is not None:
            values[index] = adapt(value)
    return tuple(values)


_CHANGE_COLUMNS = ("organization", "patient", "from_group", "to_group", "rule", "changed_at")


def _record_changes(scope: _Scope, rows: Iterable[dict[str, Any]], before: dict[int, str]) -> int:
    """GroupChange rows for the patients whose group changed, as plain rows (COPY on
    PostgreSQL, one executemany on SQLite; bulk_create costs more than the database)."""
    org_id = scope.organization.pk
    changes = [
        (org_id, row["patient_id"], before.get(row["patient_id"], ""), row["group"],
         row["group_rule"], scope.now)
        for row in rows
        if before.get(row["patient_id"]) != row["group"]
    ]  # fmt: skip
    if not changes:
        return 0
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        columns = ", ".join(
            quote(str(GroupChange._meta.get_field(name).column))  # type: ignore[union-attr]
            for name in _CHANGE_COLUMNS
        )
        # Identifiers come from model metadata and are quoted; values travel as COPY data.
        sql = f"COPY {quote(GroupChange._meta.db_table)} ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for change in changes:
                copy.write_row(change)
    else:
        for start in range(0, len(changes), WRITE_CHUNK):
            insert_rows(GroupChange, _CHANGE_COLUMNS, changes[start : start + WRITE_CHUNK])
    return len(changes)


def _groups_before(scope: _Scope) -> dict[int, str]:
    """The stored group of each of the scope's patients who have a profile (a refresh)."""
    stored = PatientProfile.objects.filter(organization_id=scope.organization.pk)
    if scope.patient_ids is not None:
        stored = stored.filter(patient_id__in=scope.patient_ids)
    return dict(stored.order_by().values_list("patient_id", "group"))


# --- the full run: every row loaded, the database finds what changed ------------------------
_LOAD = "crm_profile_load"
# Compared to tell a changed profile: every column but the times of the run itself.
_COMPARED: tuple[str, ...] = tuple(c for c in COLUMNS if c not in {"group_since", "computed_at"})


def _load(rows: list[dict[str, Any]], progress: Any) -> None:
    """Every built row into a temporary table shaped like the profile table: COPY on
    PostgreSQL, one prepared INSERT per row on SQLite (in memory: `_tuned`)."""
    quote = connection.ops.quote_name
    table, load = quote(PatientProfile._meta.db_table), quote(_LOAD)
    names = ", ".join(quote(c) for c in COLUMNS)
    is_postgresql = connection.vendor == "postgresql"
    adapters = [
        (i, adapt) for i, adapt in enumerate(_adapters(copy=is_postgresql)) if adapt is not None
    ]
    # Only our own quoted names are spliced into these statements; values are parameters
    # or COPY data.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {load}")
        if is_postgresql:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {load} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {names} FROM {table} WITH NO DATA"
            )
        else:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {load} AS SELECT {names} FROM {table} WHERE 0"  # noqa: S608
            )
        insert = f"INSERT INTO {load} ({names}) VALUES ({', '.join(['%s'] * len(COLUMNS))})"  # noqa: S608
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = [_prepared(row, adapters) for row in rows[start : start + WRITE_CHUNK]]
            if is_postgresql:
                with cursor.cursor.copy(f"COPY {load} ({names}) FROM STDIN") as copy:
                    for values in chunk:
                        copy.write_row(values)
            else:
                cursor.executemany(insert, chunk)
            if progress is not None:
                progress.update(len(chunk))
        if is_postgresql:
            cursor.execute(f"ANALYZE {load}")  # a hash join, not a guess over "empty"


def _sync_all(scope: _Scope) -> int:
    """From the loaded rows: GroupChange rows for every patient entering a group, then the
    profiles whose numbers changed updated, the new ones inserted. Reading a million stored
    profiles into Python to compare them costs more than the database's join. Returns how
    many group changes were recorded."""
    quote = connection.ops.quote_name
    table, load = quote(PatientProfile._meta.db_table), quote(_LOAD)
    group, since, pid = quote("group"), quote("group_since"), quote("patient_id")
    changes = quote(GroupChange._meta.db_table)
    change_columns = ", ".join(
        quote(str(GroupChange._meta.get_field(name).column))  # type: ignore[union-attr]
        for name in _CHANGE_COLUMNS
    )
    changed_at = connection.ops.adapt_datetimefield_value(scope.now)
    stored = ", ".join(f"p.{quote(c)}" for c in _COMPARED)
    loaded = ", ".join(f"l.{quote(c)}" for c in _COMPARED)
    differs = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    updates = ", ".join(
        f"{quote(c)} = l.{quote(c)}" for c in COLUMNS if c not in {"patient_id", "group_since"}
    )
    names = ", ".join(quote(c) for c in COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {changes} ({change_columns}) "  # noqa: S608
            f"SELECT %s, l.{pid}, COALESCE(p.{group}, ''), l.{group}, l.{quote('group_rule')}, %s "
            f"FROM {load} l LEFT JOIN {table} p ON p.{pid} = l.{pid} "
            f"WHERE p.{pid} IS NULL OR p.{group} <> l.{group}",
            [scope.organization.pk, changed_at],
        )
        moved: int = cursor.rowcount
        # A patient who stays in their group keeps the time they entered it.
        cursor.execute(
            f"UPDATE {table} AS p SET {updates}, "  # noqa: S608
            f"{since} = CASE WHEN p.{group} = l.{group} THEN p.{since} ELSE l.{since} END "
            f"FROM {load} AS l WHERE p.{pid} = l.{pid} AND ({stored}) {differs} ({loaded})"
        )
        # A profile a refresh added since the load stays (it was computed as recently).
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {load} AS l "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS p WHERE p.{pid} = l.{pid}) "
            f"ON CONFLICT ({pid}) DO NOTHING"
        )
        cursor.execute(f"DROP TABLE {load}")
    return max(moved, 0)


def _scope(
    organization: Organization, patient_ids: list[int] | None, now: datetime | None
) -> _Scope:
    now = now or timezone.now()
    branches = list(
        Branch.objects.filter(organization_id=organization.pk)
        .order_by("pk")
        .values_list("pk", "time_zone")
    )
    zone = ZoneInfo(branches[0][1]) if branches else ZoneInfo("UTC")
    return _Scope(
        organization=organization,
        branch_ids=[pk for pk, _zone in branches],
        patient_ids=patient_ids,
        now=now,
        today=now.astimezone(zone).date(),
        thresholds=thresholds_of(organization.pk),
    )


def recompute_organization(
    organization: Organization, *, now: datetime | None = None, progress: bool = False
) -> RecomputeResult:
    """Recompute every profile of the organisation, set-based (the nightly run). Only rows
    whose numbers or group changed are written."""
    started = time.perf_counter()
    scope = _scope(organization, None, now)
    rows = _build(scope)
    cuts = _score_all(rows)
    _decide(scope, rows)
    with transaction.atomic(), _tuned():
        bar = tqdm(total=len(rows), unit="patients", disable=not progress, mininterval=0.5)
        _load(list(rows.values()), bar)
        bar.close()
        moved = _sync_all(scope)
        _delete_merged(organization.pk, None)
        cuts.save(scope, seconds=time.perf_counter() - started, patients=len(rows), moved=moved)
    return RecomputeResult(len(rows), moved, time.perf_counter() - started)


def _delete_merged(organization_id: int, patient_ids: list[int] | None) -> None:
    """Profiles of merged patients go. The merged patients are few: their ids first, then a
    delete by id (a join in the DELETE gets a poor plan on freshly loaded PostgreSQL)."""
    merged = Patient.objects.filter(organization_id=organization_id, status=PatientStatus.MERGED)
    if patient_ids is not None:
        merged = merged.filter(pk__in=patient_ids)
    ids = list(merged.order_by().values_list("pk", flat=True))
    for start in range(0, len(ids), READ_CHUNK):
        PatientProfile.objects.filter(patient_id__in=ids[start : start + READ_CHUNK]).delete()


@contextmanager
def _tuned() -> Iterator[None]:
    """SQLite, for the length of a full run only: a page cache big enough for the profile
    table and its indexes (the default 2 MB makes every write read pages again). A setting
    of this connection, put back after."""
    if connection.vendor != "sqlite":
        yield
        return
    sizes = {}
    with connection.cursor() as cursor:
        for schema in ("main", "temp"):  # temp: the loaded rows of `_load`
            cursor.execute(f"PRAGMA {schema}.cache_size")
            (sizes[schema],) = cursor.fetchone()
            cursor.execute(f"PRAGMA {schema}.cache_size = {-SQLITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for schema, size in sizes.items():
                cursor.execute(f"PRAGMA {schema}.cache_size = {int(size)}")


def refresh_profiles(patient_ids: Iterable[int], *, now: datetime | None = None) -> int:
    """Recompute the profiles (and groups) of these patients; returns rows written."""
    wanted = sorted(set(patient_ids))
    if not wanted:
        return 0
    written = 0
    by_org: dict[int, list[int]] = defaultdict(list)
    for pk, org_id in Patient.objects.filter(pk__in=wanted).values_list("pk", "organization_id"):
        by_org[org_id].append(pk)
    for org_id, ids in by_org.items():
        organization = Organization.objects.get(pk=org_id)
        scope = _scope(organization, ids, now)
        with transaction.atomic():
            rows = _build(scope)
            _score_some(scope, rows)
            _decide(scope, rows)
            before = _groups_before(scope)
            _write(list(rows.values()), before)
            _record_changes(scope, rows.values(), before)
            _delete_merged(org_id, ids)
        written += len(rows)
    return written
