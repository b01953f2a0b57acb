"""The one way in to a care task: the active branch's, with the capability held."""

from __future__ import annotations

from chairtime.care.models import CareTask
from chairtime.core.errors import NotFound
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_task(
    access: BranchAccess, task_id: int | str, *, capability: Capability = Capability.CARE_VIEW
) -> CareTask:
    """A task of the active branch; missing, another branch's or not allowed: NotFound."""
    access.require(capability)
    try:
        return CareTask.objects.select_related(
            "patient", "branch", "assigned_to", "closed_by", "appointment__procedure",
            "plan", "complaint",
        ).get(pk=int(task_id), branch=access.branch)  # fmt: skip
    except (CareTask.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
