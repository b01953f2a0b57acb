"""API for the appointment book: book, list, move, cancel, each step of the visit, and
the slot finder. The services decide; these endpoints only parse, resolve ids through the
active branch, check the capability and call one service or selector.

Instants are ISO 8601 with an offset both ways: a time without one is refused (a clinic's
"09:00" means nothing without its zone), and answers are given in the branch's own zone.
"""

# No `from __future__ import annotations` here: ninja resolves a paginated endpoint's
# string annotations (`Query[ListFilters]`) in its own module, where they do not exist.

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic.config import JsonDict

from chairtime.accounts.access import acting_user
from chairtime.accounts.models import User
from chairtime.clinical.models import Procedure
from chairtime.clinical.services import complete_visit_as_booked
from chairtime.core.errors import InvalidInput
from chairtime.patients.choices import PreferredTime
from chairtime.patients.models import Patient
from chairtime.scheduling.access import access_appointment
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.selectors import (
    Slot,
    SlotQuery,
    find_slots,
    list_branch_doctors,
    list_qualified_doctors,
    search_appointments,
)
from chairtime.scheduling.services import (
    BookingRequest,
    arrive_appointment,
    book_appointment,
    book_series,
    book_walk_in,
    cancel_appointment,
    confirm_appointment,
    mark_no_show,
    reschedule_appointment,
    seat_appointment,
)
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["appointments"])
slots_router = Router(tags=["appointments"])

EXAMPLE = "2030-01-07T09:30:00+07:00"
INSTANT: JsonDict = {"format": "date-time", "example": EXAMPLE}
INSTANT_HELP = f"ISO 8601 with its offset, e.g. {EXAMPLE}"
_OFFSET = re.compile(r"[+-]\d{2}:?(?P<minutes>\d{2})$")
Errors = dict[str, list[str]]
# A database id: larger numbers would overflow the column (a 500) instead of "not found".
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


# --- schemas --------------------------------------------------------------------------------
class AppointmentOut(Schema):
    """One appointment; instants are in the branch's time zone."""

    id: int
    branch_id: int
    patient_id: int
    patient_name: str
    procedure_id: int
    procedure_code: str
    procedure_name: str
    doctor_id: int
    doctor_name: str
    assistant_id: int | None
    chair_id: int
    chair_name: str
    equipment: list[str] = Field(..., description="codes of the equipment it holds")
    series_id: int | None
    starts_at: datetime
    ends_at: datetime
    blocked_until: datetime = Field(..., description="end of the cleaning buffer")
    status: str
    is_walk_in: bool
    is_overbooked: bool
    confirmed_at: datetime | None
    arrived_at: datetime | None
    seated_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    no_show_at: datetime | None
    cancelled_by: str
    cancel_reason: str
    is_late_cancellation: bool
    rescheduled_count: int
    notes: str

    @staticmethod
    def resolve_patient_name(obj: Appointment) -> str:
        return obj.patient.display_name

    @staticmethod
    def resolve_procedure_code(obj: Appointment) -> str:
        return obj.procedure.code

    @staticmethod
    def resolve_procedure_name(obj: Appointment) -> str:
        return obj.procedure.localized_name()

    @staticmethod
    def resolve_doctor_name(obj: Appointment) -> str:
        return str(obj.doctor)

    @staticmethod
    def resolve_chair_name(obj: Appointment) -> str:
        return obj.chair.name

    @staticmethod
    def resolve_equipment(obj: Appointment) -> list[str]:
        return sorted(e.code for e in obj.equipment.all())

    @staticmethod
    def resolve_starts_at(obj: Appointment) -> datetime:
        return _local(obj, obj.starts_at)

    @staticmethod
    def resolve_ends_at(obj: Appointment) -> datetime:
        return _local(obj, obj.ends_at)

    @staticmethod
    def resolve_blocked_until(obj: Appointment) -> datetime:
        return _local(obj, obj.blocked_until)

    @staticmethod
    def resolve_confirmed_at(obj: Appointment) -> datetime | None:
        return _local_or_none(obj, obj.confirmed_at)

    @staticmethod
    def resolve_arrived_at(obj: Appointment) -> datetime | None:
        return _local_or_none(obj, obj.arrived_at)

    @staticmethod
    def resolve_seated_at(obj: Appointment) -> datetime | None:
        return _local_or_none(obj, obj.seated_at)

    @staticmethod
    def resolve_completed_at(obj: Appointment) -> datetime | None:
        return _local_or_none(obj, obj.completed_at)

    @staticmethod
    def resolve_cancelled_at(obj: Appointment) -> datetime | None:
        return _local_or_none(obj, obj.cancelled_at)

    @staticmethod
    def resolve_no_show_at(obj: Appointment) -> datetime | None:
        return _local_or_none(obj, obj.no_show_at)


