"""Writes to the appointment book: book, move, cancel, and each step of the visit.

Every write runs in one transaction that first locks the resources it touches (in one
fixed order, so two bookings cannot deadlock), then asks the engine whether the change is
allowed, then writes the row and its audit event. The database's own no-overlap rule
(migration 0003) stands behind it: a race that gets past the check still cannot commit
a double booking, and is reported as the same conflict.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import StaffProfile, User
from chairtime.accounts.services import hash_token
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.clinical.models import CleaningBuffer, Procedure
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.engine.checks import check_proposal
from chairtime.engine.types import (
    Interval,
    Problem,
    ProblemCode,
    Proposal,
    assistant_key,
    chair_key,
    doctor_key,
    equipment_key,
    patient_key,
)
from chairtime.patients.models import Patient
from chairtime.scheduling.calendars import ScheduleScope, load_schedule, window_around
from chairtime.scheduling.choices import AppointmentStatus, CancelledBy
from chairtime.scheduling.models import (
    Appointment,
    AppointmentSeries,
    CalendarFeedToken,
    Chair,
    DoctorProcedureDuration,
    Equipment,
)
from chairtime.scheduling.problems import describe_problem
from chairtime.scheduling.signals import appointment_released
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.models import Branch, Membership
from chairtime.tenancy.roles import Capability, Role

S = AppointmentStatus
LATE_CANCELLATION = timedelta(hours=24)
# Which statuses each transition may start from.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "confirm": frozenset({S.BOOKED}),
    "arrive": frozenset({S.BOOKED, S.CONFIRMED}),
    "seat": frozenset({S.ARRIVED}),
    "complete": frozenset({S.SEATED}),
    "no_show": frozenset({S.BOOKED, S.CONFIRMED}),
    "cancel": frozenset({S.BOOKED, S.CONFIRMED, S.ARRIVED}),
    "reschedule": frozenset({S.BOOKED, S.CONFIRMED}),
}
OVERLAP_CODES = frozenset({ProblemCode.OVERLAP, ProblemCode.BUFFER, ProblemCode.CAPACITY})


@dataclass(frozen=True)
class BookingRequest:
    """What the front desk asks for: who, what, with whom, where, when."""

    patient: Patient
    procedure: Procedure
    doctor: User
    chair: Chair
    starts_at: datetime
    assistant: User | None = None
    notes: str = ""
    overbook: bool = False  # book even if taken: needs the schedule.overbook capability


# --- rules about the request itself (references, qualification) --------------------------
def _check_references(branch: Branch, request: BookingRequest) -> None:
    errors: dict[str, list[str]] = {}
    if request.patient.organization_id != branch.organization_id:
        errors["patient"] = [_("No such patient.")]
    if request.chair.branch_id != branch.pk or not request.chair.is_active:
        errors["chair"] = [_("This chair is not in this branch.")]
    if (
        request.procedure.organization_id != branch.organization_id
        or not request.procedure.is_active
    ):
        errors["procedure"] = [_("No such procedure.")]
    if not _works_here(request.doctor, branch, Role.DOCTOR):
        errors["doctor"] = [_("This doctor does not work in this branch.")]
    elif not _is_qualified(request.doctor, request.procedure):
        errors["doctor"] = [_("This doctor is not qualified for this procedure.")]
    if request.procedure.needs_assistant and request.assistant is None:
        errors["assistant"] = [_("This procedure needs an assistant.")]
    if request.assistant is not None and not _works_here(request.assistant, branch, Role.NURSE):
        errors["assistant"] = [_("This assistant does not work in this branch.")]
    if request.starts_at.tzinfo is None:
        errors["starts_at"] = [_("Give the time with its time zone.")]
    if errors:
        raise InvalidInput(errors)


def _works_here(user: User, branch: Branch, role: Role) -> bool:
    return (
        Membership.objects.filter(user=user, organization_id=branch.organization_id, role=role)
        .filter(Q(branch=branch) | Q(branch__isnull=True))
        .exists()
    )


def _is_qualified(doctor: User, procedure: Procedure) -> bool:
    categories = (
        StaffProfile.objects.filter(user=doctor)
        .values_list("procedure_categories", flat=True)
        .first()
    )
    return procedure.category in (categories or [])


def duration_for(doctor: User, procedure: Procedure) -> timedelta:
    """The doctor's own duration for the procedure, or the catalogue's."""
    minutes = (
        DoctorProcedureDuration.objects.filter(doctor=doctor, procedure=procedure)
        .values_list("minutes", flat=True)
        .first()
    )
    return timedelta(minutes=minutes or procedure.default_duration_minutes)


def buffer_for(procedure: Procedure) -> timedelta:
    minutes = (
        CleaningBuffer.objects.filter(
            organization_id=procedure.organization_id, category=procedure.category
        )
        .values_list("minutes", flat=True)
        .first()
    )
    return timedelta(
        minutes=CleaningBuffer.default_minutes(procedure.category) if minutes is None else minutes
    )


def equipment_for(branch: Branch, procedure: Procedure) -> list[Equipment]:
    """The branch's equipment the procedure needs; a missing piece is a clear refusal."""
    codes = list(procedure.equipment_codes or [])
    found = list(Equipment.objects.filter(branch=branch, code__in=codes).order_by("pk"))
    missing = set(codes) - {e.code for e in found}
    if missing:
        raise InvalidInput.on(
            "procedure",
            _("This branch has no %(equipment)s for this procedure.")
            % {"equipment": ", ".join(sorted(missing))},
        )
    return found


