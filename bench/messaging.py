"""Dispatch throughput: due SMS messages sent to the local fake provider (the tests'
Twilio-compatible server), in messages per second.

    .venv/bin/python bench/messaging.py                       # temporary SQLite
    .venv/bin/python bench/messaging.py --database-url URL    # an empty PostgreSQL database
    .venv/bin/python bench/messaging.py --messages 20000 --processes 1,2,4

Cases: the dispatcher's loop in this process (one worker), then 1, 2 … real
`manage.py dispatch_messages` processes side by side (their start-up included: the clock
starts when they are launched and stops when the last message is sent). Each case sends
its own fresh batch of messages; the fake provider records every send, and the bench
checks that each message was received exactly once.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup_django  # noqa: E402


def make_messages(branch, count: int, label: str) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from chairtime.messaging.models import Message

    now = timezone.now()
    Message.objects.bulk_create(
        (
            Message(
                organization_id=branch.organization_id, branch=branch, channel="sms",
                purpose="service", to_address=f"+8491{n:07d}", body=f"{label} {n}",
                idempotency_key=f"{label}:{n}", not_before=now,
            )
            for n in range(count)
        ),
        batch_size=2000,
    )  # fmt: skip


def pending() -> int:
    from chairtime.messaging.models import Message

    return Message.objects.exclude(status="sent").count()


def check_once(provider, label: str, count: int) -> None:  # type: ignore[no-untyped-def]
    bodies = Counter(r.body for r in provider.received("sms") if r.body.startswith(label + " "))
    duplicates = sum(1 for n in bodies.values() if n > 1)
    if len(bodies) != count or duplicates:
        raise SystemExit(f"{label}: {len(bodies)} of {count} received, {duplicates} duplicated")


def environment(provider_url: str, database_url: str) -> dict[str, str]:
    return {
        **os.environ, "DATABASE_URL": database_url, "CHAIRTIME_SMS_TRANSPORT": "twilio",
        "CHAIRTIME_TWILIO_BASE_URL": provider_url, "CHAIRTIME_TWILIO_ACCOUNT_SID": "AC0123456789",
        "CHAIRTIME_TWILIO_AUTH_TOKEN": "bench", "CHAIRTIME_TWILIO_FROM": "+15005550006",
        "CHAIRTIME_DISPATCH_POLL_MILLISECONDS": "50", "CHAIRTIME_LOG_LEVEL": "WARNING",
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite)")
    parser.add_argument("--messages", type=int, default=5000, help="per case (default: 5000)")
    parser.add_argument("--processes", default="1,2,4", help="dispatcher processes per case")
    arguments = parser.parse_args()
    database_url = setup_django(arguments.database_url, name="messaging")
    from django.conf import settings
    from django.db import connection

    from chairtime.messaging.dispatcher import Dispatcher
    from chairtime.messaging.tests.fakes import FakeProvider
    from tests.factories import BranchFactory, OrganizationFactory

    provider = FakeProvider().start()
    settings.MESSAGING_TRANSPORTS = {**settings.MESSAGING_TRANSPORTS, "sms": "twilio"}
    settings.MESSAGING_TWILIO = {"BASE_URL": provider.url, "ACCOUNT_SID": "AC0123456789",
                                 "AUTH_TOKEN": "bench", "FROM": "+15005550006"}  # fmt: skip
    # Etc/GMT-14 … +12: a zone where it is daytime now, so quiet hours hold nothing back.
    offset = (12 - time.gmtime().tm_hour + 12) % 24 - 12
    zone = f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"
    branch = BranchFactory(organization=OrganizationFactory(), time_zone=zone)
    count = arguments.messages
    rows: list[tuple[str, float]] = []

    make_messages(branch, count, "in-process")
    dispatcher = Dispatcher()
    started = time.perf_counter()
    while dispatcher.run_once():
        pass
    rows.append(("loop in this process, 1 worker", time.perf_counter() - started))
    check_once(provider, "in-process", count)

    for processes in [int(p) for p in arguments.processes.split(",") if p]:
        label = f"processes-{processes}"
        make_messages(branch, count, label)
        connection.close()
        started = time.perf_counter()
        children = [
            subprocess.Popen(
                [sys.executable, "manage.py", "dispatch_messages"],
                cwd=ROOT,
                env=environment(provider.url, database_url),
            )
            for _ in range(processes)
        ]
        while pending():
            time.sleep(0.05)
        rows.append(
            (
                f"{processes} dispatch_messages process(es), start-up included",
                time.perf_counter() - started,
            )
        )
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            child.wait(timeout=60)
        check_once(provider, label, count)
    provider.stop()

    print(f"\nDispatch to the local fake provider ({connection.vendor}, {count:,} SMS per case)")
    print(f"{'case':<56} {'seconds':>8} {'messages/s':>11}")
    for case, seconds in rows:
        print(f"{case:<56} {seconds:>8.1f} {count / seconds:>11.0f}")


if __name__ == "__main__":
    main()
