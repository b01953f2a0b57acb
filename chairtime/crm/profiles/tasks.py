"""Background tasks of the customer groups."""

from __future__ import annotations

from chairtime.crm.profiles.compute import recompute_organization
from chairtime.tenancy.models import Organization


def recompute_profiles_task(organization_id: int) -> int:
    """Recompute one organisation's profiles (after its thresholds changed)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    return recompute_organization(organization).patients


def recompute_all_profiles_task() -> int:
    """Scheduled daily: every organisation's profiles and groups, the backstop for changes
    the signals do not see (queryset updates) and for time passing (days since a visit)."""
    return sum(
        recompute_organization(organization).patients
        for organization in Organization.objects.order_by("pk")
    )
