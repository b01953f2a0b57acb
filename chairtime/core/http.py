"""Small request helpers shared by views."""

from __future__ import annotations

import ipaddress
from datetime import date

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from; the login lockout and the audit trail use it.

    Behind N trusted proxies (CHAIRTIME_PROXY_COUNT) each proxy appends the address it
    received from to X-Forwarded-For, so the client is the N-th entry from the right;
    anything further left was written by the client and cannot be trusted.
    """
    remote = str(request.META["REMOTE_ADDR"]) if request.META.get("REMOTE_ADDR") else None
    proxies: int = settings.CHAIRTIME_PROXY_COUNT
    if proxies <= 0:
        return remote
    header = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
    forwarded = [part.strip() for part in header.split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return remote
    return candidate


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The `next` parameter when it points back into this site, else the fallback."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def requested_day(
    request: HttpRequest, *, parameter: str, today: date, first: date, last: date
) -> tuple[date, str]:
    """The day asked for in `?<parameter>=YYYY-MM-DD`, or `today` with the reason when it is
    missing (no reason), unreadable or outside [first, last] (the pages step a week either
    way, so the bounds keep that arithmetic inside Python's dates)."""
    raw = request.GET.get(parameter, "").strip()
    if not raw:
        return today, ""
    try:
        day: date | None = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or not first <= day <= last:
        return today, _("“%(value)s” is not a date; showing today.") % {"value": raw}
    return day, ""
