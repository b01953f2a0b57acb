"""The one way in to a patient record."""

from __future__ import annotations

from chairtime.core.errors import NotFound
from chairtime.patients.models import Patient
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability


def access_patient(
    access: BranchAccess, patient_id: int | str, *, capability: Capability = Capability.PATIENT_VIEW
) -> Patient:
    """A patient of the active branch's organisation that the user may act on.

    Missing, another organisation's, or a capability the user lacks: all NotFound.
    """
    access.require(capability)
    try:
        return (
            Patient.objects.for_branch(access.branch)
            .select_related(
                "organization", "home_branch", "preferred_doctor", "source_channel",
                "referred_by_patient", "referred_by_staff",
            )
            .get(pk=int(patient_id))
        )  # fmt: skip
    except (Patient.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None
