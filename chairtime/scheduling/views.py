"""Appointment book pages: resources, the day and week calendars, the printable day
sheet, and the dialogs that book, move, cancel and step an appointment through the visit.

Seeing the book takes `schedule.view`, changing it `schedule.book` (overbooking also
`schedule.overbook`); anything else is a 404. Every change answers with the event
`appointments-changed`, on which the open calendar reloads itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.accounts.models import User
from chairtime.clinical.services import complete_visit_as_booked
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.http import is_htmx, requested_day
from chairtime.labs.selectors import flags_for_appointments
from chairtime.patients.selectors import list_patients
from chairtime.scheduling.access import access_appointment
from chairtime.scheduling.forms import (
    BOOKING_ALIASES,
    MOVE_ALIASES,
    BookingForm,
    CancelForm,
    MoveForm,
    SlotSearchForm,
    add_service_errors,
    parse_instant,
    value_of,
)
from chairtime.scheduling.layout import (
    Column,
    day_rows,
    fill_columns,
    opening_span,
    place_by_instant,
    place_by_wall_clock,
    week_rows,
)
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.selectors import (
    Slot,
    SlotQuery,
    day_bounds,
    find_slots,
    is_vip,
    list_book_appointments,
    list_branch_doctors,
    list_branch_staff,
    list_chairs,
    list_day_sheet,
    list_opening_hours,
    list_working_doctors,
)
from chairtime.scheduling.services import (
    ALLOWED_FROM,
    arrive_appointment,
    book_appointment,
    cancel_appointment,
    confirm_appointment,
    mark_no_show,
    reschedule_appointment,
    seat_appointment,
)
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

CHANGED = "appointments-changed"  # the htmx event a calendar reloads on
# The calendars show days in this range (a week either side stays a valid date).
FIRST_DAY, LAST_DAY = date(1900, 1, 8), date(2999, 12, 24)
PATIENT_CHOICES = 8
OPENINGS_SHOWN = 8

# The one-click steps of a visit: URL slug -> (service, button label), in visit order.
Transition = Callable[..., Appointment]
TRANSITIONS: dict[str, tuple[Transition, Any]] = {
    "confirm": (confirm_appointment, gettext_lazy("Confirm")),
    "arrive": (arrive_appointment, gettext_lazy("Arrived")),
    "seat": (seat_appointment, gettext_lazy("Seated")),
    "complete": (complete_visit_as_booked, gettext_lazy("Completed")),
    "no_show": (mark_no_show, gettext_lazy("No-show")),
}


@capability_required(Capability.BRANCH_VIEW)
def resource_list(request: HttpRequest) -> HttpResponse:
    branch = branch_access_of(request).branch
    context = {
        "staff": list_branch_staff(branch=branch),
        "chairs": list_chairs(branch=branch),
        "opening_hours": list_opening_hours(branch=branch),
    }
    return render(request, "scheduling/resource_list.html", context)


# --- the calendars ------------------------------------------------------------------------
def _requested_day(request: HttpRequest, branch: Branch) -> tuple[date, str]:
    """The ?date= asked for, or the branch's today (with the reason when it was unreadable)."""
    return requested_day(
        request,
        parameter="date",
        today=timezone.localdate(timezone=branch.zone),
        first=FIRST_DAY,
        last=LAST_DAY,
    )


def _calendar_template(request: HttpRequest, template: str) -> str:
    """The whole page, or only the calendar when it reloads itself after a change."""
    if is_htmx(request) and request.headers.get("HX-Target") == "calendar":
        return template + "#calendar"
    return template


