"""Reads of the appointment book: resources, the day and week views, the slot finder."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.clinical.models import Procedure
from chairtime.engine.openings import find_openings
from chairtime.engine.types import Interval, Opening, SlotRequest, TimePreference
from chairtime.patients.choices import PreferredTime
from chairtime.patients.models import MedicalAlert, Patient, PatientPhone
from chairtime.scheduling.calendars import MARGIN, ScheduleScope, load_schedule
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.scheduling.models import (
    Appointment,
    Chair,
    DoctorProcedureDuration,
    WorkingHours,
)
from chairtime.scheduling.services import buffer_for, equipment_for
from chairtime.tenancy.models import Branch, Membership, OpeningHours
from chairtime.tenancy.roles import Role

# How much of the book one slot search reads at a time: a busy book usually has the
# openings asked for within days, so it starts small and doubles until it has enough.
FIRST_CHUNK = timedelta(days=2)
LARGEST_CHUNK = timedelta(days=28)
WEEKDAYS = frozenset(range(5))
PREFERENCE_WINDOWS: dict[str, TimePreference] = {
    PreferredTime.WEEKDAY_MORNINGS: TimePreference(WEEKDAYS, time(7), time(12)),
    PreferredTime.WEEKDAY_AFTERNOONS: TimePreference(WEEKDAYS, time(12), time(17)),
    PreferredTime.WEEKDAY_EVENINGS: TimePreference(WEEKDAYS, time(17), time(21, 30)),
    PreferredTime.WEEKENDS: TimePreference(frozenset({5, 6}), time(7), time(21, 30)),
}


# --- resources -----------------------------------------------------------------------------
def _staff_with_role(branch: Branch, role: Role) -> QuerySet[User]:
    members = Membership.objects.filter(organization_id=branch.organization_id, role=role).filter(
        Q(branch=branch) | Q(branch__isnull=True)
    )
    working = WorkingHours.objects.filter(branch=branch).values("staff_id")
    return (
        User.objects.filter(is_active=True, pk__in=members.values("user_id"))
        .filter(pk__in=working)
        .select_related("staff_profile")
        .order_by("last_name", "first_name", "pk")
    )


def list_branch_doctors(*, branch: Branch) -> QuerySet[User]:
    """Doctors who work in the branch (a role there and working hours there)."""
    return _staff_with_role(branch, Role.DOCTOR)


def list_branch_assistants(*, branch: Branch) -> QuerySet[User]:
    return _staff_with_role(branch, Role.NURSE)


def list_qualified_doctors(*, branch: Branch, procedure: Procedure) -> list[User]:
    """The branch's doctors qualified for the procedure's category (a short list: the
    qualification is a JSON list on the profile, filtered here the same on every database)."""
    return [d for d in list_branch_doctors(branch=branch) if procedure.category in _categories(d)]


def _categories(user: User) -> list[str]:
    profile = getattr(user, "staff_profile", None)
    return list(profile.procedure_categories) if profile is not None else []


@dataclass(frozen=True)
class StaffRow:
    user: User
    roles: list[str]


def list_branch_staff(*, branch: Branch) -> list[StaffRow]:
    """Everyone who works in the branch, directly or organisation-wide, with their roles."""
    memberships = Membership.objects.filter(organization_id=branch.organization_id).filter(
        Q(branch=branch) | Q(branch__isnull=True)
    )
    by_user: dict[int, list[str]] = {}
    for user_id, role in memberships.values_list("user_id", "role"):
        by_user.setdefault(user_id, []).append(str(Role(role).label))
    users = (
        User.objects.filter(pk__in=by_user)
        .select_related("staff_profile")
        .order_by("last_name", "first_name")
    )
    return [StaffRow(user=user, roles=sorted(by_user[user.pk])) for user in users]


def list_chairs(*, branch: Branch) -> QuerySet[Chair]:
    return Chair.objects.filter(branch=branch)


def list_opening_hours(*, branch: Branch) -> QuerySet[OpeningHours]:
    return OpeningHours.objects.filter(branch=branch)


# --- the day and the week ----------------------------------------------------------------
def day_bounds(branch: Branch, day: date) -> Interval:
    """The branch's local day as an instant range (23 or 25 hours on a DST day)."""
    start = datetime.combine(day, time(0), tzinfo=branch.zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=branch.zone)
    return Interval(start, end)


