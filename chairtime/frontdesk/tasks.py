"""Background tasks of the front desk."""

from __future__ import annotations

from chairtime.frontdesk.services import freeze_due_days


def freeze_day_production_task() -> int:
    """Scheduled every 15 minutes: freeze today's scheduled production of every branch
    whose local freeze time (06:00 by default) has passed. Safe to run again or twice at
    once. Returns the snapshots made."""
    return freeze_due_days().frozen