@capability_required(Capability.SCHEDULE_VIEW)
def day_view(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    branch = access.branch
    day, date_error = _requested_day(request, branch)
    by = "doctor" if request.GET.get("by") == "doctor" else "chair"
    bounds = day_bounds(branch, day)
    appointments = list(list_book_appointments(branch=branch, start=bounds.start, end=bounds.end))
    active = [a for a in appointments if a.is_active]
    _flag_lab_cases(access, active)
    hours = [(h.opens_at, h.closes_at) for h in _opening_hours(branch, day.weekday())]
    rows = day_rows(day=day, zone=branch.zone, span=opening_span(hours), appointments=active)
    if by == "chair":
        columns = _chair_columns(branch, active)
        fill_columns(columns, active, lambda a: a.chair_id, partial(place_by_instant, rows=rows))
    else:
        columns = _doctor_columns(branch, day, active)
        fill_columns(columns, active, lambda a: a.doctor_id, partial(place_by_instant, rows=rows))
    context = {
        "day": day, "by": by, "date_error": date_error, "rows": rows, "columns": columns,
        "is_closed": not hours, "released": [a for a in appointments if not a.is_active],
        "can_book": access.can(Capability.SCHEDULE_BOOK),
        "previous_day": day - timedelta(days=1), "next_day": day + timedelta(days=1),
        "today": timezone.localdate(timezone=branch.zone),
    }  # fmt: skip
    return render(request, _calendar_template(request, "scheduling/day_view.html"), context)


def _flag_lab_cases(access: BranchAccess, appointments: list[Appointment]) -> None:
    """Each appointment's lab cases not back (`lab_flags`), for those who see lab work:
    one query for the whole day."""
    flags = {}
    if access.can(Capability.LAB_VIEW):
        today = timezone.localdate(timezone=access.branch.zone)
        flags = flags_for_appointments([a.pk for a in appointments], today=today)
    for appointment in appointments:
        appointment.lab_flags = [f for f in flags.get(appointment.pk, []) if not f.is_back]  # type: ignore[attr-defined]


def _opening_hours(branch: Branch, weekday: int) -> list[Any]:
    return [h for h in list_opening_hours(branch=branch) if h.weekday == weekday]


def _chair_columns(branch: Branch, appointments: list[Appointment]) -> list[Column]:
    used = {a.chair_id for a in appointments}
    return [
        Column(key=chair.pk, label=chair.name)
        for chair in list_chairs(branch=branch)
        if chair.is_active or chair.pk in used
    ]


def _doctor_columns(branch: Branch, day: date, appointments: list[Appointment]) -> list[Column]:
    """Doctors working that weekday, and any other doctor with an appointment that day."""
    doctors = {d.pk: d for d in list_working_doctors(branch=branch, weekday=day.weekday())}
    for appointment in appointments:
        doctors.setdefault(appointment.doctor_id, appointment.doctor)
    return [Column(key=d.pk, label=str(d), colour=_colour(d)) for d in doctors.values()]


def _colour(user: User) -> str:
    profile = getattr(user, "staff_profile", None)
    return profile.calendar_colour if profile is not None else ""


@capability_required(Capability.SCHEDULE_VIEW)
def week_view(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    branch = access.branch
    day, date_error = _requested_day(request, branch)
    monday = day - timedelta(days=day.weekday())
    doctors = list(list_branch_doctors(branch=branch))
    doctor = _chosen_doctor(request, access, doctors)
    days = [monday + timedelta(days=offset) for offset in range(7)]
    columns = [Column(key=d.isoformat(), label=d.isoformat()) for d in days]
    rows: list[Any] = []
    released: list[Appointment] = []
    if doctor is not None:
        start, end = day_bounds(branch, days[0]).start, day_bounds(branch, days[-1]).end
        appointments = list(
            list_book_appointments(branch=branch, start=start, end=end, doctor=doctor)
        )
        active = [a for a in appointments if a.is_active]
        released = [a for a in appointments if not a.is_active]
        zone = branch.zone
        hours = [(h.opens_at, h.closes_at) for h in list_opening_hours(branch=branch)]
        local = [(a.starts_at.astimezone(zone), a.ends_at.astimezone(zone)) for a in active]
        rows = week_rows(span=opening_span(hours), times=[(s.time(), e.time()) for s, e in local])
        fill_columns(
            columns, active, lambda a: timezone.localdate(a.starts_at, branch.zone).isoformat(),
            partial(place_by_wall_clock, zone=zone, rows=rows),
        )  # fmt: skip
    context = {
        "day": day, "date_error": date_error, "doctor": doctor, "doctors": doctors,
        "week": list(zip(days, columns, strict=True)), "rows": rows, "released": released,
        "previous_week": monday - timedelta(days=7), "next_week": monday + timedelta(days=7),
        "today": timezone.localdate(timezone=branch.zone),
    }  # fmt: skip
    return render(request, _calendar_template(request, "scheduling/week_view.html"), context)


def _chosen_doctor(request: HttpRequest, access: BranchAccess, doctors: list[User]) -> User | None:
    """The ?doctor= asked for (a doctor of another branch is not found), else the user
    themselves if they are one of the branch's doctors, else the first."""
    raw = request.GET.get("doctor", "").strip()
    by_id = {str(d.pk): d for d in doctors}
    if raw:
        if raw not in by_id:
            raise NotFound
        return by_id[raw]
    return by_id.get(str(access.user.pk)) or (doctors[0] if doctors else None)


@dataclass(frozen=True)
class SheetChair:
    chair: Chair
    appointments: list[Appointment]


@capability_required(Capability.SCHEDULE_VIEW)
def day_sheet(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    branch = access.branch
    day, date_error = _requested_day(request, branch)
    bounds = day_bounds(branch, day)
    by_chair: dict[int, list[Appointment]] = {}
    for appointment in list_day_sheet(branch=branch, start=bounds.start, end=bounds.end):
        by_chair.setdefault(appointment.chair_id, []).append(appointment)
    chairs = [
        SheetChair(chair, by_chair.get(chair.pk, []))
        for chair in list_chairs(branch=branch)
        if chair.is_active or chair.pk in by_chair
    ]
    context = {
        "day": day, "date_error": date_error, "chairs": chairs,
        # Only staff who may read medical detail see how many alerts a patient has.
        "shows_alerts": access.can(Capability.PATIENT_MEDICAL_VIEW),
    }  # fmt: skip
    return render(request, "scheduling/day_sheet.html", context)


# --- booking ------------------------------------------------------------------------------
def _changed(response: HttpResponse) -> HttpResponse:
    response["HX-Trigger"] = CHANGED
    return response


def _dialog(
    request: HttpRequest, template: str, partial_name: str, context: dict[str, Any]
) -> HttpResponse:
    """A dialog's content for htmx, or the same content as a page of its own without it."""
    return render(request, f"{template}#{partial_name}" if is_htmx(request) else template, context)


def _booking_initial(request: HttpRequest, branch: Branch) -> dict[str, Any]:
    """What the clicked cell (or a link) says: when, which chair or doctor, which patient."""
    initial: dict[str, Any] = {}
    for name in ("chair", "doctor", "patient", "procedure"):
        value = request.GET.get(name, "")
        if value.isdigit():
            initial[name] = int(value)
    raw_at = request.GET.get("at", "")
    at = parse_instant(raw_at)
    if at is not None:
        initial["earliest"] = at.astimezone(branch.zone)
    return initial


@capability_required(Capability.SCHEDULE_BOOK)
def appointment_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    branch = access.branch
    can_overbook = access.can(Capability.SCHEDULE_OVERBOOK)
    if request.method != "POST":
        initial = _booking_initial(request, branch)
        form = BookingForm(initial=initial, branch=branch, can_overbook=can_overbook)
        search = SlotSearchForm(initial, branch=branch)
        context = _booking_context(form, search, branch, chosen=_initial_patient(form, initial))
        return _dialog(request, "scheduling/appointment_create.html", "dialog", context)
    form = BookingForm(request.POST, branch=branch, can_overbook=can_overbook)
    if form.is_valid():
        try:
            appointment = book_appointment(
                actor=acting_user(request), branch=branch, request=form.to_request(),
                can_overbook=can_overbook,
            )  # fmt: skip
        except InvalidInput as error:
            add_service_errors(form, error, aliases=BOOKING_ALIASES)
        else:
            return _after_change(request, access, appointment, _("Booked."))
    search = SlotSearchForm(request.POST, branch=branch)
    context = _booking_context(form, search, branch, chosen=form.cleaned_data.get("patient"))
    return _dialog(request, "scheduling/appointment_create.html", "dialog", context)


def _initial_patient(form: BookingForm, initial: dict[str, Any]) -> Any:
    if "patient" not in initial:
        return None
    return form.fields["patient"].queryset.filter(pk=initial["patient"]).first()  # type: ignore[attr-defined]


def _booking_context(
    form: BookingForm, search: SlotSearchForm, branch: Branch, chosen: Any
) -> dict[str, Any]:
    return {"form": form, "chosen": chosen, **_slot_context(search, branch)}


@capability_required(Capability.SCHEDULE_BOOK)
def booking_patient_search(request: HttpRequest) -> HttpResponse:
    """The patients matching what is typed in the booking dialog, to choose one."""
    branch = branch_access_of(request).branch
    query = request.GET.get("q", "").strip()
    patients = (
        list(list_patients(branch=branch, query=query, home_branch_only=False)[:PATIENT_CHOICES])
        if query
        else []
    )
    context = {"patients": patients, "query": query, "chosen": None}
    return render(request, "scheduling/appointment_create.html#patient_choices", context)


@capability_required(Capability.SCHEDULE_BOOK)
def booking_slot_list(request: HttpRequest) -> HttpResponse:
    """The next openings for what the booking (or move) dialog says so far."""
    branch = branch_access_of(request).branch
    data = request.GET.copy()
    if not data.get("earliest") and data.get("starts_at"):
        data["earliest"] = request.GET.get("starts_at") or ""  # the move dialog's time
    search = SlotSearchForm(data, branch=branch)
    return render(request, "scheduling/slot_list.html", _slot_context(search, branch))


def _slot_context(search: SlotSearchForm, branch: Branch) -> dict[str, Any]:
    """The next openings as (form value, slot) pairs, or None before a procedure is
    chosen; the reason when the search cannot run."""
    if not search.is_bound or not search.is_valid():
        return {"slots": None, "slot_error": ""}
    c = search.cleaned_data
    chairs = list_chairs(branch=branch).filter(is_active=True).count()
    query = SlotQuery(
        procedure=c["procedure"], doctor=c["doctor"], patient=c["patient"],
        earliest=c["earliest"], limit=OPENINGS_SHOWN * max(chairs, 1),
    )  # fmt: skip
    try:
        found = find_slots(branch=branch, query=query)
    except InvalidInput as error:
        return {"slots": [], "slot_error": " ".join(_messages(error))}
    slots = _one_chair_per_time(found, preferred=c["chair"])[:OPENINGS_SHOWN]
    return {"slots": [(value_of(slot), slot) for slot in slots], "slot_error": ""}


def _one_chair_per_time(slots: list[Slot], preferred: Chair | None) -> list[Slot]:
    """One opening per start and doctor (twenty free chairs at 09:00 are one choice for
    the patient), in the chair the user clicked when it is among them."""
    chosen: dict[tuple[datetime, int], Slot] = {}
    for slot in slots:
        key = (slot.opening.interval.start, slot.doctor.pk)
        if key not in chosen or (preferred is not None and slot.chair.pk == preferred.pk):
            chosen[key] = slot
    return list(chosen.values())


def _messages(error: InvalidInput) -> list[str]:
    return [message for messages in error.errors.values() for message in messages]


# --- one appointment ----------------------------------------------------------------------
def _panel_context(
    access: BranchAccess,
    appointment: Appointment,
    *,
    notice: str = "",
    errors: list[str] | None = None,
    cancel_form: CancelForm | None = None,
) -> dict[str, Any]:
    can_book = access.can(Capability.SCHEDULE_BOOK)
    steps = [
        {
            "url": reverse("scheduling:appointment_status", args=[appointment.pk, slug]),
            "label": label,
        }
        for slug, (_service, label) in TRANSITIONS.items()
        if appointment.status in ALLOWED_FROM[slug]
    ]
    return {
        "appointment": appointment, "notice": notice, "errors": errors or [],
        "can_book": can_book, "steps": steps if can_book else [],
        "can_move": can_book and appointment.status in ALLOWED_FROM["reschedule"],
        "can_cancel": can_book and appointment.status in ALLOWED_FROM["cancel"],
        "cancel_form": cancel_form or CancelForm(),
        "can_see_patient": access.can(Capability.PATIENT_VIEW),
        "is_vip": is_vip(appointment.patient),
        # "Fill this gap" (the waitlist, ADR 13) on a cancelled or missed appointment.
        "can_refill": can_book and not appointment.is_active,
    }  # fmt: skip


def _panel(request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
    return _dialog(request, "scheduling/appointment_detail.html", "panel", context)


def _after_change(
    request: HttpRequest, access: BranchAccess, appointment: Appointment, notice: str
) -> HttpResponse:
    """The appointment as it is now (in the dialog), and the calendar told to reload; a
    browser without htmx goes back to the day."""
    if not is_htmx(request):
        messages.success(request, notice)
        day = timezone.localdate(appointment.starts_at, appointment.branch.zone)
        return redirect(f"{reverse('scheduling:day_view')}?date={day.isoformat()}")
    fresh = access_appointment(access, appointment.pk)
    return _changed(_panel(request, _panel_context(access, fresh, notice=notice)))


@capability_required(Capability.SCHEDULE_VIEW)
def appointment_detail(request: HttpRequest, appointment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    appointment = access_appointment(access, appointment_id)
    return _panel(request, _panel_context(access, appointment))


@require_POST
@capability_required(Capability.SCHEDULE_BOOK)
def appointment_status(request: HttpRequest, appointment_id: int, transition: str) -> HttpResponse:
    """One step of the visit (confirm, arrived, seated, completed, no-show)."""
    access = branch_access_of(request)
    if transition not in TRANSITIONS:
        raise NotFound
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    service, _label = TRANSITIONS[transition]
    try:
        changed = service(actor=acting_user(request), appointment=appointment)
    except InvalidInput as error:
        return _panel(request, _panel_context(access, appointment, errors=_messages(error)))
    return _after_change(
        request, access, changed, _("Now: %(status)s.") % {"status": changed.get_status_display()}
    )


@require_POST
@capability_required(Capability.SCHEDULE_BOOK)
def appointment_cancel(request: HttpRequest, appointment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            cancelled = cancel_appointment(
                actor=acting_user(request), appointment=appointment,
                cancelled_by=form.cleaned_data["cancelled_by"], reason=form.cleaned_data["reason"],
            )  # fmt: skip
        except InvalidInput as error:
            add_service_errors(form, error)
        else:
            return _after_change(request, access, cancelled, _("Cancelled."))
    return _panel(request, _panel_context(access, appointment, cancel_form=form))


@capability_required(Capability.SCHEDULE_BOOK)
def appointment_move(request: HttpRequest, appointment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    can_overbook = access.can(Capability.SCHEDULE_OVERBOOK)
    initial = {
        "starts_at": appointment.starts_at, "chair": appointment.chair_id,
        "doctor": appointment.doctor_id,
    }  # fmt: skip
    form = MoveForm(
        request.POST if request.method == "POST" else None, initial=initial,
        appointment=appointment, can_overbook=can_overbook,
    )  # fmt: skip
    if request.method == "POST" and form.is_valid():
        c = form.cleaned_data
        try:
            moved = reschedule_appointment(
                actor=acting_user(request), appointment=appointment, starts_at=c["starts_at"],
                chair=c["chair"], doctor=c["doctor"], can_overbook=can_overbook,
                overbook=bool(c.get("overbook")),
            )  # fmt: skip
        except InvalidInput as error:
            aliases = BOOKING_ALIASES if c.get("slot") else MOVE_ALIASES
            add_service_errors(form, error, aliases=aliases)
        else:
            return _after_change(request, access, moved, _("Moved."))
    search = SlotSearchForm(
        {"procedure": appointment.procedure_id, "doctor": appointment.doctor_id,
         "patient": appointment.patient_id},
        branch=access.branch,
    )  # fmt: skip
    context = {"appointment": appointment, "form": form, **_slot_context(search, access.branch)}
    return _dialog(request, "scheduling/appointment_move.html", "move", context)
