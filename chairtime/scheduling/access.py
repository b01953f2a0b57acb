"""The one way in to an appointment."""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_appointment(
    access: BranchAccess,
    appointment_id: int | str,
    *,
    capability: Capability = Capability.SCHEDULE_VIEW,
) -> Appointment:
    """An appointment of the active branch the user may act on; anything else is NotFound
    (another branch's appointment looks exactly like a missing one)."""
    access.require(capability)
    try:
        return Appointment.objects.select_related(
            "branch", "patient", "procedure", "doctor", "assistant", "chair"
        ).get(pk=int(appointment_id), branch=access.branch)
    except (Appointment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
