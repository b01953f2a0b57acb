"""Writes of the core app."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from chairtime.core.models import WorkerHeartbeat


@transaction.atomic
def record_worker_heartbeat(*, cluster: str) -> WorkerHeartbeat:
    """Count one heartbeat for a worker cluster (idempotent per call, safe in parallel)."""
    now = timezone.now()
    updated = WorkerHeartbeat.objects.filter(cluster=cluster).update(
        beat_at=now, beats=F("beats") + 1
    )
    if not updated:
        WorkerHeartbeat.objects.get_or_create(
            cluster=cluster, defaults={"beat_at": now, "beats": 1}
        )
    return WorkerHeartbeat.objects.get(cluster=cluster)
