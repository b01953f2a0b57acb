"""The one way in to waitlist entries and offers: the active branch's, with the capability
held; anything else is NotFound."""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability
from chairtime.waitlist.models import SlotOffer, WaitlistEntry


def access_entry(
    access: BranchAccess, entry_id: int | str, *, capability: Capability = Capability.SCHEDULE_VIEW
) -> WaitlistEntry:
    access.require(capability)
    try:
        return WaitlistEntry.objects.select_related("patient", "procedure", "doctor", "branch").get(
            pk=int(entry_id), branch=access.branch
        )
    except (WaitlistEntry.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None


def access_offer(
    access: BranchAccess, offer_id: int | str, *, capability: Capability = Capability.SCHEDULE_VIEW
) -> SlotOffer:
    access.require(capability)
    try:
        return SlotOffer.objects.select_related(
            "branch", "chair", "doctor", "source_appointment__patient", "appointment__patient"
        ).get(pk=int(offer_id), branch=access.branch)
    except (SlotOffer.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