def list_appointments(
    *, branch: Branch, start: datetime, end: datetime, include_released: bool = True
) -> QuerySet[Appointment]:
    rows = Appointment.objects.filter(branch=branch, starts_at__lt=end, ends_at__gt=start)
    if not include_released:
        rows = rows.exclude(status__in=RELEASED_STATUSES)
    return rows.select_related(
        "patient", "procedure", "doctor", "doctor__staff_profile", "assistant", "chair"
    ).order_by("starts_at", "chair__sort_order", "pk")


def search_appointments(
    *,
    branch: Branch,
    day: date | None = None,
    doctor_id: int | None = None,
    chair_id: int | None = None,
    patient_id: int | None = None,
) -> QuerySet[Appointment]:
    """The branch's appointments on a local day and/or of a doctor, chair or patient."""
    if day is not None:
        bounds = day_bounds(branch, day)
        rows = list_appointments(branch=branch, start=bounds.start, end=bounds.end)
    else:
        rows = Appointment.objects.filter(branch=branch).order_by("starts_at", "pk")
    wanted = {"doctor_id": doctor_id, "chair_id": chair_id, "patient_id": patient_id}
    rows = rows.filter(**{field: value for field, value in wanted.items() if value is not None})
    return rows.select_related(
        "branch", "patient", "procedure", "doctor", "chair"
    ).prefetch_related("equipment")


# --- the slot finder ---------------------------------------------------------------------
@dataclass(frozen=True)
class SlotQuery:
    procedure: Procedure
    doctor: User | None = None  # None: any qualified doctor
    patient: Patient | None = None
    earliest: datetime | None = None
    preferences: tuple[str, ...] | None = None  # PreferredTime values; None: the patient's
    limit: int = 10
    ignore: int | None = None  # the appointment being moved: its own time counts as free


@dataclass(frozen=True)
class Slot:
    opening: Opening
    doctor: User
    chair: Chair
    assistant: User | None


def preference_windows(values: Iterable[str]) -> tuple[TimePreference, ...]:
    return tuple(PREFERENCE_WINDOWS[v] for v in values if v in PREFERENCE_WINDOWS)


def find_slots(*, branch: Branch, query: SlotQuery, now: datetime | None = None) -> list[Slot]:
    """The next openings for a procedure, the patient's preferred doctor and times first."""
    now = now or timezone.now()
    doctors = _candidate_doctors(branch, query)
    if not doctors:
        return []
    chairs = list(Chair.objects.filter(branch=branch, is_active=True).order_by("sort_order", "pk"))
    assistants = (
        list(list_branch_assistants(branch=branch)) if query.procedure.needs_assistant else []
    )
    request = _slot_request(branch, query, doctors, chairs, assistants, now)
    openings = _search(
        branch, request, doctors, assistants, chairs, query.patient, now, query.ignore
    )
    users = {u.pk: u for u in [*doctors, *assistants]}
    chair_by_id = {c.pk: c for c in chairs}
    return [
        Slot(
            o,
            users[o.doctor],
            chair_by_id[o.chair],
            users.get(o.assistant) if o.assistant else None,
        )
        for o in openings
    ]


def _candidate_doctors(branch: Branch, query: SlotQuery) -> list[User]:
    qualified = list_qualified_doctors(branch=branch, procedure=query.procedure)
    if query.doctor is not None:
        return [d for d in qualified if d.pk == query.doctor.pk]
    preferred = query.patient.preferred_doctor_id if query.patient else None
    return sorted(qualified, key=lambda d: d.pk != preferred)  # stable: preferred first


