"""Zalo notification service (ZNS): template messages to a phone number.

POST {base}/message/template, header `access_token`, JSON {"phone": "84912345678",
"template_id", "template_data": {field: value}, "tracking_id": our key}; the answer is
{"error": 0, "data": {"msg_id": …}} or a non-zero error. ZNS offers no look-up by our
tracking id, so an unknown outcome waits for a person (Unsupported).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from chairtime.messaging.transports.chat import provider_data
from chairtime.messaging.transports.http import TemplateTransport, key_within

if TYPE_CHECKING:
    from chairtime.messaging.models import Message

TRACKING_ID_LENGTH = 48


def tracking_id(message: Message) -> str:
    return key_within(message, TRACKING_ID_LENGTH)


def zalo_phone(e164: str) -> str:
    """ZNS wants the number without the plus: 84912345678."""
    return e164.lstrip("+")


@dataclass(frozen=True)
class ZaloTransport(TemplateTransport):
    name: ClassVar[str] = "zalo"
    label: ClassVar[str] = "Zalo"
    path: ClassVar[str] = "/message/template"
    error_field: ClassVar[str] = "error"
    message_field: ClassVar[str] = "message"
    # ZNS errors that mean "later" rather than "never": rate limits, the service itself.
    temporary_errors: ClassVar[frozenset[int]] = frozenset({-32, -50, -500})

    def payload(self, message: Message, template_id: str) -> dict[str, Any]:
        return {
            "phone": zalo_phone(message.to_address),
            "template_id": template_id,
            "template_data": provider_data("zalo", message.template_code, message.params),
            "tracking_id": tracking_id(message),
        }

    def auth(self) -> dict[str, Any]:
        return {"headers": {"access_token": self.access_token}}

    def provider_id(self, answer: dict[str, Any]) -> object:
        return (answer.get("data") or {}).get("msg_id")
