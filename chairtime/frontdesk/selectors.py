"""Reads of the front desk (ADR 14): the book's version for live updates, the day's
scheduled production, the morning and evening meetings, and the no-shows report.

Every page here reads a fixed number of queries however many appointments the day has
(tested): the day's appointments once with what each row shows annotated, then one
grouped query per section.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from chairtime.billing.models import Invoice, InvoiceStatus, Payment, PaymentMethod, Refund
from chairtime.clinical.models import (
    OPEN_PLAN_STATUSES,
    ItemStatus,
    OptionStatus,
    PerformedProcedure,
    ProcedureCategory,
    ProcedurePrice,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.core.money import ZERO
from chairtime.crm.choices import CustomerGroup
from chairtime.frontdesk.models import DailyGoal, DaySnapshot, NoShowFee, NoShowFeeRule
from chairtime.frontdesk.risk import History, Risk, no_show_risk
from chairtime.patients.models import Patient, PatientPhone
from chairtime.scheduling.choices import RELEASED_STATUSES, AppointmentStatus
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.selectors import VIP_TAG, day_bounds
from chairtime.tenancy.models import Branch

if TYPE_CHECKING:
    from chairtime.care.models import CareTask
    from chairtime.labs.selectors import CaseFlag

COMPLEX_CATEGORIES = frozenset(
    {ProcedureCategory.ORTHODONTIC, ProcedureCategory.IMPLANT, ProcedureCategory.PROSTHETIC}
)
ARRIVED_STATUSES = (
    AppointmentStatus.ARRIVED, AppointmentStatus.SEATED, AppointmentStatus.COMPLETED,
)  # fmt: skip
LATE_ARRIVAL = timedelta(minutes=10)  # arriving later than this after the start is late
FEE_WINDOW = timedelta(days=365)  # the fee rule counts no-shows in the last twelve months
# The morning meeting flags appointments of today and the next days whose lab case is not
# back: time enough to call the lab (or the patient) before the chair hour is lost.
LAB_LOOKAHEAD_DAYS = 5
MONEY: DecimalField[Decimal, Decimal] = DecimalField(max_digits=14, decimal_places=2)


def today_of(branch: Branch, now: datetime) -> date:
    return timezone.localdate(now, timezone=branch.zone)


# --- live updates -------------------------------------------------------------------------
def get_book_version(*, branch: Branch, day: date) -> str:
    """A short fingerprint of the branch's book on a local day: changes whenever an
    appointment of the day is booked, moved in or out, cancelled or changes status (every
    write saves `updated_at`; a move out of the day lowers the count). One query."""
    bounds = day_bounds(branch, day)
    found = Appointment.objects.filter(
        branch=branch, starts_at__lt=bounds.end, ends_at__gt=bounds.start
    ).aggregate(count=Count("pk"), latest=Max("updated_at"), ids=Sum("pk"))
    latest = found["latest"].isoformat() if found["latest"] is not None else "-"
    raw = f"{found['count']}:{found['ids'] or 0}:{latest}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


# --- the day's appointments with what the meetings show -----------------------------------
def expected_fee() -> Coalesce:
    """An appointment's expected fee: its linked plan items' amounts, else the branch's
    price of the procedure, else nothing."""
    items = (
        TreatmentItem.objects.filter(appointment_id=OuterRef("pk"))
        .exclude(status=ItemStatus.CANCELLED)
        .order_by()
        .values("appointment_id")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    price = ProcedurePrice.objects.filter(
        branch_id=OuterRef("branch_id"), procedure_id=OuterRef("procedure_id")
    ).values("price")[:1]
    return Coalesce(Subquery(items), Subquery(price), Value(ZERO), output_field=MONEY)


def _with_vip(rows: QuerySet[Appointment]) -> QuerySet[Appointment]:
    tagged = Patient.tags.through.objects.filter(
        patient_id=OuterRef("patient_id"), tag__name__iexact=VIP_TAG
    )
    return rows.annotate(
        is_vip=Exists(tagged) | Q(patient__profile__group=CustomerGroup.LOYAL),
    )


def list_day_appointments(
    *, branch: Branch, start: datetime, end: datetime, include_released: bool = False
) -> list[Appointment]:
    """Appointments starting in [start, end) with patient, profile, procedure, doctor and
    chair, `is_vip` (profile group loyal or the VIP tag) and `expected_fee`. One query."""
    rows = Appointment.objects.filter(branch=branch, starts_at__gte=start, starts_at__lt=end)
    if not include_released:
        rows = rows.exclude(status__in=RELEASED_STATUSES)
    rows = _with_vip(rows).annotate(expected_fee=expected_fee())
    return list(
        rows.select_related("patient", "patient__profile", "procedure", "doctor", "chair").order_by(
            "starts_at", "chair__sort_order", "pk"
        )
    )


def compute_scheduled_production(*, branch: Branch, day: date) -> tuple[Decimal, int]:
    """The expected fees of the day's booked (not released) appointments, and their count."""
    bounds = day_bounds(branch, day)
    found = (
        Appointment.objects.filter(
            branch=branch, starts_at__gte=bounds.start, starts_at__lt=bounds.end
        )
        .exclude(status__in=RELEASED_STATUSES)
        .annotate(fee=expected_fee())
        .aggregate(total=Sum("fee"), count=Count("pk"))
    )
    return found["total"] or ZERO, found["count"]


