"""Fixtures of the messaging tests: the fake providers, settings pointing at them, a
branch and patients to message, and helpers to sign webhook calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chairtime.messaging.tests.fakes import ACCOUNT, TOKEN, FakeProvider, FakeSmtp

ZALO_SECRET = "zalo-webhook-secret"
WECHAT_SECRET = "wechat-webhook-secret"


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    fake = FakeSmtp().start()
    try:
        yield fake
    finally:
        fake.stop()


def provider_settings(provider_url: str, smtp_port: int | None = None) -> dict[str, Any]:
    """Settings (as Django names them) that send every channel to the fakes."""
    values: dict[str, Any] = {
        "MESSAGING_TRANSPORTS": {"sms": "twilio", "email": "smtp", "zalo": "zalo", "wechat": "wechat"},
        "MESSAGING_TWILIO": {"BASE_URL": provider_url, "ACCOUNT_SID": ACCOUNT, "AUTH_TOKEN": TOKEN,
                             "FROM": "+15005550006"},
        "MESSAGING_ZALO": {"BASE_URL": provider_url, "ACCESS_TOKEN": "zalo-token",
                           "WEBHOOK_SECRET": ZALO_SECRET},
        "MESSAGING_WECHAT": {"BASE_URL": provider_url, "ACCESS_TOKEN": "wechat-token",
                             "WEBHOOK_SECRET": WECHAT_SECRET},
        "MESSAGING_ZALO_TEMPLATES": ["appointment_reminder=231234", "staff_reply=231240"],
        "MESSAGING_WECHAT_TEMPLATES": ["appointment_reminder=wx-tmpl-1", "staff_reply=wx-tmpl-2"],
        "MESSAGING_HTTP_TIMEOUT_SECONDS": 1,
        "MESSAGING_PUBLIC_BASE_URL": "",
    }  # fmt: skip
    if smtp_port is not None:
        values.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=smtp_port, EMAIL_USE_TLS=False,
                      EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="", EMAIL_TIMEOUT=2)  # fmt: skip
    return values


@pytest.fixture
def to_fakes(settings: Any, provider: FakeProvider, smtp: FakeSmtp) -> FakeProvider:
    """Every channel's transport pointed at the fakes (in this process)."""
    for name, value in provider_settings(provider.url, smtp.port).items():
        setattr(settings, name, value)
    return provider