class SeriesOut(Schema):
    id: int
    interval_days: int
    count: int
    appointments: list[AppointmentOut]


class WalkInIn(Schema):
    """Who comes, for what, with whom, where. Ids are of the active branch (or its
    organisation, for patients and procedures)."""

    patient: Id
    procedure: Id
    doctor: Id
    chair: Id
    assistant: Id | None = Field(None, description="needed when the procedure says so")
    notes: str = Field("", max_length=500)


class SeriesIn(WalkInIn):
    starts_at: str = Field(..., json_schema_extra=INSTANT, description=INSTANT_HELP)
    interval_days: int = Field(..., description="1 to 366")
    count: int = Field(..., description="2 to 52 occurrences")


class BookingIn(WalkInIn):
    starts_at: str = Field(..., json_schema_extra=INSTANT, description=INSTANT_HELP)
    overbook: bool = Field(
        False, description="book even if taken (needs the schedule.overbook capability)"
    )


class RescheduleIn(Schema):
    starts_at: str = Field(..., json_schema_extra=INSTANT, description=INSTANT_HELP)
    chair: Id | None = Field(None, description="another chair; default: the same")
    doctor: Id | None = Field(None, description="another doctor; default: the same")
    overbook: bool = False


class CancelIn(Schema):
    cancelled_by: str = Field(..., description="patient or clinic")
    reason: str = Field(..., max_length=200)


class ListFilters(Schema):
    day: date | None = Field(None, description="the branch's local day, YYYY-MM-DD")
    doctor: Id | None = None
    chair: Id | None = None
    patient: Id | None = None


class SlotFilters(Schema):
    procedure: Id
    doctor: Id | None = Field(None, description="only this doctor; default: any qualified")
    patient: Id | None = Field(None, description="keeps the patient free; their preferences")
    earliest: str | None = Field(None, json_schema_extra=INSTANT, description=INSTANT_HELP)
    preferences: str | None = Field(
        None,
        description="comma-separated: weekday_mornings, weekday_afternoons, weekday_evenings, "
        "weekends; left out: the patient's own; empty: any time",
    )
    limit: int = Field(10, ge=1, le=50)


class SlotOut(Schema):
    starts_at: datetime
    ends_at: datetime
    blocked_until: datetime
    doctor_id: int
    doctor_name: str
    chair_id: int
    chair_name: str
    assistant_id: int | None


# --- parsing ------------------------------------------------------------------------------
def _local(appointment: Appointment, value: datetime) -> datetime:
    return timezone.localtime(value, appointment.branch.zone)


def _local_or_none(appointment: Appointment, value: datetime | None) -> datetime | None:
    return None if value is None else _local(appointment, value)


