"""A staff member's appointments as an iCalendar feed (RFC 5545), for their phone's calendar.

The feed leaves the clinic (it is fetched by Google, Apple or Microsoft servers behind a
secret URL), so it carries the least that is useful: the procedure, the patient's
initials, the chair. Never a full name, a phone number or a note.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from icalendar import Calendar, Event

from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment, CalendarFeedToken
from chairtime.tenancy.models import Branch

PRODUCT_ID = "-//Chairtime//Appointment book//EN"
# How far back a feed reaches: enough for "what did I do last week", little to leak.
FEED_PAST = timedelta(days=30)


def get_calendar_feed_token(*, user_id: int, branch: Branch) -> CalendarFeedToken | None:
    """The user's live feed token in the branch, if they made one (its secret is not kept)."""
    return CalendarFeedToken.objects.filter(
        user_id=user_id, branch=branch, revoked_at__isnull=True
    ).first()


def list_feed_appointments(
    *, token: CalendarFeedToken, now: datetime | None = None
) -> QuerySet[Appointment]:
    """The token's user's appointments as doctor in its branch, from 30 days ago to the
    booking horizon, cancelled ones included (so calendars remove them)."""
    now = now or timezone.now()
    return (
        Appointment.objects.filter(
            branch_id=token.branch_id,
            doctor_id=token.user_id,
            starts_at__gte=now - FEED_PAST,
            starts_at__lt=now + timedelta(days=token.branch.booking_horizon_days),
        )
        .select_related("patient", "procedure", "chair")
        .order_by("starts_at", "pk")
    )


def initials(name: str) -> str:
    """ "Nguyễn Văn An" → "NVA": enough for the doctor to recognise, too little to identify."""
    return "".join(word[0] for word in name.split() if word[0].isalnum()).upper()


def feed_status(appointment: Appointment) -> str:
    if appointment.status == AppointmentStatus.CANCELLED:
        return "CANCELLED"
    if appointment.status == AppointmentStatus.BOOKED:
        return "TENTATIVE"  # not yet confirmed by the patient
    return "CONFIRMED"


def event_uid(appointment: Appointment) -> str:
    """Stable for the appointment's life, so a moved appointment moves in the calendar."""
    return f"appointment-{appointment.pk}@chairtime"


def render_feed(
    *, branch: Branch, appointments: Iterable[Appointment], now: datetime | None = None
) -> bytes:
    """The calendar as bytes, CRLF line endings, with a VTIMEZONE for the branch's zone."""
    now = now or timezone.now()
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"Chairtime · {branch.name}")
    calendar.add("x-wr-timezone", branch.time_zone)
    for appointment in appointments:
        calendar.add_component(_event(branch, appointment))
    # Transitions of the zone over the feed's span only, not 1970-2038.
    calendar.add_missing_timezones(
        first_date=_year_start(now - FEED_PAST - timedelta(days=366)),
        last_date=_year_start(now + timedelta(days=branch.booking_horizon_days + 366)),
    )
    body: bytes = calendar.to_ical()
    return body


def _year_start(instant: datetime) -> date:
    return date(instant.year, 1, 1)


def _event(branch: Branch, appointment: Appointment) -> Event:
    zone = branch.zone
    event = Event()
    event.add("uid", event_uid(appointment))
    event.add("dtstamp", appointment.updated_at)
    event.add("dtstart", appointment.starts_at.astimezone(zone))
    event.add("dtend", appointment.ends_at.astimezone(zone))
    event.add("summary", _summary(appointment))
    event.add("location", f"{branch.name} · {appointment.chair.name}")
    event.add("description", str(appointment.get_status_display()))
    event.add("status", feed_status(appointment))
    event.add("sequence", appointment.rescheduled_count)
    event.add("transp", "TRANSPARENT" if feed_status(appointment) == "CANCELLED" else "OPAQUE")
    return event


def _summary(appointment: Appointment) -> str:
    """The procedure and the patient's initials: nothing else about the patient."""
    return (
        f"{appointment.procedure.localized_name()} · {initials(appointment.patient.display_name)}"
    )
