"""Writes of the customer groups' settings: the organisation's thresholds (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils.translation import gettext as _

from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.core.errors import InvalidInput, Message
from chairtime.crm.models import GroupThresholds
from chairtime.crm.profiles.groups import THRESHOLD_FIELDS
from chairtime.tenancy.models import Organization

# The smallest and largest value each threshold accepts.
LIMITS: dict[str, tuple[int, int]] = {
    "rfm_window_months": (1, 120),
    "loyal_paid_visits": (1, 100),
    "loyal_referrals": (1, 100),
    "loyal_monetary_score": (1, 5),
    "potential_not_returned_days": (1, 3650),
    "low_value_min_paid_visits": (1, 100),
    "low_value_promo_percent": (1, 100),
    "negative_recent_days": (1, 3650),
    "negative_missed_count": (1, 100),
    "late_cancel_hours": (1, 720),
    "negative_absence_factor": (1, 20),
    "negative_absence_min_days": (1, 3650),
}
assert set(LIMITS) == set(THRESHOLD_FIELDS)


def get_thresholds(organization: Organization) -> GroupThresholds:
    """The organisation's thresholds, created with the defaults on first use."""
    thresholds, _created = GroupThresholds.objects.get_or_create(organization=organization)
    return thresholds


def _parse(name: str, value: Any) -> tuple[int | None, Message | None]:
    if isinstance(value, bool):
        return None, _("Enter a whole number.")
    if isinstance(value, str):
        value = value.strip()
        if not value.lstrip("-").isdigit():
            return None, _("Enter a whole number.")
        value = int(value)
    if not isinstance(value, int):
        return None, _("Enter a whole number.")
    low, high = LIMITS[name]
    if not low <= value <= high:
        return None, _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high}
    return value, None


def validate_thresholds(values: dict[str, Any]) -> dict[str, int]:
    """The values as numbers, or InvalidInput naming every bad field and why."""
    errors: dict[str, list[Message]] = {}
    clean: dict[str, int] = {}
    for name, value in values.items():
        if name not in LIMITS:
            errors[name] = [_("Unknown setting.")]
            continue
        number, error = _parse(name, value)
        if error is not None:
            errors[name] = [error]
        elif number is not None:
            clean[name] = number
    if errors:
        raise InvalidInput(errors)
    return clean


def update_thresholds(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    organization: Organization,
    values: dict[str, Any],
) -> GroupThresholds:
    """Change some or all thresholds; the groups follow at the next recomputation, which is
    queued once the change is committed."""
    clean = validate_thresholds(values)
    with transaction.atomic():
        thresholds = get_thresholds(organization)
        thresholds = GroupThresholds.objects.select_for_update().get(pk=thresholds.pk)
        before = {name: getattr(thresholds, name) for name in THRESHOLD_FIELDS}
        for name, number in clean.items():
            setattr(thresholds, name, number)
        thresholds.save()
        after = {name: getattr(thresholds, name) for name in THRESHOLD_FIELDS}
        record_event(
            actor=actor,
            action=AuditAction.UPDATE,
            target=thresholds,
            summary="customer group thresholds",
            changes=diff(before, after),
            organization_id=organization.pk,
        )
        if before != after:
            transaction.on_commit(lambda: _queue_recompute(organization.pk))
    return thresholds


def _queue_recompute(organization_id: int) -> None:
    from django_q.tasks import async_task

    async_task("chairtime.crm.profiles.tasks.recompute_profiles_task", organization_id)
