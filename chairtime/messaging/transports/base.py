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

`send` gets a `deadline` (a `time.monotonic()` instant) for the whole send: a socket
timeout bounds one step only, and a provider answering a byte at a time would keep a send
going past the dispatcher's lease. At the deadline the connection is cut, and a request
that may have left is an `Unknown` outcome.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
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

    @property
    def can_lookup(self) -> bool:
        """The provider can be asked whether it got a message (`lookup` is not Unsupported)."""
        ...

    def send(self, message: Message, *, deadline: float | None = None) -> Outcome: ...

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


def remaining(deadline: float | None, timeout: float) -> float:
    """The socket timeout for the next step: the step's own, or less when the deadline
    is nearer."""
    if deadline is None:
        return timeout
    return max(0.001, min(timeout, deadline - time.monotonic()))


class Cut:
    """Whether the deadline cut the connection: what was read may then be truncated."""

    def __init__(self) -> None:
        self.happened = False

    def __call__(self, sock: socket.socket) -> None:
        self.happened = True
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, also under TLS


@contextlib.contextmanager
def cut_at(sock: socket.socket | None, deadline: float | None) -> Iterator[Cut]:
    """Shut the connection down at the deadline, whatever step it is in (a blocked read
    then returns at once)."""
    cut = Cut()
    if sock is None or deadline is None:
        yield cut
        return
    timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut, [sock])
    timer.daemon = True
    timer.start()
    try:
        yield cut
    finally:
        timer.cancel()


def http_request(
    method: str,
    url: str,
    *,
    timeout: float,
    deadline: float | None = None,
    form: dict[str, str] | None = None,
    json_body: Any = None,
    query: dict[str, str] | None = None,
    basic_auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One HTTP request with http.client, so "never connected" (NotSent) and "sent, no
    answer" (MaybeSent) are told apart: the second must not be retried blindly. `timeout`
    bounds each socket step, `deadline` (monotonic) the whole request."""
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
    if deadline is not None and time.monotonic() >= deadline:
        raise NotSent("no time left before the send's deadline")
    step = remaining(deadline, timeout)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=step, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=step)
    try:
        try:
            connection.connect()
        except (TimeoutError, OSError) as error:
            raise NotSent(f"connection failed: {error}") from error
        try:
            with cut_at(connection.sock, deadline) as cut:
                connection.sock.settimeout(remaining(deadline, timeout))
                connection.request(method, path, body=body, headers=all_headers)
                connection.sock.settimeout(remaining(deadline, timeout))
                answer = connection.getresponse()
                data = answer.read()
        except (OSError, http.client.HTTPException) as error:
            late = deadline is not None and time.monotonic() >= deadline
            why = "no answer before the send's deadline" if late else "no answer"
            raise MaybeSent(f"{why}: {type(error).__name__}: {error}") from error
        if cut.happened:  # a cut answer can look whole (headers end at the cut): not read
            raise MaybeSent("no answer before the send's deadline: the connection was cut")
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
