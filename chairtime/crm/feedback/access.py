"""The one way in to a complaint: the active branch's, with the capability held."""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.crm.models import Complaint
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_complaint(
    access: BranchAccess, complaint_id: int | str, *, capability: Capability = Capability.CARE_VIEW
) -> Complaint:
    """A complaint of the active branch; missing, elsewhere or not allowed: NotFound."""
    access.require(capability)
    try:
        return Complaint.objects.select_related(
            "patient", "owner", "doctor", "recorded_by", "resolved_by", "appointment"
        ).get(pk=int(complaint_id), branch=access.branch)
    except (Complaint.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