def get_snapshot(*, branch: Branch, day: date) -> DaySnapshot | None:
    return DaySnapshot.objects.filter(branch=branch, day=day).first()


def get_daily_goal(*, branch: Branch) -> DailyGoal | None:
    return DailyGoal.objects.filter(branch=branch).first()


def get_fee_rule(*, branch: Branch) -> NoShowFeeRule | None:
    return NoShowFeeRule.objects.filter(branch=branch).first()


# --- patients' history --------------------------------------------------------------------
@dataclass(frozen=True)
class PatientRecord:
    """A patient's appointments that were due before a moment, in numbers."""

    appointments: int = 0  # kept, missed or cancelled late
    arrivals: int = 0
    late_arrivals: int = 0
    no_shows: int = 0
    late_cancellations: int = 0
    cancellations: int = 0

    @property
    def history(self) -> History:
        return History(self.appointments, self.no_shows, self.late_cancellations)

    @property
    def no_show_rate(self) -> int | None:
        return round(100 * self.no_shows / self.appointments) if self.appointments else None

    @property
    def on_time_rate(self) -> int | None:
        if not self.arrivals:
            return None
        return round(100 * (self.arrivals - self.late_arrivals) / self.arrivals)


def patient_records(patient_ids: Iterable[int], *, before: datetime) -> dict[int, PatientRecord]:
    """Each patient's appointments (in every branch) that started before `before`. One
    grouped query."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    cancelled = Q(status=AppointmentStatus.CANCELLED)
    rows = (
        Appointment.objects.filter(patient_id__in=ids, starts_at__lt=before)
        .values("patient_id")
        .annotate(
            due=Count("pk", filter=~cancelled | Q(is_late_cancellation=True)),
            arrivals=Count("pk", filter=Q(arrived_at__isnull=False)),
            late=Count("pk", filter=Q(arrived_at__gt=F("starts_at") + LATE_ARRIVAL)),
            no_shows=Count("pk", filter=Q(status=AppointmentStatus.NO_SHOW)),
            late_cancels=Count("pk", filter=cancelled & Q(is_late_cancellation=True)),
            cancels=Count("pk", filter=cancelled),
        )
        .order_by()
    )
    return {
        row["patient_id"]: PatientRecord(
            appointments=row["due"], arrivals=row["arrivals"], late_arrivals=row["late"],
            no_shows=row["no_shows"], late_cancellations=row["late_cancels"],
            cancellations=row["cancels"],
        )
        for row in rows
    }  # fmt: skip


def risk_of(appointment: Appointment, record: PatientRecord) -> Risk:
    lead = appointment.starts_at - appointment.created_at
    return no_show_risk(record.history, lead_days=lead.days, is_first_visit=record.arrivals == 0)


# --- the morning meeting ------------------------------------------------------------------
@dataclass
class MeetingRow:
    """One appointment as the meetings show it."""

    appointment: Appointment
    is_vip: bool
    expected_fee: Decimal
    risk: Risk
    is_first_visit: bool
    is_complex: bool
    is_birthday: bool
    lab_flags: list[CaseFlag] = field(default_factory=list)

    @property
    def is_unconfirmed(self) -> bool:
        return self.appointment.status == AppointmentStatus.BOOKED

    @property
    def materials(self) -> list[str]:
        """What must be ready besides a lab case: the equipment the procedure names."""
        return [str(code) for code in self.appointment.procedure.equipment_codes]

    @property
    def is_lab_ready(self) -> bool:
        return all(flag.is_back for flag in self.lab_flags)


@dataclass(frozen=True)
class Group:
    label: str
    rows: list[MeetingRow]


@dataclass(frozen=True)
class Balance:
    patient: Patient
    amount: Decimal


@dataclass(frozen=True)
class Unscheduled:
    """An accepted, not yet booked plan item of a patient coming today or of their family."""

    item: TreatmentItem
    patient: Patient
    relative_of: Patient | None  # the patient coming today whose phone they share


@dataclass(frozen=True)
class DayFigures:
    day: date
    production: Decimal
    collections: Decimal
    arrivals: int
    no_shows: int
    cancellations: int
    walk_ins: int
    new_patients: int
    conversions: int


@dataclass(frozen=True)
class Production:
    snapshot: DaySnapshot | None
    goal: Decimal | None

    @property
    def percent(self) -> int | None:
        if self.snapshot is None or not self.goal:
            return None
        return round(100 * self.snapshot.scheduled_production / self.goal)


@dataclass
class MorningMeeting:
    branch: Branch
    day: date
    rows: list[MeetingRow]
    by_doctor: list[Group]
    by_chair: list[Group]
    unscheduled: list[Unscheduled]
    yesterday: DayFigures
    production: Production
    balances: list[Balance] | None  # None: the reader may not see money
    # Appointments from the day to `lab_until` (LAB_LOOKAHEAD_DAYS on) with a case not back.
    lab_until: date
    lab_ahead: list[tuple[Appointment, list[CaseFlag]]]

    @property
    def vips(self) -> list[MeetingRow]:
        return [row for row in self.rows if row.is_vip]

    @property
    def complex_cases(self) -> list[MeetingRow]:
        return [row for row in self.rows if row.is_complex or row.lab_flags]

    @property
    def unconfirmed(self) -> list[MeetingRow]:
        return [row for row in self.rows if row.is_unconfirmed]

    @property
    def at_risk(self) -> list[MeetingRow]:
        risky = [row for row in self.rows if row.risk.is_high]
        return sorted(risky, key=lambda row: (-row.risk.score, row.appointment.starts_at))

    @property
    def birthdays(self) -> list[MeetingRow]:
        seen: set[int] = set()
        found = []
        for row in self.rows:
            if row.is_birthday and row.appointment.patient_id not in seen:
                seen.add(row.appointment.patient_id)
                found.append(row)
        return found


def _is_birthday(patient: Patient, day: date) -> bool:
    born = patient.birth_date
    if born is None:
        return False
    if (born.month, born.day) == (2, 29) and day.month == 2 and day.day == 28:
        return not _is_leap(day.year)  # 29 February birthdays are kept on the 28th
    return (born.month, born.day) == (day.month, day.day)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def meeting_rows(
    *, branch: Branch, day: date, now: datetime, appointments: list[Appointment]
) -> list[MeetingRow]:
    """The appointments with their risk (one query for every patient's record) and lab
    flags (the labs' one query)."""
    from chairtime.labs.selectors import flags_for_appointments

    start = day_bounds(branch, day).start
    records = patient_records({a.patient_id for a in appointments}, before=min(start, now))
    flags = flags_for_appointments([a.pk for a in appointments], today=today_of(branch, now))
    rows = []
    for appointment in appointments:
        record = records.get(appointment.patient_id, PatientRecord())
        rows.append(
            MeetingRow(
                appointment=appointment, is_vip=bool(getattr(appointment, "is_vip", False)),
                expected_fee=getattr(appointment, "expected_fee", ZERO),
                risk=risk_of(appointment, record), is_first_visit=record.arrivals == 0,
                is_complex=appointment.procedure.category in COMPLEX_CATEGORIES,
                is_birthday=_is_birthday(appointment.patient, day),
                lab_flags=flags.get(appointment.pk, []),
            )
        )  # fmt: skip
    return rows


def _group(rows: list[MeetingRow], key: Any, label: Any) -> list[Group]:
    groups: dict[Any, list[MeetingRow]] = {}
    labels: dict[Any, str] = {}
    for row in rows:
        groups.setdefault(key(row.appointment), []).append(row)
        labels[key(row.appointment)] = label(row.appointment)
    return [Group(labels[k], group) for k, group in groups.items()]


def get_morning_meeting(
    *, branch: Branch, day: date, now: datetime, with_money: bool
) -> MorningMeeting:
    """Everything the morning meeting shows for the branch's `day`."""
    from chairtime.labs.selectors import unready_appointments

    bounds = day_bounds(branch, day)
    lab_until = day + timedelta(days=LAB_LOOKAHEAD_DAYS)
    appointments = list_day_appointments(branch=branch, start=bounds.start, end=bounds.end)
    rows = meeting_rows(branch=branch, day=day, now=now, appointments=appointments)
    by_chair_order = sorted(
        rows, key=lambda r: (r.appointment.chair.sort_order, r.appointment.chair_id)
    )
    patient_ids = sorted({a.patient_id for a in appointments})
    goal = get_daily_goal(branch=branch)
    return MorningMeeting(
        branch=branch, day=day, rows=rows,
        by_doctor=_group(
            sorted(rows, key=lambda r: (str(r.appointment.doctor), r.appointment.doctor_id)),
            lambda a: a.doctor_id, lambda a: str(a.doctor),
        ),
        by_chair=_group(by_chair_order, lambda a: a.chair_id, lambda a: a.chair.name),
        unscheduled=list_unscheduled_for(branch=branch, patients=[a.patient for a in appointments]),
        yesterday=get_day_figures(branch=branch, day=day - timedelta(days=1)),
        production=Production(
            snapshot=get_snapshot(branch=branch, day=day),
            goal=goal.amount if goal is not None else None,
        ),
        balances=list_balances(branch=branch, patient_ids=patient_ids) if with_money else None,
        lab_until=lab_until,
        lab_ahead=unready_appointments(
            branch, start=bounds.start, end=day_bounds(branch, lab_until).end,
            today=today_of(branch, now),
        ),
    )  # fmt: skip


def list_balances(*, branch: Branch, patient_ids: Sequence[int]) -> list[Balance]:
    """What each patient owes on open invoices in the branch's currency (any branch of the
    organisation), largest first. One query."""
    if not patient_ids:
        return []
    rows = (
        Invoice.objects.filter(
            patient_id__in=patient_ids, status=InvoiceStatus.OPEN, currency=branch.currency,
            branch__organization_id=branch.organization_id, balance__gt=0,
        )
        .values("patient_id")
        .annotate(due=Sum("balance"))
        .order_by()
    )  # fmt: skip
    due = {row["patient_id"]: row["due"] for row in rows}
    patients = Patient.objects.in_bulk(list(due)) if due else {}
    found = [Balance(patients[pk], amount) for pk, amount in due.items() if pk in patients]
    return sorted(found, key=lambda b: (-b.amount, b.patient.display_name))


def list_family(*, organization_id: int, patients: Sequence[Patient]) -> dict[int, Patient]:
    """Other patients of the organisation sharing a phone number with one of `patients`
    (their family, as the front desk knows it): {relative id: the patient they relate to}.
    Three queries."""
    ids = {p.pk for p in patients}
    if not ids:
        return {}
    by_number: dict[str, int] = {}
    for patient_id, number in PatientPhone.objects.filter(patient_id__in=ids).values_list(
        "patient_id", "number"
    ):
        by_number.setdefault(number, patient_id)
    if not by_number:
        return {}
    # By number alone (its index): joined to the patients, SQLite's planner walks the
    # organisation's patients instead. The few candidates are then checked by key.
    matches = list(
        PatientPhone.objects.filter(number__in=list(by_number))
        .exclude(patient_id__in=ids)
        .values_list("patient_id", "number")
        .order_by("patient_id")
    )
    kept = set(
        Patient.objects.filter(
            pk__in={patient_id for patient_id, _number in matches},
            organization_id=organization_id, merged_into__isnull=True,
        ).values_list("pk", flat=True)
    )  # fmt: skip
    relatives: dict[int, int] = {}
    for patient_id, number in matches:
        if patient_id in kept:
            relatives.setdefault(patient_id, by_number[number])
    by_id = {p.pk: p for p in patients}
    return {relative: by_id[of] for relative, of in relatives.items()}


def list_unscheduled_for(*, branch: Branch, patients: Sequence[Patient]) -> list[Unscheduled]:
    """Accepted plan items not yet booked of today's patients and their family members."""
    unique = list({p.pk: p for p in patients}.values())
    family = list_family(organization_id=branch.organization_id, patients=unique)
    ids = [p.pk for p in unique] + list(family)
    if not ids:
        return []
    items = (
        TreatmentItem.objects.filter(
            status=ItemStatus.PLANNED, option__status=OptionStatus.ACCEPTED,
            option__plan__status__in=OPEN_PLAN_STATUSES, option__plan__patient_id__in=ids,
            option__plan__patient__organization_id=branch.organization_id,
        )
        .select_related("procedure", "option__plan__patient")
        .order_by("option__plan__patient_id", "option__plan_id", "phase", "position", "pk")
    )  # fmt: skip
    return [
        Unscheduled(
            item=item, patient=item.option.plan.patient,
            relative_of=family.get(item.option.plan.patient_id),
        )
        for item in items
    ]  # fmt: skip


def get_day_figures(*, branch: Branch, day: date) -> DayFigures:
    """A past day in numbers: production (procedures performed), collections (money
    received less refunds, prepaid-card redemptions left out), arrivals, no-shows,
    cancellations, walk-ins, new patients (their first arrival ever) and conversions (new
    patients who accepted a plan by now). Six queries."""
    bounds = day_bounds(branch, day)
    production = (
        PerformedProcedure.objects.filter(
            branch=branch, performed_at__gte=bounds.start, performed_at__lt=bounds.end
        ).aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    received = (
        Payment.objects.filter(branch=branch, received_on=day)
        .exclude(method=PaymentMethod.PREPAID_CARD)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    refunded = (
        Refund.objects.filter(branch=branch, refunded_on=day)
        .exclude(method=PaymentMethod.PREPAID_CARD)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    day_rows = Appointment.objects.filter(
        branch=branch, starts_at__gte=bounds.start, starts_at__lt=bounds.end
    )
    counts = day_rows.aggregate(
        arrivals=Count("pk", filter=Q(arrived_at__isnull=False)),
        no_shows=Count("pk", filter=Q(status=AppointmentStatus.NO_SHOW)),
        cancellations=Count("pk", filter=Q(status=AppointmentStatus.CANCELLED)),
        walk_ins=Count("pk", filter=Q(is_walk_in=True)),
    )
    earlier = Appointment.objects.filter(
        patient_id=OuterRef("patient_id"), arrived_at__isnull=False, starts_at__lt=bounds.start
    )
    new_ids = list(
        day_rows.filter(arrived_at__isnull=False)
        .exclude(Exists(earlier))
        .values_list("patient_id", flat=True)
        .order_by()
        .distinct()
    )
    conversions = (
        TreatmentPlan.objects.filter(patient_id__in=new_ids, accepted_at__gte=bounds.start)
        .values("patient_id")
        .order_by()
        .distinct()
        .count()
        if new_ids
        else 0
    )
    return DayFigures(
        day=day, production=production, collections=received - refunded,
        arrivals=counts["arrivals"], no_shows=counts["no_shows"],
        cancellations=counts["cancellations"], walk_ins=counts["walk_ins"],
        new_patients=len(new_ids), conversions=conversions,
    )  # fmt: skip


# --- the evening meeting ------------------------------------------------------------------
@dataclass(frozen=True)
class Gap:
    """Chair time an appointment released today that nothing took back."""

    appointment: Appointment
    chair: Chair
    starts_at: datetime
    ends_at: datetime

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


@dataclass(frozen=True)
class CareCount:
    kind: str
    label: str
    done: int
    left: int


@dataclass
class EveningMeeting:
    branch: Branch
    day: date
    snapshot: DaySnapshot | None
    booked_now: int
    figures: DayFigures
    late_cancellations: list[Appointment]
    no_shows: list[Appointment]
    walk_ins: list[Appointment]
    gaps: list[Gap]
    care: list[CareCount]
    tomorrow: date
    tomorrow_unconfirmed: list[MeetingRow]
    tomorrow_complex: list[MeetingRow]
    tomorrow_lab: list[tuple[Appointment, list[CaseFlag]]]

    @property
    def unfilled_minutes(self) -> int:
        return sum(gap.minutes for gap in self.gaps)


def _subtract(
    interval: tuple[datetime, datetime], taken: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """What is left of `interval` once every interval of `taken` is removed."""
    pieces = [interval]
    for start, end in taken:
        pieces = [
            part
            for piece_start, piece_end in pieces
            for part in ((piece_start, min(piece_end, start)), (max(piece_start, end), piece_end))
            if part[0] < part[1]
        ]
    return pieces


def list_gaps(appointments: list[Appointment], *, until: datetime | None = None) -> list[Gap]:
    """Chair time released (cancelled or missed) that no active appointment of the same
    chair covers now; pieces of one appointment merged as one gap each."""
    active: dict[int, list[tuple[datetime, datetime]]] = {}
    for a in appointments:
        if a.status not in RELEASED_STATUSES:
            active.setdefault(a.chair_id, []).append((a.starts_at, a.ends_at))
    gaps: list[Gap] = []
    freed: dict[int, list[tuple[datetime, datetime]]] = {}
    for a in appointments:
        if a.status not in RELEASED_STATUSES:
            continue
        # Two released appointments of one chair at one time free it once.
        already = freed.setdefault(a.chair_id, [])
        pieces = _subtract((a.starts_at, a.ends_at), active.get(a.chair_id, []) + already)
        already.append((a.starts_at, a.ends_at))
        gaps.extend(Gap(a, a.chair, start, end) for start, end in pieces)
    return gaps


def _care_counts(*, branch: Branch, start: datetime, end: datetime) -> list[CareCount]:
    """Care tasks done today and left (open and due by the end of today), per kind."""
    from chairtime.care.choices import TaskKind, TaskStatus
    from chairtime.care.models import CareTask

    done = dict(
        CareTask.objects.filter(
            branch=branch, status=TaskStatus.DONE, closed_at__gte=start, closed_at__lt=end
        )
        .values_list("kind")
        .annotate(count=Count("pk"))
        .order_by()
    )
    left = dict(
        CareTask.objects.filter(branch=branch, status=TaskStatus.OPEN, next_attempt_at__lt=end)
        .values_list("kind")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return [
        CareCount(kind, str(TaskKind(kind).label), done.get(kind, 0), left.get(kind, 0))
        for kind in TaskKind.values
        if done.get(kind) or left.get(kind)
    ]


def get_evening_meeting(*, branch: Branch, day: date, now: datetime) -> EveningMeeting:
    """What happened on `day` against the morning, the care calls done and left, and
    tomorrow's readiness."""
    from chairtime.labs.selectors import unready_appointments

    bounds = day_bounds(branch, day)
    appointments = list_day_appointments(
        branch=branch, start=bounds.start, end=bounds.end, include_released=True
    )
    tomorrow = day + timedelta(days=1)
    next_bounds = day_bounds(branch, tomorrow)
    next_appointments = list_day_appointments(
        branch=branch, start=next_bounds.start, end=next_bounds.end
    )
    next_rows = meeting_rows(branch=branch, day=tomorrow, now=now, appointments=next_appointments)
    return EveningMeeting(
        branch=branch, day=day, snapshot=get_snapshot(branch=branch, day=day),
        booked_now=sum(1 for a in appointments if a.status not in RELEASED_STATUSES),
        figures=get_day_figures(branch=branch, day=day),
        late_cancellations=[
            a for a in appointments
            if a.status == AppointmentStatus.CANCELLED and a.is_late_cancellation
        ],
        no_shows=[a for a in appointments if a.status == AppointmentStatus.NO_SHOW],
        walk_ins=[a for a in appointments if a.is_walk_in],
        gaps=list_gaps(appointments),
        care=_care_counts(branch=branch, start=bounds.start, end=bounds.end),
        tomorrow=tomorrow,
        tomorrow_unconfirmed=[row for row in next_rows if row.is_unconfirmed],
        tomorrow_complex=[row for row in next_rows if row.is_complex],
        tomorrow_lab=unready_appointments(
            branch, start=next_bounds.start, end=next_bounds.end, today=today_of(branch, now)
        ),
    )  # fmt: skip


# --- the no-shows and cancellations report ------------------------------------------------
@dataclass
class ReleasedRow:
    appointment: Appointment
    record: PatientRecord
    no_shows_in_year: int  # the patient's no-shows in the 12 months up to this one
    follow_up: CareTask | None
    fee: NoShowFee | None
    fee_due: Decimal | None  # the rule's fee when it applies and none was charged yet


@dataclass
class NoShowReport:
    branch: Branch
    day: date
    rows: list[ReleasedRow]
    rule: NoShowFeeRule | None

    @property
    def no_shows(self) -> list[ReleasedRow]:
        return [r for r in self.rows if r.appointment.status == AppointmentStatus.NO_SHOW]

    @property
    def cancellations(self) -> list[ReleasedRow]:
        return [r for r in self.rows if r.appointment.status == AppointmentStatus.CANCELLED]


def fee_applies(
    rule: NoShowFeeRule | None, appointment: Appointment, no_shows_in_year: int
) -> bool:
    """Whether the branch's rule charges for this missed appointment."""
    return (
        rule is not None and rule.is_enabled and rule.amount > 0
        and appointment.status == AppointmentStatus.NO_SHOW
        and no_shows_in_year >= rule.from_count
    )  # fmt: skip


def count_no_shows_in_year(appointment: Appointment) -> int:
    """The patient's no-shows in the twelve months up to and including this appointment."""
    return Appointment.objects.filter(
        patient_id=appointment.patient_id, status=AppointmentStatus.NO_SHOW,
        starts_at__gt=appointment.starts_at - FEE_WINDOW, starts_at__lte=appointment.starts_at,
    ).count()  # fmt: skip


def _follow_ups(appointment_ids: list[int]) -> dict[int, CareTask]:
    from chairtime.care.selectors import no_show_follow_ups  # care contract 3

    return no_show_follow_ups(appointment_ids) if appointment_ids else {}


def get_no_show_report(*, branch: Branch, day: date) -> NoShowReport:
    """The day's no-shows and cancellations with each patient's record, the follow-up call,
    and the fee (charged, or due by the branch's rule)."""
    bounds = day_bounds(branch, day)
    released = list(
        Appointment.objects.filter(
            branch=branch, starts_at__gte=bounds.start, starts_at__lt=bounds.end,
            status__in=RELEASED_STATUSES,
        )
        .select_related("patient", "procedure", "doctor", "chair")
        .order_by("status", "starts_at", "pk")
    )  # fmt: skip
    patient_ids = {a.patient_id for a in released}
    records = patient_records(patient_ids, before=bounds.end)
    missed: dict[int, list[datetime]] = {}
    for patient_id, starts_at in Appointment.objects.filter(
        patient_id__in=patient_ids, status=AppointmentStatus.NO_SHOW,
        starts_at__gt=bounds.start - FEE_WINDOW, starts_at__lt=bounds.end,
    ).values_list("patient_id", "starts_at"):  # fmt: skip
        missed.setdefault(patient_id, []).append(starts_at)
    fees = {f.appointment_id: f for f in NoShowFee.objects.filter(appointment__in=released)}
    follow_ups = _follow_ups([a.pk for a in released])
    rule = get_fee_rule(branch=branch)
    rows = []
    for a in released:
        in_year = sum(
            1 for at in missed.get(a.patient_id, []) if a.starts_at - FEE_WINDOW < at <= a.starts_at
        )
        fee = fees.get(a.pk)
        due = rule.amount if rule and fee is None and fee_applies(rule, a, in_year) else None
        rows.append(
            ReleasedRow(
                appointment=a, record=records.get(a.patient_id, PatientRecord()),
                no_shows_in_year=in_year, follow_up=follow_ups.get(a.pk), fee=fee, fee_due=due,
            )
        )  # fmt: skip
    return NoShowReport(branch=branch, day=day, rows=rows, rule=rule)
