"""What the HTTP transports share: one POST whose failures are already an outcome, and the
template-message transports of the chat apps (Zalo ZNS, WeChat), which differ only in
their URL, how the token travels, the payload's shape and the answer's field names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Self

from django.conf import settings

from chairtime.messaging.transports.base import (
    Lookup,
    MaybeSent,
    NotSent,
    Outcome,
    Permanent,
    Response,
    Sent,
    Temporary,
    Unknown,
    Unsupported,
    classify_failure,
    http_request,
    short,
)
from chairtime.messaging.transports.chat import CHAT_TEMPLATES, template_ids

if TYPE_CHECKING:
    from chairtime.messaging.models import Message


def key_within(message: Message, length: int) -> str:
    """Our idempotency key as the provider's own de-duplication id (ZNS tracking_id,
    WeChat client_msg_id), or its digest when longer than the provider accepts."""
    key = message.idempotency_key
    if len(key) <= length:
        return key
    return hashlib.sha256(f"{message.organization_id}:{key}".encode()).hexdigest()[:32]


def _plain_failure(response: Response) -> Outcome:
    return classify_failure(response, short(response.body))


def post(
    url: str,
    *,
    timeout: float,
    deadline: float | None,
    failure: Callable[[Response], Outcome] = _plain_failure,
    **request: Any,
) -> Response | Outcome:
    """POST once. The 2xx answer to read, or the outcome already decided: never connected
    → Temporary, no answer → Unknown, another status → `failure(response)`."""
    try:
        response = http_request("POST", url, timeout=timeout, deadline=deadline, **request)
    except NotSent as error:
        return Temporary(str(error))
    except MaybeSent as error:
        return Unknown(str(error))
    if not 200 <= response.status < 300:
        return failure(response)
    return response


@dataclass(frozen=True)
class TemplateTransport:
    """A chat app's template messages: the provider's template id for our template code,
    its fields filled from the message's parameters, one POST, and an answer carrying an
    error code (0: accepted, with the provider's message id). Neither provider can be
    asked later whether it got a message: an unknown outcome waits for a person."""

    base_url: str
    access_token: str
    timeout: float
    templates: dict[str, str] = field(default_factory=dict)

    name: ClassVar[str]  # also the channel and the settings' MESSAGING_<NAME>
    label: ClassVar[str]
    path: ClassVar[str]
    error_field: ClassVar[str]  # the answer's error code: 0 is success
    message_field: ClassVar[str]  # the answer's error text
    temporary_errors: ClassVar[frozenset[int]]  # codes that mean "later", not "never"
    can_lookup: ClassVar[bool] = False

    @classmethod
    def from_settings(cls) -> Self:
        config = getattr(settings, f"MESSAGING_{cls.name.upper()}")
        return cls(
            base_url=config["BASE_URL"].rstrip("/"), access_token=config["ACCESS_TOKEN"],
            timeout=settings.MESSAGING_HTTP_TIMEOUT_SECONDS,
            templates=template_ids(getattr(settings, f"MESSAGING_{cls.name.upper()}_TEMPLATES")),
        )  # fmt: skip

    def payload(self, message: Message, template_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def auth(self) -> dict[str, Any]:
        """Where the access token goes: `headers` or `query` of the request."""
        raise NotImplementedError

    def provider_id(self, answer: dict[str, Any]) -> object:
        raise NotImplementedError

    def send(self, message: Message, *, deadline: float | None = None) -> Outcome:
        template_id = self.templates.get(message.template_code)
        if template_id is None or message.template_code not in CHAT_TEMPLATES[self.name]:
            return Permanent(
                f"no {self.label} template id configured for {message.template_code!r}",
                "template",
            )
        answer = post(
            f"{self.base_url}{self.path}", timeout=self.timeout, deadline=deadline,
            json_body=self.payload(message, template_id), **self.auth(),
        )  # fmt: skip
        if not isinstance(answer, Response):
            return answer
        return self._outcome(answer)

    def lookup(self, message: Message) -> Lookup:
        return Unsupported()

    def _outcome(self, response: Response) -> Outcome:
        try:  # a 2xx we cannot read may still have been accepted
            answer = response.json()
            code = int(answer[self.error_field])
        except (ValueError, AttributeError, TypeError, KeyError):
            return Unknown(f"unreadable answer: {short(response.body)}")
        if code == 0:
            provider_id = self.provider_id(answer)
            if provider_id in (None, ""):
                return Unknown(f"no message id in the answer: {short(response.body)}")
            return Sent(str(provider_id))
        text = f"{self.label} {self.error_field} {code}: {answer.get(self.message_field, '')}"
        if code in self.temporary_errors:
            return Temporary(text)
        return Permanent(text, code=str(code))
