"""The one way in to branches: who may see which branch, and with which capabilities.

Forbidden looks exactly like missing: every refusal here is `NotFound`, the same 404 a
mistyped id gets, so nobody learns what exists in a branch they are not part of.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from chairtime.core.errors import NotFound
from chairtime.tenancy.models import Branch, Membership
from chairtime.tenancy.roles import Capability, Role, capabilities_of


@dataclass(frozen=True)
class BranchAccess:
    """What one user may do in one branch."""

    user: AbstractBaseUser
    branch: Branch
    roles: frozenset[Role]
    capabilities: frozenset[Capability]

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def require(self, capability: Capability) -> None:
        """Refuse, as if the thing asked for did not exist, when the capability is missing."""
        if capability not in self.capabilities:
            raise NotFound


AnyUser = AbstractBaseUser | AnonymousUser


def _memberships_of(user: AnyUser) -> QuerySet[Membership]:
    if not user.is_authenticated or not user.is_active:
        return Membership.objects.none()
    return Membership.objects.filter(user_id=user.pk)


def list_user_branches(user: AnyUser) -> QuerySet[Branch]:
    """Active branches the user belongs to, directly or through an organisation-wide role."""
    memberships = _memberships_of(user)
    direct = memberships.filter(branch__isnull=False).values("branch_id")
    org_wide = memberships.filter(branch__isnull=True).values("organization_id")
    return (
        Branch.objects.filter(is_active=True)
        .filter(Q(pk__in=direct) | Q(organization_id__in=org_wide))
        .select_related("organization")
        .order_by("organization__name", "name")
    )


def get_branch_access(user: AnyUser, branch_id: int | str | None) -> BranchAccess:
    """The user's roles and capabilities in a branch; NotFound if not a member."""
    if branch_id is None:
        raise NotFound
    try:
        branch = Branch.objects.select_related("organization").get(pk=branch_id, is_active=True)
    except (Branch.DoesNotExist, ValueError, TypeError):
        raise NotFound from None
    roles = frozenset(
        Role(role)
        for role in _memberships_of(user)
        .filter(organization_id=branch.organization_id)
        .filter(Q(branch_id=branch.pk) | Q(branch__isnull=True))
        .values_list("role", flat=True)
    )
    if not roles:
        raise NotFound
    return BranchAccess(
        user=user,  # type: ignore[arg-type]  # authenticated: memberships were found
        branch=branch,
        roles=roles,
        capabilities=capabilities_of(roles),
    )


def access_branch(user: AnyUser, branch_id: int | str | None) -> Branch:
    return get_branch_access(user, branch_id).branch


def default_branch_access(user: AnyUser) -> BranchAccess | None:
    """The first branch the user may work in, or None for a user with no membership."""
    first = list_user_branches(user).values_list("pk", flat=True).first()
    return None if first is None else get_branch_access(user, first)
