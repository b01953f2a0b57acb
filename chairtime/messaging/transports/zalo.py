"""Zalo notification service (ZNS): template messages to a phone number.

POST {base}/message/template, header `access_token`, JSON {"phone": "84912345678",
"template_id", "template_data": {field: value}, "tracking_id": our key}; the answer is
{"error": 0, "data": {"msg_id": …}} or a non-zero error. ZNS offers no look-up by our
tracking id, so an unknown outcome waits for a person (Unsupported).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings

from chairtime.messaging.transports.base import (
    Lookup,
    MaybeSent,
    NotSent,
    Outcome,
    Permanent,
    Sent,
    Temporary,
    Unknown,
    Unsupported,
    classify_failure,
    http_request,
    short,
)
from chairtime.messaging.transports.chat import CHAT_TEMPLATES, provider_data, template_ids

if TYPE_CHECKING:
    from chairtime.messaging.models import Message

# ZNS errors that mean "later" rather than "never": rate limits, the service itself.
TEMPORARY_ERRORS = frozenset({-32, -50, -500})
TRACKING_ID_LENGTH = 48


def tracking_id(message: Message) -> str:
    """Our idempotency key, or its digest when longer than ZNS accepts."""
    key = message.idempotency_key
    if len(key) <= TRACKING_ID_LENGTH:
        return key
    return hashlib.sha256(f"{message.organization_id}:{key}".encode()).hexdigest()[:32]


def zalo_phone(e164: str) -> str:
    """ZNS wants the number without the plus: 84912345678."""
    return e164.lstrip("+")


@dataclass(frozen=True)
class ZaloTransport:
    base_url: str
    access_token: str
    timeout: float
    templates: dict[str, str] = field(default_factory=dict)
    name: str = "zalo"

    @classmethod
    def from_settings(cls) -> ZaloTransport:
        config = settings.MESSAGING_ZALO
        return cls(
            base_url=config["BASE_URL"].rstrip("/"), access_token=config["ACCESS_TOKEN"],
            timeout=settings.MESSAGING_HTTP_TIMEOUT_SECONDS,
            templates=template_ids(settings.MESSAGING_ZALO_TEMPLATES),
        )  # fmt: skip

    def send(self, message: Message) -> Outcome:
        template_id = self.templates.get(message.template_code)
        if template_id is None or message.template_code not in CHAT_TEMPLATES["zalo"]:
            return Permanent(
                f"no Zalo template id configured for {message.template_code!r}", "template"
            )
        payload = {
            "phone": zalo_phone(message.to_address),
            "template_id": template_id,
            "template_data": provider_data("zalo", message.template_code, message.params),
            "tracking_id": tracking_id(message),
        }
        try:
            response = http_request(
                "POST", f"{self.base_url}/message/template", timeout=self.timeout,
                json_body=payload, headers={"access_token": self.access_token},
            )  # fmt: skip
        except NotSent as error:
            return Temporary(str(error))
        except MaybeSent as error:
            return Unknown(str(error))
        if not 200 <= response.status < 300:
            return classify_failure(response, short(response.body))
        return _answer(response)

    def lookup(self, message: Message) -> Lookup:
        return Unsupported()


def _answer(response: Any) -> Outcome:
    try:
        payload = response.json()
        error = int(payload.get("error", -1))
    except (ValueError, AttributeError, TypeError):
        return Unknown(f"unreadable answer: {short(response.body)}")
    if error == 0:
        msg_id = (payload.get("data") or {}).get("msg_id")
        if not msg_id:
            return Unknown(f"no msg_id in the answer: {short(response.body)}")
        return Sent(str(msg_id))
    text = f"Zalo error {error}: {payload.get('message', '')}"
    if error in TEMPORARY_ERRORS:
        return Temporary(text)
    return Permanent(text, code=str(error))
