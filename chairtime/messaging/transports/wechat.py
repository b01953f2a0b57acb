"""WeChat template messages to a follower of the clinic's official account.

POST {base}/cgi-bin/message/template/send?access_token=…, JSON {"touser": openid,
"template_id", "data": {field: {"value": …}}, "client_msg_id": our key}; the answer is
{"errcode": 0, "msgid": …}. WeChat drops a second send with the same client_msg_id for a
while, but cannot be asked whether it has one: an unknown outcome waits for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from chairtime.messaging.transports.chat import provider_data, provider_url
from chairtime.messaging.transports.http import TemplateTransport, key_within

if TYPE_CHECKING:
    from chairtime.messaging.models import Message

CLIENT_MSG_ID_LENGTH = 64


def client_msg_id(message: Message) -> str:
    return key_within(message, CLIENT_MSG_ID_LENGTH)


@dataclass(frozen=True)
class WeChatTransport(TemplateTransport):
    name: ClassVar[str] = "wechat"
    label: ClassVar[str] = "WeChat"
    path: ClassVar[str] = "/cgi-bin/message/template/send"
    error_field: ClassVar[str] = "errcode"
    message_field: ClassVar[str] = "errmsg"
    # -1: system busy; 45009: API quota reached; 40001/42001: the access token expired
    # (an operator refreshes it; meanwhile the message waits).
    temporary_errors: ClassVar[frozenset[int]] = frozenset({-1, 45009, 40001, 42001})

    def payload(self, message: Message, template_id: str) -> dict[str, Any]:
        data = provider_data("wechat", message.template_code, message.params)
        payload: dict[str, Any] = {
            "touser": message.to_address,
            "template_id": template_id,
            "data": {name: {"value": value} for name, value in data.items()},
            "client_msg_id": client_msg_id(message),
        }
        url = provider_url("wechat", message.template_code, message.params)
        if url:
            payload["url"] = url  # the click-through (a confirmation link)
        return payload

    def auth(self) -> dict[str, Any]:
        return {"query": {"access_token": self.access_token}}

    def provider_id(self, answer: dict[str, Any]) -> object:
        return answer.get("msgid")