def _instant(errors: Errors, field: str, value: str | None) -> datetime | None:
    """An aware UTC instant from ISO 8601 text; a missing or bad offset is a field error."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        offset = _OFFSET.search(value.strip())
        if offset and int(offset["minutes"]) > 59:  # "+07:60": Python would read +08:00
            raise ValueError(value)
    except ValueError:
        errors[field] = [
            _("Give the date and time in ISO 8601 with its offset, e.g. %(example)s.")
            % {"example": EXAMPLE}
        ]
        return None
    if parsed.utcoffset() is None:
        errors[field] = [_("Give the time with its time zone.")]
        return None
    return parsed.astimezone(UTC)


def _patient(errors: Errors, access: BranchAccess, patient_id: int) -> Patient | None:
    found = Patient.objects.for_branch(access.branch).filter(pk=patient_id).first()
    if found is None:
        errors["patient"] = [_("No such patient.")]
    return found


def _procedure(errors: Errors, access: BranchAccess, procedure_id: int) -> Procedure | None:
    found = Procedure.objects.filter(
        pk=procedure_id, organization_id=access.branch.organization_id, is_active=True
    ).first()
    if found is None:
        errors["procedure"] = [_("No such procedure.")]
    return found


def _chair(errors: Errors, access: BranchAccess, chair_id: int) -> Chair | None:
    found = Chair.objects.filter(pk=chair_id, branch=access.branch, is_active=True).first()
    if found is None:
        errors["chair"] = [_("This chair is not in this branch.")]
    return found


def _staff(errors: Errors, access: BranchAccess, field: str, user_id: int) -> User | None:
    """A member of the branch (or of its organisation as a whole); the service checks the
    role and the qualification."""
    branch = access.branch
    found = (
        # One filter() call, so both conditions hold for the same membership.
        User.objects.filter(
            Q(memberships__branch=branch) | Q(memberships__branch__isnull=True),
            memberships__organization_id=branch.organization_id,
            pk=user_id,
            is_active=True,
        ).first()
    )
    if found is None:
        errors[field] = [
            _("This doctor does not work in this branch.")
            if field == "doctor"
            else _("This assistant does not work in this branch.")
        ]
    return found


def _raise(errors: Errors) -> None:
    if errors:
        raise InvalidInput(errors)


def _booking_request(
    access: BranchAccess, payload: WalkInIn, starts_at: str | None, overbook: bool = False
) -> BookingRequest:
    """The payload's ids turned into the branch's objects, every unknown one a field error."""
    errors: Errors = {}
    patient = _patient(errors, access, payload.patient)
    procedure = _procedure(errors, access, payload.procedure)
    doctor = _staff(errors, access, "doctor", payload.doctor)
    chair = _chair(errors, access, payload.chair)
    assistant = (
        None
        if payload.assistant is None
        else _staff(errors, access, "assistant", payload.assistant)
    )
    when = _instant(errors, "starts_at", starts_at) if starts_at is not None else timezone.now()
    _raise(errors)
    assert patient and procedure and doctor and chair and when  # no errors above
    return BookingRequest(
        patient=patient, procedure=procedure, doctor=doctor, chair=chair, starts_at=when,
        assistant=assistant, notes=payload.notes, overbook=overbook,
    )  # fmt: skip


def _with_details(appointment: Appointment) -> Appointment:
    """Re-read with what the answer shows, in one query per relation."""
    return (
        Appointment.objects.select_related("branch", "patient", "procedure", "doctor", "chair")
        .prefetch_related("equipment")
        .get(pk=appointment.pk)
    )


# --- reads ------------------------------------------------------------------------------
@router.get(
    "",
    response=list[AppointmentOut],
    summary="List appointments",
    description="By the branch's local day, doctor, chair or patient (any combination), "
    "cancelled and no-show ones included, in order of start.",
)
@paginate(LimitOffsetPagination)
def appointment_list(request: HttpRequest, filters: Query[ListFilters]) -> Any:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_VIEW)
    return search_appointments(
        branch=access.branch, day=filters.day, doctor_id=filters.doctor,
        chair_id=filters.chair, patient_id=filters.patient,
    )  # fmt: skip


@router.get("/{int:appointment_id}", response=AppointmentOut, summary="One appointment")
def appointment_detail(request: HttpRequest, appointment_id: int) -> Appointment:
    access = api_branch_access(request)
    return _with_details(access_appointment(access, appointment_id))


# --- booking ------------------------------------------------------------------------------
@router.post(
    "",
    response={201: AppointmentOut},
    summary="Book an appointment",
    description="422 names each field that is wrong (a doctor not qualified, a chair of "
    "another branch, a time in the past or beyond the booking horizon); 409 when the time "
    "is taken, naming who or what.",
)
def appointment_create(request: HttpRequest, payload: BookingIn) -> Status[Appointment]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_BOOK)
    booking = _booking_request(access, payload, payload.starts_at, payload.overbook)
    appointment = book_appointment(
        actor=acting_user(request), branch=access.branch, request=booking,
        can_overbook=access.can(Capability.SCHEDULE_OVERBOOK),
    )  # fmt: skip
    return Status(201, _with_details(appointment))


@router.post(
    "/walk-ins",
    response={201: AppointmentOut},
    summary="Book a walk-in",
    description="A patient who came without an appointment: booked from now, marked arrived.",
)
def walk_in_create(request: HttpRequest, payload: WalkInIn) -> Status[Appointment]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_BOOK)
    booking = _booking_request(access, payload, None)
    appointment = book_walk_in(actor=acting_user(request), branch=access.branch, request=booking)
    return Status(201, _with_details(appointment))


@router.post(
    "/series",
    response={201: SeriesOut},
    summary="Book a series",
    description="`count` appointments every `interval_days` at the same local time, all or "
    "none: the first that cannot be booked refuses the series, naming its occurrence.",
)
def series_create(request: HttpRequest, payload: SeriesIn) -> Status[dict[str, Any]]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_BOOK)
    booking = _booking_request(access, payload, payload.starts_at)
    booked = book_series(
        actor=acting_user(request), branch=access.branch, request=booking,
        interval_days=payload.interval_days, count=payload.count,
    )  # fmt: skip
    series = booked[0].series
    assert series is not None  # book_series sets it on every occurrence
    return Status(
        201,
        {
            "id": series.pk,
            "interval_days": series.interval_days,
            "count": series.count,
            "appointments": [_with_details(a) for a in booked],
        },
    )


@router.post(
    "/{int:appointment_id}/reschedule",
    response=AppointmentOut,
    summary="Move an appointment",
    description="To another time, and optionally another chair or doctor; it then needs "
    "confirming again.",
)
def appointment_reschedule(
    request: HttpRequest, appointment_id: int, payload: RescheduleIn
) -> Appointment:
    access = api_branch_access(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    errors: Errors = {}
    starts_at = _instant(errors, "starts_at", payload.starts_at)
    chair = None if payload.chair is None else _chair(errors, access, payload.chair)
    doctor = None if payload.doctor is None else _staff(errors, access, "doctor", payload.doctor)
    _raise(errors)
    assert starts_at is not None  # no errors above
    moved = reschedule_appointment(
        actor=acting_user(request), appointment=appointment, starts_at=starts_at, chair=chair,
        doctor=doctor, overbook=payload.overbook,
        can_overbook=access.can(Capability.SCHEDULE_OVERBOOK),
    )  # fmt: skip
    return _with_details(moved)


@router.post(
    "/{int:appointment_id}/cancel",
    response=AppointmentOut,
    summary="Cancel an appointment",
    description="By the patient or the clinic, with a reason; a patient's cancellation under "
    "24 hours before is marked late.",
)
def appointment_cancel(request: HttpRequest, appointment_id: int, payload: CancelIn) -> Appointment:
    access = api_branch_access(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    cancelled = cancel_appointment(
        actor=acting_user(request), appointment=appointment,
        cancelled_by=payload.cancelled_by, reason=payload.reason,
    )  # fmt: skip
    return _with_details(cancelled)


def _step(
    request: HttpRequest, appointment_id: int, service: Callable[..., Appointment]
) -> Appointment:
    access = api_branch_access(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    return _with_details(service(actor=acting_user(request), appointment=appointment))


@router.post("/{int:appointment_id}/confirm", response=AppointmentOut, summary="Confirm")
def appointment_confirm(request: HttpRequest, appointment_id: int) -> Appointment:
    return _step(request, appointment_id, confirm_appointment)


@router.post("/{int:appointment_id}/arrive", response=AppointmentOut, summary="Mark arrived")
def appointment_arrive(request: HttpRequest, appointment_id: int) -> Appointment:
    return _step(request, appointment_id, arrive_appointment)


@router.post("/{int:appointment_id}/seat", response=AppointmentOut, summary="Seat in the chair")
def appointment_seat(request: HttpRequest, appointment_id: int) -> Appointment:
    return _step(request, appointment_id, seat_appointment)


@router.post(
    "/{int:appointment_id}/complete",
    response=AppointmentOut,
    summary="Complete",
    description="Records what was done as booked: the plan items booked on it at their "
    "agreed price, else its procedure at the branch's price (to record something else, use "
    "POST /treatment/visits/{appointment_id}/complete).",
)
def appointment_complete(request: HttpRequest, appointment_id: int) -> Appointment:
    return _step(request, appointment_id, complete_visit_as_booked)


@router.post(
    "/{int:appointment_id}/no-show",
    response=AppointmentOut,
    summary="Mark a no-show",
    description="Only once the appointment's time has come.",
)
def appointment_no_show(request: HttpRequest, appointment_id: int) -> Appointment:
    return _step(request, appointment_id, mark_no_show)


# --- the slot finder ----------------------------------------------------------------------
@slots_router.get(
    "",
    response=list[SlotOut],
    summary="Find openings",
    description="The next times a procedure fits: a qualified doctor, a chair, an assistant "
    "and equipment if it needs them, and the patient free; the patient's preferred doctor "
    "first. Instants are in the branch's time zone.",
)
def slot_list(request: HttpRequest, filters: Query[SlotFilters]) -> list[SlotOut]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_VIEW)
    slots = find_slots(branch=access.branch, query=_slot_query(access, filters))
    return [_slot_out(slot, access.branch.zone) for slot in slots]


def _slot_out(slot: Slot, zone: ZoneInfo) -> SlotOut:
    return SlotOut(
        starts_at=timezone.localtime(slot.opening.interval.start, zone),
        ends_at=timezone.localtime(slot.opening.interval.end, zone),
        blocked_until=timezone.localtime(slot.opening.blocked_until, zone),
        doctor_id=slot.doctor.pk, doctor_name=str(slot.doctor), chair_id=slot.chair.pk,
        chair_name=slot.chair.name, assistant_id=slot.assistant.pk if slot.assistant else None,
    )  # fmt: skip


def _slot_query(access: BranchAccess, filters: SlotFilters) -> SlotQuery:
    errors: Errors = {}
    procedure = _procedure(errors, access, filters.procedure)
    patient = None if filters.patient is None else _patient(errors, access, filters.patient)
    earliest = _instant(errors, "earliest", filters.earliest)
    preferences = _preferences(errors, filters.preferences)
    doctor = None
    if filters.doctor is not None:
        doctor = list_branch_doctors(branch=access.branch).filter(pk=filters.doctor).first()
        if doctor is None:
            errors["doctor"] = [_("This doctor does not work in this branch.")]
        elif procedure is not None and doctor not in list_qualified_doctors(
            branch=access.branch, procedure=procedure
        ):
            errors["doctor"] = [_("This doctor is not qualified for this procedure.")]
    _raise(errors)
    assert procedure is not None  # no errors above
    return SlotQuery(
        procedure=procedure, doctor=doctor, patient=patient, earliest=earliest,
        preferences=preferences, limit=filters.limit,
    )  # fmt: skip


def _preferences(errors: Errors, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    wanted = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in wanted if v not in PreferredTime.values]
    if unknown:
        errors["preferences"] = [
            _("Unknown time preference: %(values)s. Choose from %(choices)s.")
            % {"values": ", ".join(unknown), "choices": ", ".join(PreferredTime.values)}
        ]
    return wanted