def _slot_request(
    branch: Branch,
    query: SlotQuery,
    doctors: Sequence[User],
    chairs: Sequence[Chair],
    assistants: Sequence[User],
    now: datetime,
) -> SlotRequest:
    durations = {
        doctor_id: timedelta(minutes=minutes)
        for doctor_id, minutes in DoctorProcedureDuration.objects.filter(
            procedure=query.procedure, doctor__in=doctors
        ).values_list("doctor_id", "minutes")
    }
    wanted = query.preferences
    if wanted is None:
        wanted = tuple(query.patient.preferred_times) if query.patient else ()
    return SlotRequest(
        duration=timedelta(minutes=query.procedure.default_duration_minutes),
        buffer=buffer_for(query.procedure),
        doctors=tuple(d.pk for d in doctors),
        chairs=tuple(c.pk for c in chairs),
        assistants=tuple(a.pk for a in assistants),
        equipment=tuple(e.pk for e in equipment_for(branch, query.procedure)),
        patient=query.patient.pk if query.patient else None,
        durations=durations,
        preferences=preference_windows(wanted),
        earliest=max(query.earliest or now, now),
        latest=now + timedelta(days=branch.booking_horizon_days),
        limit=query.limit,
    )


def _search(
    branch: Branch,
    request: SlotRequest,
    doctors: Sequence[User],
    assistants: Sequence[User],
    chairs: Sequence[Chair],
    patient: Patient | None,
    now: datetime,
    ignore: int | None = None,
) -> list[Opening]:
    """Read the book a chunk at a time until enough openings are found or the horizon ends."""
    scope = ScheduleScope(
        doctors=[d.pk for d in doctors],
        assistants=[a.pk for a in assistants],
        chairs=[c.pk for c in chairs],
        patients=[patient.pk] if patient else [],
    )
    found: list[Opening] = []
    start, chunk_size = request.earliest, FIRST_CHUNK
    while start < request.latest and len(found) < request.limit:
        end = min(start + chunk_size, request.latest)
        chunk_size = min(chunk_size * 2, LARGEST_CHUNK)
        schedule = load_schedule(branch, Interval(start, end + MARGIN), scope)
        # Both bounds are inclusive: a chunk short of the horizon stops just before the
        # next chunk's first instant, so an opening on the boundary is found once.
        latest = end if end == request.latest else end - timedelta(microseconds=1)
        chunk = replace(request, earliest=start, latest=latest, limit=request.limit - len(found))
        found.extend(find_openings(schedule, chunk, now=now, ignore_booking=ignore))
        start = end
    return found


# --- the calendar pages (day view, week view, day sheet) ---------------------------------
# There is no customer group yet: a patient carrying the tag "VIP" (any case) is shown
# with the VIP marker on the calendar pages until groups exist.
VIP_TAG = "VIP"


def _with_vip(rows: QuerySet[Appointment]) -> QuerySet[Appointment]:
    vip = Patient.tags.through.objects.filter(
        patient_id=OuterRef("patient_id"), tag__name__iexact=VIP_TAG
    )
    return rows.annotate(is_vip=Exists(vip))


def list_book_appointments(
    *, branch: Branch, start: datetime, end: datetime, doctor: User | None = None
) -> QuerySet[Appointment]:
    """Every appointment (cancelled ones too) meeting [start, end), in one query: patient,
    procedure, doctor with their calendar colour, chair, and whether the patient is a VIP."""
    rows = list_appointments(branch=branch, start=start, end=end)
    if doctor is not None:
        rows = rows.filter(doctor=doctor)
    return _with_vip(rows)


def list_day_sheet(*, branch: Branch, start: datetime, end: datetime) -> QuerySet[Appointment]:
    """The printable day sheet: active appointments with the patient's primary phone and
    the number of their active medical alerts (one query, plus one for the phones)."""
    alerts = (
        MedicalAlert.objects.filter(patient_id=OuterRef("patient_id"), is_active=True)
        .order_by()
        .values("patient_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    rows = list_appointments(branch=branch, start=start, end=end, include_released=False)
    return rows.annotate(alert_count=Coalesce(Subquery(alerts), 0)).prefetch_related(
        Prefetch(
            "patient__phones",
            queryset=PatientPhone.objects.filter(is_primary=True),
            to_attr="primary_phones",
        )
    )


def list_working_doctors(*, branch: Branch, weekday: int) -> QuerySet[User]:
    """The branch's doctors with working hours on the weekday (0 = Monday)."""
    working = WorkingHours.objects.filter(branch=branch, weekday=weekday).values("staff_id")
    return list_branch_doctors(branch=branch).filter(pk__in=working)


def is_vip(patient: Patient) -> bool:
    """Whether the patient carries the VIP tag (see VIP_TAG)."""
    return patient.tags.filter(name__iexact=VIP_TAG).exists()
