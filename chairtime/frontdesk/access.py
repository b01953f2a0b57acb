"""The one way in to what the front desk acts on: an appointment of the active branch."""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.scheduling.access import access_appointment
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_missed_appointment(access: BranchAccess, appointment_id: int | str) -> Appointment:
    """A no-show of the active branch, for someone who may take money; anything else
    (another branch's, not a no-show, not allowed) is NotFound."""
    access.require(Capability.MONEY_COLLECT)
    appointment = access_appointment(access, appointment_id)
    if appointment.status != AppointmentStatus.NO_SHOW:
        raise NotFound
    return appointment
