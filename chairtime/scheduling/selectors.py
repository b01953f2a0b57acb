"""Reads of branch resources."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from chairtime.accounts.models import User
from chairtime.scheduling.models import Chair
from chairtime.tenancy.models import Branch, Membership, OpeningHours
from chairtime.tenancy.roles import Role


@dataclass(frozen=True)
class StaffRow:
    user: User
    roles: list[str]


def list_branch_staff(*, branch: Branch) -> list[StaffRow]:
    """Everyone who works in the branch, directly or organisation-wide, with their roles."""
    memberships = (
        Membership.objects.filter(organization_id=branch.organization_id)
        .filter(branch__isnull=True)
        .union(Membership.objects.filter(branch=branch))
    )
    by_user: dict[int, list[str]] = {}
    for user_id, role in memberships.values_list("user_id", "role"):
        by_user.setdefault(user_id, []).append(str(Role(role).label))
    users = (
        User.objects.filter(pk__in=by_user)
        .select_related("staff_profile")
        .order_by("last_name", "first_name")
    )
    return [StaffRow(user=user, roles=sorted(by_user[user.pk])) for user in users]


def list_chairs(*, branch: Branch) -> QuerySet[Chair]:
    return Chair.objects.filter(branch=branch)


def list_opening_hours(*, branch: Branch) -> QuerySet[OpeningHours]:
    return OpeningHours.objects.filter(branch=branch)
