"""Reads of the core app: is the background worker running?"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from chairtime.core.models import WorkerHeartbeat

WORKER_STALE_AFTER = timedelta(minutes=3)


def get_worker_last_beat() -> datetime | None:
    """When the worker last ran its heartbeat, or None if it never has."""
    return (
        WorkerHeartbeat.objects.filter(cluster=str(settings.Q_CLUSTER["name"]))
        .values_list("beat_at", flat=True)
        .first()
    )


def is_worker_alive(last_beat: datetime | None) -> bool:
    return last_beat is not None and timezone.now() - last_beat < WORKER_STALE_AFTER
