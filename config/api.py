"""The REST API: one NinjaAPI with every app's router, mounted at /api/v1/ by config.urls.

Errors keep one shape: 404 {"detail"} for missing and forbidden alike, 422 {"detail",
"errors": {field: [messages]}} for bad input, 409 with the same body when the input is
valid but what it needs is taken (a Conflict), in the language the request asks for.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError

from chairtime.accounts.api import SessionAuth, TokenAuth
from chairtime.billing.api import router as money_router
from chairtime.care.api import router as care_router
from chairtime.clinical.api import router as treatment_router
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.crm.duplicates.api import router as duplicates_router
from chairtime.crm.feedback.api import router as feedback_router
from chairtime.crm.importing.api import router as imports_router
from chairtime.crm.profiles.api import router as groups_router
from chairtime.crm.referrals.api import router as referrals_router
from chairtime.crm.segments.api import router as segments_router
from chairtime.crm.timeline.api import router as timeline_router
from chairtime.frontdesk.api import router as desk_router
from chairtime.labs.api import router as labs_router
from chairtime.messaging.api import inbox_router
from chairtime.messaging.api import router as messages_router
from chairtime.messaging.automation.api import router as automation_router
from chairtime.patients.api import router as patients_router
from chairtime.scheduling.api import router as appointments_router
from chairtime.scheduling.api import slots_router
from chairtime.tenancy.api import router as tenancy_router
from chairtime.waitlist.api import router as waitlist_router

_LOCATIONS = {"body", "payload", "query", "path", "filters"}


def _field_errors(error: NinjaValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for item in error.errors:
        location = [str(part) for part in item.get("loc", ()) if part not in _LOCATIONS]
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

    # Conflict is an InvalidInput: ninja picks the handler of the most specific class.
    @api.exception_handler(Conflict)
    def conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
        body = {"detail": _("Something this needs is already taken."), "errors": exc.errors}
        return api.create_response(request, body, status=409)

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
        body = {"detail": _("Log in or send a valid API token.")}
        return api.create_response(request, body, status=401)

    api.add_router("/", tenancy_router)
    api.add_router("/patients", patients_router)
    api.add_router("/appointments", appointments_router)
    api.add_router("/slots", slots_router)
    api.add_router("/money", money_router)
    api.add_router("/treatment", treatment_router)
    api.add_router("/groups", groups_router)
    api.add_router("/segments", segments_router)
    api.add_router("/imports", imports_router)
    api.add_router("/feedback", feedback_router)
    api.add_router("/referrals", referrals_router)
    api.add_router("/timeline", timeline_router)
    api.add_router("/duplicates", duplicates_router)
    api.add_router("/care", care_router)
    api.add_router("/labs", labs_router)
    api.add_router("/desk", desk_router)
    api.add_router("/messages", messages_router)
    api.add_router("/inbox", inbox_router)
    api.add_router("/messaging", automation_router)
    api.add_router("/waitlist", waitlist_router)
    return api
