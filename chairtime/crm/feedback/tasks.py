"""Background tasks of patient feedback."""

from __future__ import annotations

from chairtime.crm.feedback.services import create_surveys_for_yesterday


def create_surveys_task() -> int:
    """Scheduled daily (migration crm 0002): an NPS survey for each of yesterday's completed
    visits, per branch in its own time zone. Safe to run again: one survey per visit."""
    return create_surveys_for_yesterday()
