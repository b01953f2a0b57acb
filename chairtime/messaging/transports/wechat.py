"""WeChat template messages to a follower of the clinic's official account.

POST {base}/cgi-bin/message/template/send?access_token=…, JSON {"touser": openid,
"template_id", "data": {field: {"value": …}}, "client_msg_id": our key}; the answer is
{"errcode": 0, "msgid": …}. WeChat drops a second send with the same client_msg_id for a
while, but cannot be asked whether it has one: an unknown outcome waits for a person.
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
from chairtime.messaging.transports.chat import (
    CHAT_TEMPLATES,
    provider_data,
    provider_url,
    template_ids,
)

if TYPE_CHECKING:
    from chairtime.messaging.models import Message

# errcode -1: system busy; 45009: API quota reached; 40001/42001: the access token expired
# (an operator refreshes it; meanwhile the message waits).
TEMPORARY_ERRORS = frozenset({-1, 45009, 40001, 42001})
CLIENT_MSG_ID_LENGTH = 64


def client_msg_id(message: Message) -> str:
    key = message.idempotency_key
    if len(key) <= CLIENT_MSG_ID_LENGTH:
        return key
    return hashlib.sha256(f"{message.organization_id}:{key}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class WeChatTransport:
    base_url: str
    access_token: str
    timeout: float
    templates: dict[str, str] = field(default_factory=dict)
    name: str = "wechat"

    @classmethod
    def from_settings(cls) -> WeChatTransport:
        config = settings.MESSAGING_WECHAT
        return cls(
            base_url=config["BASE_URL"].rstrip("/"), access_token=config["ACCESS_TOKEN"],
            timeout=settings.MESSAGING_HTTP_TIMEOUT_SECONDS,
            templates=template_ids(settings.MESSAGING_WECHAT_TEMPLATES),
        )  # fmt: skip

    def send(self, message: Message) -> Outcome:
        template_id = self.templates.get(message.template_code)
        if template_id is None or message.template_code not in CHAT_TEMPLATES["wechat"]:
            return Permanent(
                f"no WeChat template id configured for {message.template_code!r}", "template"
            )
        data = provider_data("wechat", message.template_code, message.params)
        payload = {
            "touser": message.to_address,
            "template_id": template_id,
            "data": {name: {"value": value} for name, value in data.items()},
            "client_msg_id": client_msg_id(message),
        }
        url = provider_url("wechat", message.template_code, message.params)
        if url:
            payload["url"] = url  # the click-through (a confirmation link)
        try:
            response = http_request(
                "POST", f"{self.base_url}/cgi-bin/message/template/send", timeout=self.timeout,
                json_body=payload, query={"access_token": self.access_token},
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
        code = int(payload.get("errcode", -2))
    except (ValueError, AttributeError, TypeError):
        return Unknown(f"unreadable answer: {short(response.body)}")
    if code == 0:
        msgid = payload.get("msgid")
        if msgid in (None, ""):
            return Unknown(f"no msgid in the answer: {short(response.body)}")
        return Sent(str(msgid))
    text = f"WeChat errcode {code}: {payload.get('errmsg', '')}"
    if code in TEMPORARY_ERRORS:
        return Temporary(text)
    return Permanent(text, code=str(code))
