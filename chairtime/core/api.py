"""The REST API's shared parts: authentication, the active branch, error shapes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from chairtime.accounts.services import authenticate_api_token
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.tenancy.access import BranchAccess, default_branch_access, get_branch_access
from chairtime.tenancy.middleware import SESSION_KEY

BRANCH_HEADER = "X-Branch"


class TokenAuth(HttpBearer):
    """`Authorization: Bearer ct_…` with a token made on the account page."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = authenticate_api_token(token)
        if user is not None:
            request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The browser's login session; ninja checks the CSRF token on unsafe methods."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        return request.user if request.user.is_authenticated else None


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


def _field_errors(error: NinjaValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for item in error.errors:
        location = [
            str(part)
            for part in item.get("loc", ())
            if part not in ("body", "payload", "query", "path")
        ]
        errors.setdefault(".".join(location) or "__all__", []).append(str(item.get("msg", "")))
    return errors


def build_api() -> NinjaAPI:
    api = NinjaAPI(
        title="Chairtime API",
        version="1",
        description="Everything the Chairtime pages can do, for integrations and scripts.",
        auth=[TokenAuth(), SessionAuth()],
        urls_namespace="api",
    )

    @api.exception_handler(NotFound)
    def not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
        return api.create_response(request, {"detail": _("Not found.")}, status=404)

    @api.exception_handler(InvalidInput)
    def invalid_input(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
        body = {"detail": _("The input is not valid."), "errors": exc.errors}
        return api.create_response(request, body, status=422)

    @api.exception_handler(NinjaValidationError)
    def invalid_shape(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        body = {"detail": _("The input is not valid."), "errors": _field_errors(exc)}
        return api.create_response(request, body, status=422)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(
            request, {"detail": _("Log in or send a valid API token.")}, status=401
        )

    from chairtime.patients.api import router as patients_router
    from chairtime.tenancy.api import router as tenancy_router

    api.add_router("/", tenancy_router)
    api.add_router("/patients", patients_router)
    return api
