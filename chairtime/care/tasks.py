"""Background tasks of care."""

from __future__ import annotations

from chairtime.care.services import generate_all_care_tasks


def generate_care_tasks_task() -> int:
    """Scheduled hourly: make the tasks every branch should have, cancel those whose reason
    vanished. Safe to run again, or twice at once. Returns the tasks made."""
    return generate_all_care_tasks().total_created
