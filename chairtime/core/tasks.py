"""Background tasks of the core app."""

from __future__ import annotations

from django.conf import settings

from chairtime.core.services import record_worker_heartbeat


def record_worker_heartbeat_task() -> int:
    """Scheduled every minute: proves to staff that background work is running."""
    return record_worker_heartbeat(cluster=str(settings.Q_CLUSTER["name"])).beats
