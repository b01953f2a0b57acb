"""Background task of automation: the scheduled generation (migration messaging 0003)."""

from __future__ import annotations

from chairtime.messaging.automation.generation import generate_for_all


def generate_messages_task() -> int:
    """Every 15 minutes: each organisation's messages due within the next 24 hours, into
    the outbox. Safe to run again and side by side; returns how many it made."""
    return generate_for_all().created
