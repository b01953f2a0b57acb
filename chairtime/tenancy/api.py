"""API: who am I, and which branches may I work in."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from chairtime.core.api import api_branch_access
from chairtime.tenancy.access import list_user_branches

router = Router(tags=["me"])


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
