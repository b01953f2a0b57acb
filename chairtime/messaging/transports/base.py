"""What every transport is: `send(message) -> Outcome`, `lookup(message) -> Lookup`.

The outcome of a send is one of four, and the dispatcher acts on each differently:

- `Sent(provider_id)`: the provider took it.
- `Temporary(error, retry_after)`: it certainly did not go (5xx, 429, connection refused):
  try again later with backoff.
- `Permanent(error)`: it will never go as it is (4xx, a bad template): failed.
- `Unknown(error)`: it may have gone (a timeout after the request was sent, a connection
  reset before the answer, an unreadable 2xx): never sent again until `lookup` says the
  provider does not have it.

`lookup` answers `Sent(provider_id)`, `NotFound` or `Unsupported` (SMTP cannot be asked).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from chairtime.messaging.models import Message


@dataclass(frozen=True)
class Sent:
    provider_id: str


@dataclass(frozen=True)
class Temporary:
    error: str
    retry_after: float | None = None  # seconds, when the provider said


@dataclass(frozen=True)
class Permanent:
    error: str
    code: str = ""


@dataclass(frozen=True)
class Unknown:
    error: str


@dataclass(frozen=True)
class NotFound:
    pass


@dataclass(frozen=True)
class Unsupported:
    pass


Outcome = Sent | Temporary | Permanent | Unknown
Lookup = Sent | NotFound | Unsupported


class LookupFailed(Exception):
    """The provider could not be asked right now (down, garbage): ask again later."""


class Transport(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, message: Message) -> Outcome: ...

    def lookup(self, message: Message) -> Lookup: ...


# --- HTTP, with the failures told apart -------------------------------------------------
@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.body.decode("utf-8"))


class NotSent(Exception):
    """The request never left: the connection could not be made. Safe to retry."""


class MaybeSent(Exception):
    """The request may have reached the provider, but no answer came back."""


def http_request(
    method: str,
    url: str,
    *,
    timeout: float,
    form: dict[str, str] | None = None,
    json_body: Any = None,
    query: dict[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One HTTP request with http.client, so "never connected" (NotSent) and "sent, no
    answer" (MaybeSent) are told apart: the second must not be retried blindly."""
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if query:
        path += ("&" if "?" in path else "?") + urlencode(query)
    all_headers = {"Accept": "application/json", **(headers or {})}
    body: bytes | None = None
    if form is not None:
        body = urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        body = json.dumps(json_body, ensure_ascii=False).encode()
        all_headers["Content-Type"] = "application/json; charset=utf-8"
    if basic_auth is not None:
        token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
        all_headers["Authorization"] = f"Basic {token}"
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        try:
            connection.connect()
        except (TimeoutError, OSError) as error:
            raise NotSent(f"connection failed: {error}") from error
        try:
            connection.request(method, path, body=body, headers=all_headers)
            answer = connection.getresponse()
            data = answer.read()
        except (OSError, http.client.HTTPException) as error:
            raise MaybeSent(f"no answer: {type(error).__name__}: {error}") from error
        return Response(
            status=answer.status,
            body=data,
            headers={key.lower(): value for key, value in answer.getheaders()},
        )
    finally:
        connection.close()


def retry_after(response: Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def classify_failure(response: Response, error: str) -> Outcome:
    """A non-2xx answer: 429 and 5xx are temporary, any other 4xx permanent."""
    if response.status == 429 or response.status >= 500:
        return Temporary(f"HTTP {response.status}: {error}", retry_after(response))
    return Permanent(f"HTTP {response.status}: {error}", code=str(response.status))


def short(body: bytes, limit: int = 200) -> str:
    return body[:limit].decode("utf-8", errors="replace")
