"""Small request helpers shared by views."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from (the proxy count is configured for django-axes)."""
    from axes.helpers import get_client_ip_address

    address: str | None = get_client_ip_address(request)
    return address


def safe_next_url(request: HttpRequest, fallback: str) -> str:
    """The `next` parameter when it points back into this site, else the fallback."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
