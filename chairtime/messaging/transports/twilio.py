"""SMS through a Twilio-compatible HTTP API (Twilio itself, or a local gateway speaking it).

Send: POST {base}/2010-04-01/Accounts/{sid}/Messages.json, form-encoded To, From, Body and
StatusCallback, HTTP basic auth (account sid, auth token); 201 with {"sid": …}.
Lookup: GET {base}/2010-04-01/Accounts/{sid}/Messages/{Sid}.json when the id is known,
else GET …/Messages.json?To=…&DateSent>=YYYY-MM-DD (the day our attempt started, UTC),
matching the body, skipping what the provider made before our attempt started (a minute
allowed for clocks) and ids another of our messages already holds (two identical texts
to one number on one day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from django.conf import settings
from django.urls import reverse

from chairtime.messaging.transports.base import (
    Lookup,
    LookupFailed,
    MaybeSent,
    NotFound,
    NotSent,
    Outcome,
    Permanent,
    Response,
    Sent,
    Unknown,
    classify_failure,
    http_request,
    short,
)
from chairtime.messaging.transports.http import post

if TYPE_CHECKING:
    from chairtime.messaging.models import Message

API_VERSION = "2010-04-01"
LOOKUP_PAGES = 5
CLOCK_ALLOWANCE = timedelta(minutes=1)  # between our clock and the provider's


@dataclass(frozen=True)
class TwilioTransport:
    base_url: str
    account_sid: str
    auth_token: str
    sender: str
    timeout: float
    public_base_url: str = ""
    name: str = "twilio"
    can_lookup: ClassVar[bool] = True

    @classmethod
    def from_settings(cls) -> TwilioTransport:
        config = settings.MESSAGING_TWILIO
        return cls(
            base_url=config["BASE_URL"].rstrip("/"), account_sid=config["ACCOUNT_SID"],
            auth_token=config["AUTH_TOKEN"], sender=config["FROM"],
            timeout=settings.MESSAGING_HTTP_TIMEOUT_SECONDS,
            public_base_url=settings.MESSAGING_PUBLIC_BASE_URL.rstrip("/"),
        )  # fmt: skip

    def _account_url(self) -> str:
        return f"{self.base_url}/{API_VERSION}/Accounts/{quote(self.account_sid, safe='')}"

    def _auth(self) -> tuple[str, str]:
        return (self.account_sid, self.auth_token)

    def status_callback(self, message: Message) -> str:
        """Our status webhook, with our id so a callback can settle an unknown outcome."""
        if not self.public_base_url:
            return ""
        path = reverse("messaging_hooks:status", kwargs={"provider": "twilio"})
        return f"{self.public_base_url}{path}?ref={message.pk}"

    def send(self, message: Message, *, deadline: float | None = None) -> Outcome:
        form = {"To": message.to_address, "From": self.sender, "Body": message.body}
        callback = self.status_callback(message)
        if callback:
            form["StatusCallback"] = callback
        response = post(
            f"{self._account_url()}/Messages.json", timeout=self.timeout, deadline=deadline,
            failure=_failure, form=form, basic_auth=self._auth(),
        )  # fmt: skip
        if not isinstance(response, Response):
            return response
        sid = _sid(response)
        if sid is None:
            return Unknown(f"HTTP {response.status} without a readable sid: {short(response.body)}")
        return Sent(sid)

    def lookup(self, message: Message) -> Lookup:
        if message.provider_message_id:
            return self._lookup_sid(message.provider_message_id)
        return self._lookup_by_recipient(message)

    def _lookup_sid(self, sid: str) -> Lookup:
        url = f"{self._account_url()}/Messages/{quote(sid, safe='')}.json"
        response = self._get(url, None)
        if response.status == 404:
            return NotFound()
        found = _sid(response)
        if found is None:
            raise LookupFailed(f"unreadable answer: {short(response.body)}")
        return Sent(found)

    def _lookup_by_recipient(self, message: Message) -> Lookup:
        from chairtime.messaging.selectors import provider_ids_taken

        started = message.attempt_started_at or message.created_at
        since = (started - CLOCK_ALLOWANCE).date().isoformat()  # the API's dates are UTC
        query: dict[str, str] | None = {"To": message.to_address, "DateSent>": since}
        url: str | None = f"{self._account_url()}/Messages.json"
        candidates: list[str] = []
        for _page in range(LOOKUP_PAGES):
            if url is None:
                break
            payload = _json(self._get(url, query))
            candidates += [
                str(item["sid"]) for item in payload.get("messages", [])
                if isinstance(item, dict) and item.get("body") == message.body and item.get("sid")
                and not _made_before(item, started - CLOCK_ALLOWANCE)
            ]  # fmt: skip
            next_uri = payload.get("next_page_uri")
            url, query = (self.base_url + str(next_uri), None) if next_uri else (None, None)
        taken = provider_ids_taken(message, candidates)
        free = [sid for sid in candidates if sid not in taken]
        return Sent(free[0]) if free else NotFound()

    def _get(self, url: str, query: dict[str, str] | None) -> Any:
        try:
            response = http_request(
                "GET", url, timeout=self.timeout, query=query, basic_auth=self._auth()
            )
        except (NotSent, MaybeSent) as error:
            raise LookupFailed(str(error)) from error
        if response.status != 404 and not 200 <= response.status < 300:
            raise LookupFailed(f"HTTP {response.status}: {short(response.body)}")
        return response


def _made_before(item: dict[str, Any], moment: datetime) -> bool:
    """The provider made this message before `moment` (its date_created, RFC 2822); an
    item without a readable date is kept."""
    try:
        created = parsedate_to_datetime(str(item.get("date_created") or ""))
    except (TypeError, ValueError):
        return False
    return created.tzinfo is not None and created < moment


def _json(response: Any) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        raise LookupFailed(f"unreadable answer: {short(response.body)}") from None
    if not isinstance(payload, dict):
        raise LookupFailed(f"unexpected answer: {short(response.body)}")
    return payload


def _sid(response: Any) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    sid = payload.get("sid") if isinstance(payload, dict) else None
    return str(sid) if isinstance(sid, str) and sid else None


def _failure(response: Any) -> Outcome:
    error = short(response.body)
    code = ""
    try:
        payload = response.json()
        if isinstance(payload, dict):
            error = str(payload.get("message") or error)
            code = str(payload.get("code") or "")
    except ValueError:
        pass
    outcome = classify_failure(response, error)
    if isinstance(outcome, Permanent) and code:
        return Permanent(outcome.error, code=code)
    return outcome
