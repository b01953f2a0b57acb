"""The one way in to a lab case (the active branch's) and a lab (the organisation's)."""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.labs.models import Lab, LabCase
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_case(
    access: BranchAccess, case_id: int | str, *, capability: Capability = Capability.LAB_VIEW
) -> LabCase:
    """A case of the active branch; missing, another branch's or not allowed: NotFound."""
    access.require(capability)
    try:
        return LabCase.objects.select_related(
            "lab", "patient", "branch", "appointment__procedure", "appointment__doctor",
            "plan_item__procedure", "ordered_by",
        ).get(pk=int(case_id), branch=access.branch)  # fmt: skip
    except (LabCase.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None


def access_lab(
    access: BranchAccess, lab_id: int | str, *, capability: Capability = Capability.LAB_EDIT
) -> Lab:
    """A lab of the active branch's organisation; anything else: NotFound."""
    access.require(capability)
    try:
        return Lab.objects.select_related("organization").get(
            pk=int(lab_id), organization_id=access.branch.organization_id
        )
    except (Lab.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
