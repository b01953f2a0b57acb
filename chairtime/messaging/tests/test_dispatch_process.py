"""The dispatcher as a real separate process (`manage.py dispatch_messages`), end to end
against the fake providers, and THE KILL TEST: 10,000 due messages, the dispatchers killed
with SIGKILL at random moments at least 20 times while dispatching and restarted each time;
in the end the fake provider received each message exactly once."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from chairtime.messaging.models import Message
from chairtime.messaging.services import enqueue_message
from chairtime.messaging.tests.conftest import provider_settings
from chairtime.messaging.tests.fakes import FakeProvider, FakeSmtp
from tests.factories import BranchFactory, OrganizationFactory, PatientFactory
from tests.test_worker import database_url

pytestmark = pytest.mark.worker

PROJECT_ROOT = Path(settings.BASE_DIR)
WAIT_SECONDS = 60
KILL_MESSAGES = 10_000
KILLS = 20


def daytime_zone() -> str:
    """A fixed-offset zone where it is around noon now, so no quiet hours hold the test."""
    offset = (12 - datetime.now(UTC).hour + 12) % 24 - 12  # -12..11 hours east of UTC
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


def environment(provider: FakeProvider, smtp: FakeSmtp | None, **extra: str) -> dict[str, str]:
    values = provider_settings(provider.url, smtp.port if smtp else None)
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CHAIRTIME_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "CHAIRTIME_SMS_TRANSPORT": "twilio", "CHAIRTIME_EMAIL_TRANSPORT": "smtp",
        "CHAIRTIME_ZALO_TRANSPORT": "zalo", "CHAIRTIME_WECHAT_TRANSPORT": "wechat",
        "CHAIRTIME_TWILIO_BASE_URL": provider.url,
        "CHAIRTIME_TWILIO_ACCOUNT_SID": values["MESSAGING_TWILIO"]["ACCOUNT_SID"],
        "CHAIRTIME_TWILIO_AUTH_TOKEN": values["MESSAGING_TWILIO"]["AUTH_TOKEN"],
        "CHAIRTIME_TWILIO_FROM": values["MESSAGING_TWILIO"]["FROM"],
        "CHAIRTIME_ZALO_BASE_URL": provider.url, "CHAIRTIME_WECHAT_BASE_URL": provider.url,
        "CHAIRTIME_ZALO_TEMPLATES": ",".join(values["MESSAGING_ZALO_TEMPLATES"]),
        "CHAIRTIME_WECHAT_TEMPLATES": ",".join(values["MESSAGING_WECHAT_TEMPLATES"]),
        "CHAIRTIME_MESSAGING_HTTP_TIMEOUT_SECONDS": "1",
        "CHAIRTIME_DISPATCH_LEASE_SECONDS": "3",
        "CHAIRTIME_DISPATCH_POLL_MILLISECONDS": "50",
        "CHAIRTIME_DISPATCH_RECONCILE_AFTER_SECONDS": "1",
        "CHAIRTIME_DISPATCH_BACKOFF_SECONDS": "1",
    }  # fmt: skip
    if smtp is not None:
        env.update(CHAIRTIME_EMAIL_HOST="127.0.0.1", CHAIRTIME_EMAIL_PORT=str(smtp.port))
    env.update(extra)
    return env


class DispatcherProcess:
    def __init__(self, log: Path, env: dict[str, str]) -> None:
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "dispatch_messages"], cwd=PROJECT_ROOT, env=env,
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def is_dispatching(self) -> bool:
        """Started, and already sending (not still importing Django)."""
        return self.process.poll() is None and "started" in self.output() and self.claimed()

    def claimed(self) -> bool:
        return Message.objects.filter(claimed_by__contains=f":{self.process.pid}:").exists()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=WAIT_SECONDS)


@pytest.fixture
def start_dispatcher(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], DispatcherProcess]]:
    started: list[DispatcherProcess] = []

    def start(env: dict[str, str]) -> DispatcherProcess:
        process = DispatcherProcess(tmp_path / f"dispatcher-{len(started)}.log", env)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.kill()


@pytest.fixture
def servers() -> Iterator[tuple[FakeProvider, FakeSmtp]]:
    provider, smtp = FakeProvider().start(), FakeSmtp().start()
    try:
        yield provider, smtp
    finally:
        provider.stop()
        smtp.stop()


def wait_until(
    condition: Callable[[], bool],
    what: str,
    process: DispatcherProcess,
    seconds: float = WAIT_SECONDS,
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if process.process.poll() is not None:
            pytest.fail(f"the dispatcher exited before {what}:\n{process.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s:\n{process.output()}")
        time.sleep(0.1)


def test_dispatcher_process_sends_every_channel_and_stops_on_sigterm(
    transactional_db, servers, start_dispatcher
):
    provider, smtp = servers
    organization = OrganizationFactory()
    branch = BranchFactory(organization=organization, time_zone=daytime_zone())
    patient = PatientFactory(home_branch=branch, phone="+84912345678")
    now = timezone.now()
    common = {"actor": None, "branch": branch, "purpose": "service", "patient": patient, "now": now}
    params = {"patient_name": "Nguyễn An", "appointment_time": "09:00", "branch_name": "Q1"}
    enqueue_message(
        channel="sms",
        to_address="+84912345678",
        idempotency_key="e2e:sms",
        body="SMS body",
        **common,
    )
    enqueue_message(channel="email", to_address="an@example.com", idempotency_key="e2e:email",
                    subject="Hello", body="Email body", **common)  # fmt: skip
    enqueue_message(channel="zalo", to_address="+84912345678", idempotency_key="e2e:zalo",
                    template_code="appointment_reminder", params=params, **common)  # fmt: skip
    enqueue_message(channel="wechat", to_address="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", idempotency_key="e2e:wechat",
                    template_code="appointment_reminder", params=params, **common)  # fmt: skip
    provider.fail_next("500")  # the first send (SMS) fails once and is retried by the process

    process = start_dispatcher(environment(provider, smtp))
    wait_until(
        lambda: Message.objects.filter(status="sent").count() == 4, "four messages sent", process
    )

    assert sorted(r.kind for r in provider.state.received) == ["sms", "wechat", "zalo"]
    assert [m["Subject"] for m in smtp.messages] == ["Hello"]
    assert Message.objects.get(idempotency_key="e2e:sms").attempts == 2
    process.process.send_signal(signal.SIGTERM)
    assert process.process.wait(timeout=WAIT_SECONDS) == 0, process.output()


def test_kill_test_ten_thousand_messages_each_received_exactly_once(
    transactional_db, servers, start_dispatcher
):
    provider, _smtp = servers
    organization = OrganizationFactory()
    branch = BranchFactory(organization=organization, time_zone=daytime_zone())
    now = timezone.now()
    Message.objects.bulk_create(
        (
            Message(
                organization=organization, branch=branch, channel="sms", purpose="service",
                to_address=f"+8491{n:07d}", body=f"kill-test message {n}",
                idempotency_key=f"kill:{n}", cause="kill test", not_before=now,
            )
            for n in range(KILL_MESSAGES)
        ),
        batch_size=1000,
    )  # fmt: skip
    env = environment(provider, None)
    rng = random.Random(20301)
    dispatchers = [start_dispatcher(env), start_dispatcher(env)]
    kills = 0
    caught: list[int] = []  # rows each killed dispatcher held claimed when it died
    started = time.monotonic()

    while kills < KILLS:
        time.sleep(rng.uniform(0.2, 0.8))
        working = [d for d in dispatchers if d.is_dispatching()]
        if not working:
            continue
        assert len(provider.state.received) < KILL_MESSAGES, "all sent before the last kill"
        victim = rng.choice(working)
        victim.kill()
        caught.append(
            Message.objects.filter(
                status="sending", claimed_by__contains=f":{victim.process.pid}:"
            ).count()
        )
        kills += 1
        dispatchers[dispatchers.index(victim)] = start_dispatcher(env)

    wait_until(lambda: not Message.objects.exclude(status="sent").exists(), "every message sent",
               dispatchers[0], seconds=150)  # fmt: skip
    elapsed = time.monotonic() - started

    bodies = Counter(r.body for r in provider.received("sms"))
    duplicates = {body: count for body, count in bodies.items() if count > 1}
    lost = KILL_MESSAGES - len(bodies)
    found = Message.objects.filter(events__kind="reconciled_found").distinct().count()
    missing = (
        Message.objects.filter(events__kind__in=["reconciled_missing", "lease_expired"])
        .distinct()
        .count()
    )
    print(f"\nkill test ({connection.vendor}): {kills} kills holding {sum(caught)} claimed rows, "
          f"{KILL_MESSAGES} messages in {elapsed:.1f} s, {len(duplicates)} duplicates, {lost} lost; "
          f"{found} settled by look-up (the provider had them), {missing} queued again")  # fmt: skip
    assert kills >= KILLS
    assert sum(1 for rows in caught if rows) >= KILLS - 2  # killed while dispatching
    assert duplicates == {}
    assert lost == 0
    assert len(bodies) == KILL_MESSAGES
    assert Message.objects.filter(status="sent").count() == KILL_MESSAGES
    provider_ids = list(Message.objects.values_list("provider_message_id", flat=True))
    assert len(set(provider_ids)) == KILL_MESSAGES
