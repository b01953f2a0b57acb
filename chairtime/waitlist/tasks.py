"""Background tasks of the waitlist."""

from __future__ import annotations

from chairtime.waitlist.services import expire_entries


def expire_entries_task() -> int:
    """Scheduled daily: active entries past their last day expire. Safe to run again."""
    return expire_entries()
