"""The one way in to treatment plans and their items."""

from __future__ import annotations

from chairtime.clinical.models import TreatmentItem, TreatmentPlan
from chairtime.core.errors import NotFound
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_plan(
    access: BranchAccess,
    plan_id: int | str,
    capability: Capability = Capability.TREATMENT_VIEW,
) -> TreatmentPlan:
    """A plan of the active branch the user may act on; another branch's plan, a missing
    one and a capability the user lacks all look the same: NotFound."""
    access.require(capability)
    try:
        return TreatmentPlan.objects.select_related(
            "branch", "patient", "doctor", "consultant"
        ).get(pk=int(plan_id), branch=access.branch)
    except (TreatmentPlan.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None


def access_plan_item(
    access: BranchAccess,
    item_id: int | str,
    capability: Capability = Capability.TREATMENT_VIEW,
    *,
    plan: TreatmentPlan | None = None,
) -> TreatmentItem:
    """An item of a plan of the active branch (of `plan` when given), or NotFound."""
    access.require(capability)
    items = TreatmentItem.objects.select_related("option__plan", "procedure", "appointment")
    if plan is not None:
        items = items.filter(option__plan=plan)
    try:
        return items.get(pk=int(item_id), option__plan__branch=access.branch)
    except (TreatmentItem.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
