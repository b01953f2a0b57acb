"""Background tasks of the waitlist."""

from __future__ import annotations

from datetime import datetime

from chairtime.waitlist.services import expire_entries, refill_slot


def expire_entries_task() -> int:
    """Scheduled daily: active entries past their last day expire. Safe to run again."""
    return expire_entries()


def refill_slot_task(
    *,
    appointment_id: int,
    reason: str,
    chair_id: int,
    doctor_id: int,
    starts_at: datetime,
    ends_at: datetime,
) -> str:
    """Offer a slot the appointment book released (queued by receivers.py). Idempotent:
    one offer per freed interval, and a second run only tops up the live invites, so the
    queue may retry it after a crash. Returns the refill's outcome."""
    return refill_slot(
        actor=None, appointment_id=appointment_id, reason=reason, chair_id=chair_id,
        doctor_id=doctor_id, starts_at=starts_at, ends_at=ends_at,
    ).outcome  # fmt: skip
