"""The capability gate for pages: logged in, a branch chosen, and the capability held."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse

from chairtime.core.errors import NotFound
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.roles import Capability

View = TypeVar("View", bound=Callable[..., HttpResponse])


def branch_access_of(request: HttpRequest) -> BranchAccess:
    access: BranchAccess | None = getattr(request, "branch_access", None)
    if access is None:
        raise NotFound
    return access


def capability_required(capability: Capability) -> Callable[[View], View]:
    """Refuse with a 404 (never a 403) when the user may not do this in the active branch."""

    def decorate(view: View) -> View:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            branch_access_of(request).require(capability)
            return view(request, *args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorate
