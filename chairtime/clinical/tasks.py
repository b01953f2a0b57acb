"""Background tasks of the clinical app."""

from __future__ import annotations

from chairtime.clinical.services import expire_plans


def expire_plans_task() -> int:
    """Scheduled daily: proposed plans past their validity expire. Safe to run again."""
    return expire_plans()