# --- locking and checking ----------------------------------------------------------------
def _lock(request: BookingRequest, equipment: list[Equipment]) -> None:
    """Row locks in a fixed order (chair, staff, patient, equipment) so concurrent bookings
    of the same resources queue instead of racing, and never deadlock; SQLite's IMMEDIATE
    transactions already serialize every write."""
    staff = sorted(u.pk for u in (request.doctor, request.assistant) if u is not None)
    for rows in (
        Chair.objects.filter(pk=request.chair.pk),
        User.objects.filter(pk__in=staff),
        Patient.objects.filter(pk=request.patient.pk),
        Equipment.objects.filter(pk__in=[e.pk for e in equipment]),
    ):
        list(rows.select_for_update().order_by("pk").values_list("pk", flat=True))


def _proposal(
    request: BookingRequest, equipment: list[Equipment], ignore: int | None = None
) -> Proposal:
    ends_at = request.starts_at + duration_for(request.doctor, request.procedure)
    keys = {
        doctor_key(request.doctor.pk),
        chair_key(request.chair.pk),
        patient_key(request.patient.pk),
    }
    if request.assistant is not None:
        keys.add(assistant_key(request.assistant.pk))
    keys.update(equipment_key(e.pk) for e in equipment)
    return Proposal(
        interval=Interval(request.starts_at, ends_at),
        blocked_until=ends_at + buffer_for(request.procedure),
        resources=frozenset(keys),
        ignore_booking=ignore,
    )


def _problems(
    branch: Branch, proposal: Proposal, request: BookingRequest, now: datetime
) -> list[Problem]:
    scope = ScheduleScope(
        doctors=[request.doctor.pk],
        assistants=[request.assistant.pk] if request.assistant else [],
        chairs=[request.chair.pk],
        patients=[request.patient.pk],
    )
    schedule = load_schedule(
        branch, window_around(proposal.interval.start, proposal.blocked_until), scope
    )
    horizon_end = now + timedelta(days=branch.booking_horizon_days)
    return check_proposal(schedule, proposal, now=now, horizon_end=horizon_end)


def _refuse(problems: list[Problem], overbook: bool) -> bool:
    """Raise for problems that forbid the booking; returns whether it is an overbooking."""
    blocking = [p for p in problems if not (overbook and p.code in OVERLAP_CODES)]
    if blocking:
        messages = [describe_problem(p) for p in blocking]
        field = "starts_at"
        if all(p.code in OVERLAP_CODES for p in blocking):
            raise Conflict({field: messages})
        raise InvalidInput({field: messages})
    return bool(problems)


def _save(appointment: Appointment) -> None:
    """Save, turning the database's no-overlap refusal into the same conflict message."""
    try:
        with transaction.atomic():
            appointment.save()
    except IntegrityError as error:
        if "_overlap" not in str(error):
            raise
        raise Conflict.on("starts_at", _("This time was just taken by another booking.")) from None


