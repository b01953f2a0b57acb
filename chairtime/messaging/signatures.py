"""Checking that a webhook call really comes from the provider.

- Twilio (and compatible gateways): X-Twilio-Signature is base64(HMAC-SHA1(auth token,
  the full URL the provider called + every POST parameter name and value, sorted by name)).
- Zalo and WeChat gateways: X-Chairtime-Signature is "sha256=" + hex(HMAC-SHA256(the
  channel's webhook secret, the raw request body)) — our contract with the gateway that
  relays their events (ADR 10).

An empty secret never verifies: an unconfigured provider's hooks answer 403. Signatures
are compared as UTF-8 bytes: a header with non-ASCII characters is just a bad signature
(compare_digest refuses non-ASCII text with a TypeError, which would be a 500).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest

SIGNATURE_HEADER = "X-Chairtime-Signature"


def twilio_signature(url: str, params: Mapping[str, str], token: str) -> str:
    data = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def body_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def same_signature(given: str, expected: str) -> bool:
    """Constant-time comparison that any header value survives."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def called_url(request: HttpRequest) -> str:
    """The URL as the provider called it: behind a proxy, the public base URL we gave it."""
    base = settings.MESSAGING_PUBLIC_BASE_URL.rstrip("/")
    return base + request.get_full_path() if base else request.build_absolute_uri()


def is_signed(request: HttpRequest, provider: str) -> bool:
    if provider == "twilio":
        token = settings.MESSAGING_TWILIO["AUTH_TOKEN"]
        given = request.headers.get("X-Twilio-Signature", "")
        params = {name: request.POST.get(name, "") for name in request.POST}
        expected = twilio_signature(called_url(request), params, token)
        return bool(token) and same_signature(given, expected)
    secrets: dict[str, str] = {
        "zalo": settings.MESSAGING_ZALO["WEBHOOK_SECRET"],
        "wechat": settings.MESSAGING_WECHAT["WEBHOOK_SECRET"],
    }
    secret = secrets.get(provider, "")
    given = request.headers.get(SIGNATURE_HEADER, "")
    return bool(secret) and same_signature(given, body_signature(request.body, secret))
