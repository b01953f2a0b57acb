"""Reads of the customer groups: a patient's profile, counts per group, flows between them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from chairtime.crm.choices import CustomerGroup
from chairtime.crm.models import GroupChange, PatientProfile, ProfileRun
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch

FLOW_WINDOWS = (30, 90)


@dataclass(frozen=True)
class Flow:
    from_group: str
    to_group: str
    count: int


@dataclass(frozen=True)
class GroupSummary:
    """Patients per group (this branch's home patients, or the organisation's), and the
    moves between groups over the last 30 and 90 days."""

    counts: dict[str, int]
    total: int
    flows: dict[int, list[Flow]]  # days -> moves, most first


def get_profile(patient: Patient) -> PatientProfile | None:
    return PatientProfile.objects.filter(patient_id=patient.pk).first()


def get_checked_at(profile: PatientProfile) -> datetime:
    """When the profile's numbers were last known true: written then (`computed_at`), or
    found unchanged by a later full run of its organisation."""
    run = ProfileRun.objects.filter(organization_id=profile.organization_id).first()
    if run is None or run.finished_at < profile.computed_at:
        return profile.computed_at
    return run.finished_at


def get_group_summary(
    *, branch: Branch, whole_organization: bool = False, now: datetime | None = None
) -> GroupSummary:
    now = now or timezone.now()
    profiles = PatientProfile.objects.filter(organization_id=branch.organization_id)
    changes = GroupChange.objects.filter(organization_id=branch.organization_id).exclude(
        from_group=""
    )
    if not whole_organization:
        profiles = profiles.filter(home_branch_id=branch.pk)
        changes = changes.filter(patient__home_branch_id=branch.pk)
    found = dict(profiles.order_by().values_list("group").annotate(n=Count("pk")))
    counts = {group: found.get(group, 0) for group in CustomerGroup.values}
    flows: dict[int, list[Flow]] = {}
    for days in FLOW_WINDOWS:
        rows = (
            changes.filter(changed_at__gte=now - timedelta(days=days))
            .order_by()
            .values_list("from_group", "to_group")
            .annotate(n=Count("pk"))
        )
        flows[days] = sorted(
            (Flow(a, b, n) for a, b, n in rows), key=lambda f: (-f.count, f.from_group, f.to_group)
        )
    return GroupSummary(counts=counts, total=sum(counts.values()), flows=flows)