# --- booking ----------------------------------------------------------------------------
@transaction.atomic
def book_appointment(
    *,
    actor: User,
    branch: Branch,
    request: BookingRequest,
    can_overbook: bool = False,
    is_walk_in: bool = False,
    series: AppointmentSeries | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book one appointment, or refuse with every reason (a 409 conflict when taken)."""
    now = now or timezone.now()
    _check_references(branch, request)
    if request.overbook and not can_overbook:
        raise InvalidInput.on("overbook", _("You may not overbook."))
    equipment = equipment_for(branch, request.procedure)
    _lock(request, equipment)
    proposal = _proposal(request, equipment)
    is_overbooked = _refuse(_problems(branch, proposal, request, now), request.overbook)
    appointment = Appointment(
        branch=branch, patient=request.patient, procedure=request.procedure,
        doctor=request.doctor, assistant=request.assistant, chair=request.chair,
        starts_at=proposal.interval.start, ends_at=proposal.interval.end,
        blocked_until=proposal.blocked_until, is_walk_in=is_walk_in,
        is_overbooked=is_overbooked, booked_by=actor, notes=request.notes, series=series,
    )  # fmt: skip
    _save(appointment)
    appointment.equipment.set(equipment)
    record_event(
        actor=actor, action=AuditAction.CREATE, target=appointment,
        patient_id=request.patient.pk, organization_id=branch.organization_id,
        summary=_summary(appointment),
        changes={"starts_at": (None, appointment.starts_at), "status": (None, appointment.status),
                 "overbooked": (None, is_overbooked)},
    )  # fmt: skip
    return appointment


@transaction.atomic
def book_walk_in(
    *, actor: User, branch: Branch, request: BookingRequest, now: datetime | None = None
) -> Appointment:
    """A patient who came without an appointment: booked from now and marked arrived."""
    now = now or timezone.now()
    starts_at = now.replace(second=0, microsecond=0)
    appointment = book_appointment(
        actor=actor, branch=branch, request=replace(request, starts_at=starts_at),
        is_walk_in=True, now=starts_at,
    )  # fmt: skip
    return arrive_appointment(actor=actor, appointment=appointment, now=now)


@transaction.atomic
def book_series(
    *,
    actor: User,
    branch: Branch,
    request: BookingRequest,
    interval_days: int,
    count: int,
    now: datetime | None = None,
) -> list[Appointment]:
    """Book `count` appointments every `interval_days` at the same wall-clock time, all or
    nothing: the first occurrence that cannot be booked refuses the whole series."""
    if not 1 <= interval_days <= 366:
        raise InvalidInput.on("interval_days", _("Give an interval between 1 and 366 days."))
    if not 2 <= count <= 52:
        raise InvalidInput.on("count", _("Give between 2 and 52 occurrences."))
    if request.starts_at.tzinfo is None:  # before localtime() below turns it into a crash
        raise InvalidInput.on("starts_at", _("Give the time with its time zone."))
    series = AppointmentSeries.objects.create(
        branch=branch, interval_days=interval_days, count=count
    )
    local_start = timezone.localtime(request.starts_at, branch.zone)
    booked = []
    for index in range(count):
        # Same wall-clock time each occurrence, across daylight-saving changes.
        naive = local_start.replace(tzinfo=None) + timedelta(days=interval_days * index)
        starts_at = naive.replace(tzinfo=branch.zone)
        try:
            booked.append(
                book_appointment(
                    actor=actor,
                    branch=branch,
                    request=replace(request, starts_at=starts_at),
                    series=series,
                    now=now,
                )
            )
        except InvalidInput as error:
            when = starts_at.astimezone(branch.zone).strftime("%Y-%m-%d %H:%M")
            prefix = _("Occurrence %(number)s (%(when)s): ") % {"number": index + 1, "when": when}
            errors = {
                field: [prefix + m for m in messages] for field, messages in error.errors.items()
            }
            raise type(error)(errors) from None
    return booked


@transaction.atomic
def reschedule_appointment(
    *,
    actor: User,
    appointment: Appointment,
    starts_at: datetime,
    chair: Chair | None = None,
    doctor: User | None = None,
    can_overbook: bool = False,
    overbook: bool = False,
    now: datetime | None = None,
) -> Appointment:
    """Move an appointment (time, and optionally chair or doctor); it needs confirming again."""
    now = now or timezone.now()
    locked = _locked(appointment, "reschedule")
    request = BookingRequest(
        patient=locked.patient, procedure=locked.procedure, doctor=doctor or locked.doctor,
        chair=chair or locked.chair, starts_at=starts_at, assistant=locked.assistant,
        overbook=overbook,
    )  # fmt: skip
    _check_references(locked.branch, request)
    if overbook and not can_overbook:
        raise InvalidInput.on("overbook", _("You may not overbook."))
    equipment = equipment_for(locked.branch, locked.procedure)
    _lock(request, equipment)
    proposal = _proposal(request, equipment, ignore=locked.pk)
    is_overbooked = _refuse(_problems(locked.branch, proposal, request, now), overbook)
    before = (locked.starts_at, locked.chair_id, locked.doctor_id, locked.status)
    freed = (locked.starts_at, locked.ends_at)
    locked.starts_at, locked.ends_at = proposal.interval.start, proposal.interval.end
    locked.blocked_until, locked.chair, locked.doctor = (
        proposal.blocked_until,
        request.chair,
        request.doctor,
    )
    locked.is_overbooked = is_overbooked
    locked.status, locked.confirmed_at = S.BOOKED, None
    locked.rescheduled_count += 1
    _save(locked)
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=locked, patient_id=locked.patient_id,
        organization_id=locked.branch.organization_id, summary=_summary(locked),
        changes={"starts_at": (before[0], locked.starts_at), "chair": (before[1], locked.chair_id),
                 "doctor": (before[2], locked.doctor_id), "status": (before[3], locked.status)},
    )  # fmt: skip
    _announce_release(
        locked, "rescheduled", chair_id=before[1], doctor_id=before[2], interval=freed
    )
    return locked


# --- the visit, step by step --------------------------------------------------------------
def _locked(appointment: Appointment, transition: str) -> Appointment:
    locked = (
        # of=self: lock the appointment only; PostgreSQL refuses FOR UPDATE on the
        # nullable side of the outer join to the assistant.
        Appointment.objects.select_for_update(of=("self",))
        .select_related("branch", "patient", "procedure", "doctor", "chair", "assistant")
        .get(pk=appointment.pk)
    )
    if locked.status not in ALLOWED_FROM[transition]:
        raise InvalidInput.on(
            "status",
            _("The appointment is “%(status)s”, so it cannot be %(action)s.")
            % {"status": locked.get_status_display(), "action": _transition_label(transition)},
        )
    return locked


def _transition_label(transition: str) -> str:
    labels = {
        "confirm": _("confirmed"),
        "arrive": _("marked arrived"),
        "seat": _("seated"),
        "complete": _("completed"),
        "no_show": _("marked as a no-show"),
        "cancel": _("cancelled"),
        "reschedule": _("moved"),
    }
    return labels[transition]


def _transition(
    actor: User | None,
    appointment: Appointment,
    transition: str,
    status: str,
    stamp: str,
    now: datetime | None,
    extra: Callable[[Appointment, datetime], None] | None = None,
    by: str = "",
) -> Appointment:
    now = now or timezone.now()
    locked = _locked(appointment, transition)
    before = locked.status
    locked.status = status
    setattr(locked, stamp, now)
    if extra is not None:
        extra(locked, now)
    locked.save()
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=locked, patient_id=locked.patient_id,
        organization_id=locked.branch.organization_id,
        summary=_summary(locked) + (f" · {by}" if by else ""), changes={"status": (before, status)},
    )  # fmt: skip
    return locked


@transaction.atomic
def confirm_appointment(
    *, actor: User | None, appointment: Appointment, now: datetime | None = None, by: str = ""
) -> Appointment:
    """`actor` None: the patient confirmed (a reply, the confirmation link); `by` says how,
    in the audit event's summary."""
    return _transition(actor, appointment, "confirm", S.CONFIRMED, "confirmed_at", now, by=by)


@transaction.atomic
def arrive_appointment(
    *, actor: User, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    return _transition(actor, appointment, "arrive", S.ARRIVED, "arrived_at", now)


@transaction.atomic
def seat_appointment(
    *, actor: User, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    return _transition(actor, appointment, "seat", S.SEATED, "seated_at", now)


@transaction.atomic
def complete_appointment(
    *, actor: User, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    return _transition(actor, appointment, "complete", S.COMPLETED, "completed_at", now)


@transaction.atomic
def mark_no_show(
    *, actor: User, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    """Only once the appointment's time has come: before that the patient may still come."""
    current = now or timezone.now()
    locked = _locked(appointment, "no_show")  # read the time under the lock, not a stale copy
    if current < locked.starts_at:
        raise InvalidInput.on(
            "status", _("A patient cannot miss an appointment that has not started.")
        )
    missed = _transition(actor, locked, "no_show", S.NO_SHOW, "no_show_at", current)
    _announce_release(missed, "no_show")
    return missed


@transaction.atomic
def cancel_appointment(
    *,
    actor: User,
    appointment: Appointment,
    cancelled_by: str,
    reason: str,
    now: datetime | None = None,
) -> Appointment:
    """Cancel, by the patient or the clinic, with a reason; under 24 h before is late."""
    if cancelled_by not in CancelledBy.values:
        raise InvalidInput.on("cancelled_by", _("Say who cancelled: the patient or the clinic."))
    if not reason.strip():
        raise InvalidInput.on("reason", _("Give a reason for the cancellation."))

    def details(row: Appointment, at: datetime) -> None:
        row.cancelled_by, row.cancel_reason = cancelled_by, reason.strip()[:200]
        row.is_late_cancellation = (
            cancelled_by == CancelledBy.PATIENT and row.starts_at - at < LATE_CANCELLATION
        )

    cancelled = _transition(actor, appointment, "cancel", S.CANCELLED, "cancelled_at", now, details)
    _announce_release(cancelled, "cancelled")
    return cancelled


def _announce_release(
    appointment: Appointment,
    reason: str,
    *,
    chair_id: int | None = None,
    doctor_id: int | None = None,
    interval: tuple[datetime, datetime] | None = None,
) -> None:
    """Send `appointment_released` once the transaction commits (signals.py): the freed
    interval is the appointment's own, or the one it left when it was moved."""
    starts_at, ends_at = interval or (appointment.starts_at, appointment.ends_at)
    details = {
        "appointment_id": appointment.pk, "reason": reason, "branch_id": appointment.branch_id,
        "chair_id": chair_id or appointment.chair_id,
        "doctor_id": doctor_id or appointment.doctor_id,
        "starts_at": starts_at, "ends_at": ends_at,
    }  # fmt: skip
    transaction.on_commit(
        lambda: appointment_released.send(sender=Appointment, **details), robust=True
    )


def _summary(appointment: Appointment) -> str:
    local = timezone.localtime(appointment.starts_at, appointment.branch.zone)
    return f"{local:%Y-%m-%d %H:%M} {appointment.procedure.code} · {appointment.chair.name}"


# --- the calendar feed ------------------------------------------------------------------------
FEED_PREFIX_LENGTH = 8


@transaction.atomic
def rotate_calendar_feed_token(
    *, actor: User, branch: Branch, now: datetime | None = None
) -> tuple[CalendarFeedToken, str]:
    """A new secret feed URL for the actor's appointments in the branch; the previous one
    stops working at once. Returns the row and the secret, which is never stored."""
    now = now or timezone.now()
    # Lock the user row, so two clicks at once queue instead of both inserting a token.
    User.objects.select_for_update().filter(pk=actor.pk).exists()
    _revoke_feed_tokens(actor, branch, now)
    secret = secrets.token_urlsafe(32)
    token = CalendarFeedToken.objects.create(
        user=actor, branch=branch, prefix=secret[:FEED_PREFIX_LENGTH], key_hash=hash_token(secret)
    )
    record_event(
        actor=actor, action=AuditAction.CREATE, target=token, branch_id=branch.pk,
        organization_id=branch.organization_id, summary=f"calendar feed {token.prefix}…",
    )  # fmt: skip
    return token, secret


@transaction.atomic
def revoke_calendar_feed_token(*, actor: User, branch: Branch, now: datetime | None = None) -> int:
    """Stop the actor's feed URL for the branch; returns how many were stopped (0 or 1)."""
    User.objects.select_for_update().filter(pk=actor.pk).exists()
    return _revoke_feed_tokens(actor, branch, now or timezone.now())


def _revoke_feed_tokens(actor: User, branch: Branch, now: datetime) -> int:
    active = CalendarFeedToken.objects.filter(user=actor, branch=branch, revoked_at__isnull=True)
    revoked = 0
    for token in active:
        token.revoked_at = now
        token.save(update_fields=["revoked_at", "updated_at"])
        record_event(
            actor=actor, action=AuditAction.DELETE, target=token, branch_id=branch.pk,
            organization_id=branch.organization_id, summary=f"calendar feed {token.prefix}…",
        )  # fmt: skip
        revoked += 1
    return revoked


def authenticate_calendar_feed(
    secret: str, *, now: datetime | None = None
) -> CalendarFeedToken | None:
    """The live token behind a feed URL, or None: unknown, revoked, an inactive user or
    branch, or a user who may no longer see the branch's schedule. Notes the last use."""
    token = (
        CalendarFeedToken.objects.select_related("user", "branch")
        .filter(key_hash=hash_token(secret), revoked_at__isnull=True)
        .filter(user__is_active=True, branch__is_active=True)
        .first()
    )
    if token is None:
        return None
    try:
        access = get_branch_access(token.user, token.branch_id)
    except NotFound:
        return None
    if not access.can(Capability.SCHEDULE_VIEW):
        return None
    CalendarFeedToken.objects.filter(pk=token.pk).update(last_used_at=now or timezone.now())
    return token
