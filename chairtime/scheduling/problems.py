"""The engine's reasons, in words a receptionist reads: what is wrong, on what, with whom."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.engine.types import Problem, ProblemCode, ResourceKey, ResourceKind
from chairtime.scheduling.models import Appointment, Chair, Equipment


def resource_name(key: ResourceKey) -> str:
    """A person's or a thing's name for a resource key."""
    if key.kind in (ResourceKind.DOCTOR, ResourceKind.ASSISTANT):
        user = User.objects.filter(pk=key.id).first()
        return str(user) if user else _("a staff member")
    if key.kind == ResourceKind.CHAIR:
        return Chair.objects.filter(pk=key.id).values_list("name", flat=True).first() or _(
            "the chair"
        )
    if key.kind == ResourceKind.EQUIPMENT:
        return Equipment.objects.filter(pk=key.id).values_list("name", flat=True).first() or _(
            "equipment"
        )
    return _("The patient")  # only ever the first words of a message


def _booking_time(booking_id: int | None) -> str:
    """The other appointment's time on the branch's wall clock (not the server's: a
    refusal may come from the API or a task, where no branch time zone is active)."""
    if booking_id is None:
        return ""
    appointment = (
        Appointment.objects.filter(pk=booking_id)
        .values_list("starts_at", "ends_at", "branch__time_zone")
        .first()
    )
    if appointment is None:
        return ""
    starts_at, ends_at, time_zone = appointment
    zone = ZoneInfo(time_zone)
    starts, ends = timezone.localtime(starts_at, zone), timezone.localtime(ends_at, zone)
    return f"{date_format(starts, 'SHORT_DATETIME_FORMAT')}–{date_format(ends, 'TIME_FORMAT')}"


def describe_problem(problem: Problem) -> str:
    name = resource_name(problem.resource) if problem.resource else ""
    when = _booking_time(problem.booking_id)
    messages = {
        ProblemCode.IN_PAST: _("The time is in the past."),
        ProblemCode.BEYOND_HORIZON: _("The date is beyond the branch's booking horizon."),
        ProblemCode.OUTSIDE_HOURS: _("%(name)s is not working at that time.") % {"name": name},
        ProblemCode.CLOSED: _("%(name)s is on leave or the branch is closed then.")
        % {"name": name},
        ProblemCode.OVERLAP: _("%(name)s is taken by another appointment (%(when)s).")
        % {"name": name, "when": when},
        ProblemCode.BUFFER: _(
            "%(name)s needs its cleaning time around another appointment (%(when)s)."
        )
        % {"name": name, "when": when},
        ProblemCode.CAPACITY: _("Every %(name)s is in use then.") % {"name": name},
        ProblemCode.UNKNOWN_RESOURCE: _("%(name)s cannot be booked here.") % {"name": name},
    }
    return str(messages[problem.code])
