"""Abstract bases shared by every app's models."""

from __future__ import annotations

from django.db import models


class TimeStampedModel(models.Model):
    """Knows when it was created and last changed (aware UTC)."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WorkerHeartbeat(models.Model):
    """The last time a background worker ran its scheduled heartbeat task.

    One row per worker cluster name; the home page shows staff whether the worker runs,
    because reminders and follow-ups silently stop when it does not.
    """

    cluster = models.CharField(max_length=100, unique=True)
    beat_at = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.cluster} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
