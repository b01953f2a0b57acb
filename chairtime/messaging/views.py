"""Pages of the outbox and the inbox, and the providers' public webhooks.

Pages need `messaging.view` (in the branch of what they show); acting on the inbox
(mark handled, reply) also needs `care.work`, and deciding an unknown outcome
`messaging.configure`. Webhooks are outside the login and CSRF: the provider's signature
is their key (signatures.py); a bad one answers 403 and changes nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.core.http import is_htmx
from chairtime.messaging.access import (
    access_inbound,
    access_message,
    holds_in_every_branch,
    messaging_branch_ids,
)
from chairtime.messaging.choices import WEBHOOK_PROVIDERS, Provider
from chairtime.messaging.forms import InboxFilterForm, OutboxFilterForm, ReplyForm, ResolveForm
from chairtime.messaging.inbound import (
    Incoming,
    StatusReport,
    UnknownMessage,
    apply_status_report,
    receive_inbound,
)
from chairtime.messaging.selectors import (
    get_organization_id,
    list_inbox,
    list_message_events,
    list_messages,
    list_replies,
)
from chairtime.messaging.services import (
    mark_inbound_handled,
    reply_to_inbound,
    resolve_unknown_message,
)
from chairtime.messaging.signatures import is_signed
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Capability

logger = logging.getLogger("chairtime.messaging.hooks")
PAGE_SIZE = 50


def _querystring(data: QueryDict) -> str:
    kept = data.copy()
    kept.pop("page", None)
    return kept.urlencode()


def _add_errors(form: forms.Form, error: InvalidInput) -> None:
    for field, texts in error.errors.items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)


# --- the outbox -------------------------------------------------------------------------------
@require_GET
@capability_required(Capability.MESSAGING_VIEW)
def outbox_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    allowed = messaging_branch_ids(access.user)
    branches = list(Branch.objects.filter(pk__in=allowed).order_by("name"))
    form = OutboxFilterForm(request.GET or None, branches=branches)
    filters: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    chosen = filters.get("branch")
    branch_ids = [int(chosen)] if chosen else allowed
    rows = list_messages(
        branch_ids=branch_ids, status=filters.get("status", ""), channel=filters.get("channel", ""),
        day=filters.get("day"), zone=access.branch.zone,
    )  # fmt: skip
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "querystring": _querystring(request.GET)}
    template = "messaging/outbox_list.html"
    return render(request, f"{template}#rows" if is_htmx(request) else template, context)


@require_GET
@capability_required(Capability.MESSAGING_VIEW)
def message_detail(request: HttpRequest, message_id: int) -> HttpResponse:
    access = branch_access_of(request)
    message = access_message(access, message_id)
    context = {
        "message": message,
        "events": list_message_events(message),
        "resolve_form": ResolveForm()
        if _can(access, message.branch_id, Capability.MESSAGING_CONFIGURE)
        else None,
    }
    return render(request, "messaging/message_detail.html", context)


@require_POST
@capability_required(Capability.MESSAGING_VIEW)
def message_resolve(request: HttpRequest, message_id: int) -> HttpResponse:
    access = branch_access_of(request)
    message = access_message(access, message_id, also=Capability.MESSAGING_CONFIGURE)
    form = ResolveForm(request.POST)
    if form.is_valid():
        try:
            resolve_unknown_message(
                actor=acting_user(request), message=message,
                was_sent=form.cleaned_data["decision"] == "sent",
            )  # fmt: skip
        except InvalidInput as error:  # resolved meanwhile, or the look-up is pending
            for text in (m for errors in error.errors.values() for m in errors):
                messages.error(request, text)
    return redirect("messaging:message_detail", message_id=message.pk)


def _can(access: Any, branch_id: int, capability: Capability) -> bool:
    return branch_id in messaging_branch_ids(access.user, capability)


# --- the inbox --------------------------------------------------------------------------------
@require_GET
@capability_required(Capability.MESSAGING_VIEW)
def inbox_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = InboxFilterForm(request.GET or None)
    filters: dict[str, Any] = form.cleaned_data if form.is_valid() else {}
    organization_id = access.branch.organization_id
    whole = holds_in_every_branch(access.user, organization_id, Capability.MESSAGING_VIEW)
    rows = list_inbox(
        branch_ids=messaging_branch_ids(access.user), show=filters.get("show") or "open",
        kind=filters.get("kind", ""), organization_id=organization_id if whole else None,
    )  # fmt: skip
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "querystring": _querystring(request.GET)}
    template = "messaging/inbox_list.html"
    return render(request, f"{template}#rows" if is_htmx(request) else template, context)


@require_GET
@capability_required(Capability.MESSAGING_VIEW)
def inbound_detail(request: HttpRequest, inbound_id: int) -> HttpResponse:
    access = branch_access_of(request)
    inbound = access_inbound(access, inbound_id)
    return render(
        request, "messaging/inbound_detail.html", _inbound_context(access, inbound, ReplyForm())
    )


def _inbound_context(access: Any, inbound: Any, form: ReplyForm) -> dict[str, Any]:
    can_work = inbound.branch_id is not None and _can(
        access, inbound.branch_id, Capability.CARE_WORK
    )
    return {
        "inbound": inbound,
        "form": form if can_work else None,
        "replies": list_replies(inbound),
    }


@require_POST
@capability_required(Capability.MESSAGING_VIEW)
def inbound_handle(request: HttpRequest, inbound_id: int) -> HttpResponse:
    access = branch_access_of(request)
    inbound = access_inbound(access, inbound_id, also=Capability.CARE_WORK)
    mark_inbound_handled(actor=acting_user(request), inbound=inbound)
    return redirect("messaging:inbox_list")


@require_POST
@capability_required(Capability.MESSAGING_VIEW)
def inbound_reply(request: HttpRequest, inbound_id: int) -> HttpResponse:
    access = branch_access_of(request)
    inbound = access_inbound(access, inbound_id, also=Capability.CARE_WORK)
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            reply_to_inbound(
                actor=acting_user(request), inbound=inbound, text=form.cleaned_data["text"]
            )
        except InvalidInput as error:
            _add_errors(form, error)
        else:
            return redirect("messaging:inbound_detail", inbound_id=inbound.pk)
    context = _inbound_context(access, inbound, form)
    return render(request, "messaging/inbound_detail.html", context, status=422)


# --- webhooks ---------------------------------------------------------------------------------
def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _payload(request: HttpRequest, provider: str) -> dict[str, str]:
    """The call's fields: Twilio posts a form, our chat gateways JSON."""
    if provider == Provider.TWILIO:
        return {name: request.POST.get(name, "") for name in request.POST}
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _ref(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None


@csrf_exempt
@require_POST
def status_hook(request: HttpRequest, provider: str) -> HttpResponse:
    """A delivery report: sent → delivered or failed, never backwards."""
    if provider not in WEBHOOK_PROVIDERS:
        return _plain("Unknown provider.", 404)
    if not is_signed(request, provider):
        logger.warning("%s status callback with a bad signature refused", provider)
        return _plain("Bad signature.", 403)
    data = _payload(request, provider)
    if provider == Provider.TWILIO:
        report = StatusReport(provider, data.get("MessageSid", ""), data.get("MessageStatus", ""),
                              data.get("ErrorCode", ""), _ref(request.GET.get("ref", "")))  # fmt: skip
    else:
        report = StatusReport(provider, data.get("msg_id", ""), data.get("status", ""),
                              data.get("error", ""), _ref(data.get("ref", "")))  # fmt: skip
    if not report.provider_message_id or not report.status:
        return _plain("A message id and a status are required.", 400)
    try:
        message, changed = apply_status_report(report)
    except UnknownMessage:
        logger.warning(
            "%s status callback for unknown message %s", provider, report.provider_message_id
        )
        return _plain(f"Unknown message: {report.provider_message_id}", 404)
    return _plain(f"{message.status}{'' if changed else ' (unchanged)'}", 200)


@csrf_exempt
@require_POST
def inbound_hook(request: HttpRequest, provider: str) -> HttpResponse:
    """A message from a patient: stored once, matched, acted on."""
    if provider not in WEBHOOK_PROVIDERS:
        return _plain("Unknown provider.", 404)
    if not is_signed(request, provider):
        logger.warning("%s inbound message with a bad signature refused", provider)
        return _plain("Bad signature.", 403)
    data = _payload(request, provider)
    if provider == Provider.TWILIO:
        incoming = Incoming(
            provider, data.get("MessageSid", ""), data.get("From", ""), data.get("Body", "")
        )
    else:
        stamp = data.get("timestamp", "")
        received = datetime.fromtimestamp(int(stamp) / 1000, tz=UTC) if stamp.isdigit() else None
        incoming = Incoming(
            provider, data.get("msg_id", ""), data.get("sender", ""), data.get("text", ""), received
        )
    if not incoming.provider_message_id or not incoming.from_address:
        return _plain("A message id and a sender are required.", 400)
    # The organisation the provider's webhook URL names: Twilio signs the whole URL; our
    # chat gateways sign the body, so for them the body's "org" counts (then the URL's).
    slug = request.GET.get("org", "")
    if provider != Provider.TWILIO:
        slug = data.get("org", "") or slug
    organization_id = get_organization_id(slug) if slug else None
    if slug and organization_id is None:
        return _plain(f"Unknown organisation: {slug}", 404)
    inbound, _created = receive_inbound(incoming, organization_id=organization_id)
    if provider == Provider.TWILIO:  # an empty TwiML answer: no automatic reply
        return HttpResponse("<Response></Response>", content_type="text/xml")
    return _plain(inbound.kind, 200)
