"""Attach the active branch (and what the user may do there) to every request."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from chairtime.core.errors import NotFound
from chairtime.tenancy.access import BranchAccess, default_branch_access, get_branch_access

SESSION_KEY = "active_branch_id"


def resolve_branch_access(request: HttpRequest) -> BranchAccess | None:
    """The branch chosen in this session if the user may still use it, else their first."""
    if not request.user.is_authenticated:
        return None
    chosen = request.session.get(SESSION_KEY)
    if chosen is not None:
        try:
            return get_branch_access(request.user, chosen)
        except NotFound:
            del request.session[SESSION_KEY]  # membership ended since it was chosen
    return default_branch_access(request.user)


class ActiveBranchMiddleware:
    """Sets request.branch_access and shows times in the branch's time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        access = resolve_branch_access(request)
        request.branch_access = access  # type: ignore[attr-defined]
        if access is not None:
            timezone.activate(access.branch.zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
