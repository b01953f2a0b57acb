"""The refill listens to the appointment book (contract: scheduling/signals.py).

The signal arrives after the cancellation, no-show or move committed; the receiver queues
the refill as a task (`tasks.refill_slot_task`), so the request does not wait for the
ranking and the messages, and a crash does not lose it: the queue retries it, and the
refill is idempotent. Queueing failing is logged, never raised: it cannot undo or break
the change that freed the slot.

`WAITLIST_REFILL_INLINE` (on in the test settings only, where no worker runs) runs the
task in the receiver instead, its errors logged the same way.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from chairtime.scheduling.signals import appointment_released
from chairtime.waitlist.tasks import refill_slot_task

logger = logging.getLogger("chairtime.waitlist")
REFILL_TASK = "chairtime.waitlist.tasks.refill_slot_task"


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
    details: dict[str, Any] = {
        "appointment_id": appointment_id, "reason": reason, "chair_id": chair_id,
        "doctor_id": doctor_id, "starts_at": starts_at, "ends_at": ends_at,
    }  # fmt: skip
    try:
        if getattr(settings, "WAITLIST_REFILL_INLINE", False):
            refill_slot_task(**details)
        else:
            from django_q.tasks import async_task

            async_task(REFILL_TASK, task_name=f"waitlist refill {appointment_id}", **details)
    except Exception:
        logger.exception("refill after %s of appointment %s failed", reason, appointment_id)
