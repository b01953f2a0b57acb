"""API: who am I, and which branches may I work in."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from chairtime.core.errors import NotFound
from chairtime.tenancy.access import (
    BranchAccess,
    default_branch_access,
    get_branch_access,
    list_user_branches,
)
from chairtime.tenancy.middleware import SESSION_KEY

router = Router(tags=["me"])

BRANCH_HEADER = "X-Branch"


def api_branch_access(request: HttpRequest) -> BranchAccess:
    """The branch named in the X-Branch header, else the session's, else the first one."""
    named = request.headers.get(BRANCH_HEADER) or (
        request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    )
    if named:
        return get_branch_access(request.user, named)
    access = default_branch_access(request.user)
    if access is None:
        raise NotFound
    return access


class BranchOut(Schema):
    id: int
    name: str
    code: str
    organization: str
    country: str
    time_zone: str
    currency: str
    locale: str


class MeOut(Schema):
    username: str
    name: str
    language: str
    branches: list[BranchOut]
    active_branch_id: int
    roles: list[str]
    capabilities: list[str]


@router.get("/me", response=MeOut, summary="The current user, their branches and capabilities")
def me(request: HttpRequest) -> MeOut:
    access = api_branch_access(request)
    user = request.user
    branches = [
        BranchOut(
            id=b.pk, name=b.name, code=b.code, organization=b.organization.name,
            country=b.country, time_zone=b.time_zone, currency=b.currency, locale=b.locale,
        )
        for b in list_user_branches(user)
    ]  # fmt: skip
    return MeOut(
        username=user.get_username(),
        name=str(user),
        language=getattr(user, "language", ""),
        branches=branches,
        active_branch_id=access.branch.pk,
        roles=sorted(access.roles),
        capabilities=sorted(access.capabilities),
    )
