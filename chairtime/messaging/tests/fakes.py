"""Real local servers standing in for the providers, recording everything they receive.

- `FakeProvider`: a threaded HTTP server speaking the Twilio Messages API (send, list,
  fetch), Zalo ZNS and WeChat template sends. It never deduplicates: every send it
  receives is recorded, so a duplicate send shows. Faults are programmed per send:
  "500", "429", "400", "garbage" (a 2xx that is not JSON: the message IS accepted),
  "slow" (accepted, answered after the client's timeout), "drop" (accepted, then the
  connection is closed without an answer), "dribble" (accepted, answered a few bytes at a
  time: no single read waits long, the whole answer takes `dribble_seconds`). The message
  list carries Twilio's `date_created`, from `clock` (real time unless a test sets its
  own, as the dispatcher's).
- `FakeSmtp`: aiosmtpd's Controller with a handler recording every message.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import Message as EmailMessage
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

ACCOUNT = "AC0123456789"
TOKEN = "twilio-test-token"
FAULTS = {"500", "429", "400", "garbage", "slow", "drop", "dribble"}


@dataclass
class Received:
    """One send the provider accepted."""

    kind: str  # sms, zalo, wechat
    provider_id: str
    to: str
    body: str
    payload: dict[str, Any]
    at: datetime


@dataclass
class FakeState:
    requests: list[tuple[str, str, dict[str, Any]]] = field(
        default_factory=list
    )  # method, path, data
    received: list[Received] = field(default_factory=list)
    by_to: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    faults: deque[str] = field(default_factory=deque)
    slow_seconds: float = 1.3
    dribble_seconds: float = 3.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    # --- plumbing --------------------------------------------------------------------------
    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        return data if len(data) == length else None  # a sender killed half-way: not received

    def _dribble(self, status: int, payload: Any) -> None:
        """The whole answer, a few bytes at a time over `dribble_seconds`."""
        body = json.dumps(payload).encode()
        head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
        raw = head + body
        pieces = 20
        size = len(raw) // pieces + 1
        for start in range(0, len(raw), size):
            time.sleep(self.server.state.dribble_seconds / pieces)
            self.wfile.write(raw[start : start + size])
            self.wfile.flush()
        self.close_connection = True

    def _answer(self, status: int, payload: Any, *, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 429:
            self.send_header("Retry-After", "7")
        self.end_headers()
        self.wfile.write(body)

    def _fault(self) -> str:
        state = self.server.state
        with state.lock:
            return state.faults.popleft() if state.faults else ""

    def _accept(self, kind: str, to: str, body: str, payload: dict[str, Any]) -> Received:
        state = self.server.state
        with state.lock:
            state.counter += 1
            prefix = {"sms": "SM", "zalo": "z", "wechat": ""}[kind]
            provider_id = f"{prefix}{state.counter:08d}" if prefix else str(1000000 + state.counter)
            item = Received(kind, provider_id, to, body, payload, state.clock())
            state.received.append(item)
            state.by_to[to].append(item)
        return item

    def _send(
        self, kind: str, to: str, body: str, payload: dict[str, Any], ok: dict[str, Any]
    ) -> None:
        """Apply the programmed fault, else accept and answer `ok` (+ the provider id)."""
        fault = self._fault()
        if fault in {"500", "429", "400"}:
            self._answer(int(fault), {"code": 21211 if fault == "400" else int(fault),
                                      "message": f"fault {fault}"})  # fmt: skip
            return
        item = self._accept(kind, to, body, payload)
        if fault == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "slow":
            time.sleep(self.server.state.slow_seconds)
        if fault == "garbage":
            self._answer(200, None, raw=b"<html>Service Unavailable</html")
            return
        answer = json.loads(json.dumps(ok).replace("$ID", item.provider_id))
        if fault == "dribble":
            self._dribble(201 if kind == "sms" else 200, answer)
            return
        self._answer(201 if kind == "sms" else 200, answer)

    # --- routes ----------------------------------------------------------------------------
    def do_POST(self) -> None:
        raw = self._body()
        path = urlsplit(self.path).path
        if raw is None:
            self.close_connection = True
            return
        if path.endswith("/Messages.json"):
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            self._record("POST", form)
            if self.headers.get("Authorization", "") == "":
                self._answer(401, {"code": 20003, "message": "Authenticate"})
                return
            ok = {
                "sid": "$ID",
                "status": "queued",
                "to": form.get("To", ""),
                "body": form.get("Body", ""),
            }
            self._send("sms", form.get("To", ""), form.get("Body", ""), form, ok)
        elif path == "/message/template":
            payload = json.loads(raw)
            self._record("POST", payload)
            self._send("zalo", payload.get("phone", ""), json.dumps(payload.get("template_data")), payload,
                       {"error": 0, "message": "Success", "data": {"msg_id": "$ID"}})  # fmt: skip
        elif path == "/cgi-bin/message/template/send":
            payload = json.loads(raw)
            self._record("POST", payload)
            self._send("wechat", payload.get("touser", ""), json.dumps(payload.get("data")), payload,
                       {"errcode": 0, "errmsg": "ok", "msgid": "$ID"})  # fmt: skip
        else:
            self._answer(404, {"message": "no such endpoint"})

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self._record("GET", query)
        state = self.server.state
        if parts.path.endswith("/Messages.json"):
            with state.lock:
                found = [r for r in state.by_to.get(query.get("To", ""), []) if r.kind == "sms"]
            since = query.get("DateSent>", "")
            found = [r for r in found if not since or r.at.date().isoformat() >= since]
            messages = [
                {"sid": r.provider_id, "to": r.to, "body": r.body, "status": "sent",
                 "date_created": format_datetime(r.at)}
                for r in found
            ]  # fmt: skip
            self._answer(200, {"messages": messages, "next_page_uri": None})
        elif "/Messages/" in parts.path:
            sid = parts.path.rsplit("/", 1)[-1].removesuffix(".json")
            with state.lock:
                item = next((r for r in state.received if r.provider_id == sid), None)
            if item is None:
                self._answer(404, {"code": 20404, "message": "not found"})
            else:
                self._answer(200, {"sid": item.provider_id, "to": item.to, "body": item.body})
        else:
            self._answer(404, {"message": "no such endpoint"})

    def _record(self, method: str, data: dict[str, Any]) -> None:
        with self.server.state.lock:
            self.server.state.requests.append((method, self.path, data))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    state: FakeState

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a dropped or killed client: expected here


class FakeProvider:
    """Start with `start()`, stop with `stop()`; `url` is its base URL."""

    def __init__(self) -> None:
        self.state = FakeState()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.state = self.state
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def use_clock(self, clock: Callable[[], datetime]) -> None:
        """Stamp what it receives with this clock (a test's, shared with the dispatcher)."""
        self.state.clock = clock

    def fail_next(self, *faults: str) -> None:
        assert set(faults) <= FAULTS
        with self.state.lock:
            self.state.faults.extend(faults)

    def received(self, kind: str = "sms") -> list[Received]:
        with self.state.lock:
            return [r for r in self.state.received if r.kind == kind]

    def sends(self) -> int:
        with self.state.lock:
            return sum(1 for method, _path, _data in self.state.requests if method == "POST")


# --- SMTP -------------------------------------------------------------------------------------
class _Recorder:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeSmtp:
    def __init__(self) -> None:
        self.recorder = _Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def start(self) -> FakeSmtp:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.recorder.lock:
            return list(self.recorder.messages)
