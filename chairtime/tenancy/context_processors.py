"""Template context for the shell: the active branch, the switcher, the navigation."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from chairtime.tenancy.access import list_user_branches
from chairtime.tenancy.navigation import visible_navigation


def tenancy(request: HttpRequest) -> dict[str, Any]:
    access = getattr(request, "branch_access", None)
    if access is None:
        return {"branch_access": None, "user_branches": [], "navigation": []}
    return {
        "branch_access": access,
        "active_branch": access.branch,
        "user_branches": list(list_user_branches(request.user)),
        "navigation": visible_navigation(access, request.resolver_match),
    }
