"""Reads for the branch's home page ("Today")."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from chairtime.patients.models import Patient
from chairtime.scheduling.models import Chair
from chairtime.tenancy.models import Branch, Membership


@dataclass(frozen=True)
class BranchSummary:
    patients: int
    new_patients_this_month: int
    chairs: int
    staff: int


def get_branch_summary(*, branch: Branch) -> BranchSummary:
    """Headline counts for the branch: its patients, this month's new ones, chairs, staff."""
    today = timezone.localdate()
    home = Patient.objects.filter(organization_id=branch.organization_id, home_branch=branch)
    return BranchSummary(
        patients=home.count(),
        new_patients_this_month=home.filter(
            first_seen_on__gte=today.replace(day=1), first_seen_on__lte=today
        ).count(),
        chairs=Chair.objects.filter(branch=branch, is_active=True).count(),
        staff=Membership.objects.filter(branch=branch).values("user_id").distinct().count(),
    )
