"""The refill listens to the appointment book (contract: scheduling/signals.py).

The signal arrives after the cancellation, no-show or move committed; the refill runs in
its own transaction, and a failure is logged, never raised: it cannot undo or break the
change that freed the slot.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.dispatch import receiver

from chairtime.scheduling.signals import appointment_released
from chairtime.waitlist.services import refill_slot

logger = logging.getLogger("chairtime.waitlist")


@receiver(appointment_released, dispatch_uid="waitlist_refill")
def refill_released_slot(
    sender: Any,
    *,
    appointment_id: int,
    reason: str,
    chair_id: int,
    doctor_id: int,
    starts_at: datetime,
    ends_at: datetime,
    **kwargs: Any,
) -> None:
    try:
        refill_slot(
            actor=None, appointment_id=appointment_id, reason=reason, chair_id=chair_id,
            doctor_id=doctor_id, starts_at=starts_at, ends_at=ends_at,
        )  # fmt: skip
    except Exception:
        logger.exception("refill after %s of appointment %s failed", reason, appointment_id)
