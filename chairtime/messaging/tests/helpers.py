"""Helpers of the messaging tests: a clinic with a patient to message, and a dispatcher on
a fixed clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from chairtime.messaging.dispatcher import DispatchConfig, Dispatcher
from chairtime.messaging.models import Message
from chairtime.messaging.services import enqueue_message
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch
from tests.factories import PatientFactory

# 10:00 in Ho Chi Minh City (UTC+7): inside every window of the send rules.
NOON_VN = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)
MOBILE_VN = "+84912345678"
LANDLINE_VN = "+842838221234"  # a Ho Chi Minh City landline

TEST_CONFIG = DispatchConfig(
    batch=10, lease=timedelta(seconds=60), max_attempts=3, backoff=timedelta(seconds=30),
    backoff_cap=timedelta(seconds=600), reconcile_after=timedelta(seconds=30),
)  # fmt: skip


class Clock:
    """A settable clock for the dispatcher."""

    def __init__(self, now: datetime = NOON_VN) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def dispatcher(clock: Clock, worker: str = "test-worker", **config: Any) -> Dispatcher:
    from dataclasses import replace

    return Dispatcher(worker=worker, config=replace(TEST_CONFIG, **config), clock=clock,
                      rng=random.Random(7))  # fmt: skip


def patient_with_phone(branch: Branch, phone: str = MOBILE_VN, **fields: Any) -> Patient:
    return PatientFactory(home_branch=branch, phone=phone, **fields)


def sms(
    branch: Branch, key: str = "reminder:1", *, now: datetime = NOON_VN, **fields: Any
) -> Message:
    values: dict[str, Any] = {
        "actor": None,
        "branch": branch,
        "channel": "sms",
        "purpose": "service",
        "to_address": MOBILE_VN,
        "idempotency_key": key,
        "body": f"Reminder {key}",
        "now": now,
    }
    values.update(fields)
    return enqueue_message(**values)
