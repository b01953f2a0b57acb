"""The audit trail: who did what to which record, and who looked at which patient."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Changed")
    DELETE = "delete", _("Deleted")
    VIEW = "view", _("Viewed")
    LOGIN = "login", _("Logged in")
    LOGOUT = "logout", _("Logged out")


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("Audit events are append-only")

    def delete(self) -> NoReturn:
        raise TypeError("Audit events are append-only")


class AuditEvent(models.Model):
    """One append-only entry, written in the same transaction as the change it records.

    `organization`, `branch` and `patient` are kept as plain columns too, so the trail of a
    patient or a branch is one indexed query, and survives the deletion of the target.
    """

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    organization_id = models.BigIntegerField(null=True, db_index=True)
    branch_id = models.BigIntegerField(null=True)
    patient_id = models.BigIntegerField(null=True)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=40)
    summary = models.CharField(max_length=255, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["patient_id", "-occurred_at"], name="audit_patient_idx"),
            models.Index(fields=["branch_id", "-occurred_at"], name="audit_branch_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Audit events are append-only")
