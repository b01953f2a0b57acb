"""record_event(): the one way to write the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models

from chairtime.audit.models import AuditEvent

Changes = dict[str, tuple[Any, Any]]


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, models.Model):
        return value.pk
    return str(value)


def record_event(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    target: models.Model,
    summary: str = "",
    changes: Changes | None = None,
    organization_id: int | None = None,
    branch_id: int | None = None,
    patient_id: int | None = None,
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one event. Call it inside the transaction that makes the change.

    The organisation, branch and patient default to the target's own fields of those names.
    """
    is_user = actor is not None and actor.is_authenticated
    return AuditEvent.objects.create(
        actor_id=actor.pk if is_user and actor is not None else None,
        actor_label=str(actor)[:150] if is_user else "",
        action=action,
        organization_id=organization_id or getattr(target, "organization_id", None),
        branch_id=branch_id or getattr(target, "branch_id", None),
        patient_id=patient_id or getattr(target, "patient_id", None),
        object_type=target._meta.label_lower,
        object_id=str(target.pk),
        summary=summary[:255],
        changes={
            field: [_jsonable(before), _jsonable(after)]
            for field, (before, after) in (changes or {}).items()
        },
        ip_address=ip_address,
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> Changes:
    """The fields whose values differ, as (before, after) pairs."""
    return {
        key: (before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    }
