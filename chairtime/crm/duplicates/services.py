"""Merging two records of one person (ADR 9).

Everything that points at the merged patient is re-pointed at the survivor by walking
every relation to `Patient` (`_meta.get_fields(include_hidden=True)`: hidden ones such as
`billing.Refund.patient` with `related_name="+"` count too), so a model added later is
carried over without touching this file. Only rows that a unique constraint would refuse
are handled by hand: phones and chat IDs the survivor already has, ladder steps of a tier
the survivor already reached, and the merged patient's computed profile.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.clinical.models import LadderStep
from chairtime.core.errors import Conflict, InvalidInput
from chairtime.crm.choices import ExternalKind
from chairtime.crm.models import ExternalId, PatientMerge, PatientProfile
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient, PatientChatId, PatientPhone

logger = logging.getLogger(__name__)

Moved = dict[str, list[int]]
REASON_MAX_LENGTH = 200  # PatientMerge.reason

# Relations that are history of the merges themselves: never rewritten.
_KEEP = {"crm.patientmerge.survivor", "crm.patientmerge.merged"}
# Rows that are the survivor's own: pointing them at the survivor would make it its own
# referrer, so they are cleared instead (field -> the lookup naming the owning patient).
_SELF_OWNED = {
    "patients.patient.referred_by_patient": "pk",
    "crm.patientprofile.referred_by_patient": "patient",
}


def _check(survivor: Patient, merged: Patient, reason: str) -> None:
    if not reason:
        raise InvalidInput.on("reason", _("Say why these records are the same person."))
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput.on("reason", _("The reason is too long (200 characters at most)."))
    if survivor.pk == merged.pk:
        raise InvalidInput.on("merged", _("A patient cannot be merged with itself."))
    if survivor.organization_id != merged.organization_id:
        raise InvalidInput.on("merged", _("Only patients of the same organisation can be merged."))
    for name, patient in (("survivor", survivor), ("merged", merged)):
        if patient.status == PatientStatus.MERGED:
            raise InvalidInput.on(name, _("This patient was already merged into another record."))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _snapshot(patient: Patient) -> dict[str, Any]:
    """The merged record as it was: its own fields and what hangs on it by value."""
    values = {
        f.attname: _jsonable(getattr(patient, f.attname)) for f in Patient._meta.concrete_fields
    }
    values.pop("search_key", None)
    values["phones"] = [
        {"number": p.number, "kind": p.kind, "is_primary": p.is_primary}
        for p in patient.phones.all()
    ]
    values["chat_ids"] = {c.app: c.handle for c in patient.chat_ids.all()}
    values["tags"] = sorted(patient.tags.values_list("name", flat=True))
    return values


def _delete(model: type[models.Model], ids: list[int], dropped: Moved) -> None:
    if ids:
        model._base_manager.filter(pk__in=ids).delete()
        dropped[model._meta.label_lower] = dropped.get(model._meta.label_lower, []) + ids


def _move_phones(survivor: Patient, merged: Patient, moved: Moved, dropped: Moved) -> None:
    """Phones the survivor lacks move (never as its primary if it has one); repeats go."""
    kept = set(survivor.phones.values_list("number", flat=True))
    has_primary = survivor.phones.filter(is_primary=True).exists()
    phones = list(PatientPhone.objects.filter(patient=merged).order_by("id"))
    _delete(PatientPhone, [p.pk for p in phones if p.number in kept], dropped)
    moving = [p for p in phones if p.number not in kept]
    PatientPhone.objects.filter(pk__in=[p.pk for p in moving]).update(
        patient=survivor, is_primary=False
    )
    primary = next((p for p in moving if p.is_primary), None)
    if primary is not None and not has_primary:
        PatientPhone.objects.filter(pk=primary.pk).update(is_primary=True)
    moved["patients.patientphone.patient"] = [p.pk for p in moving]


def _move_chat_ids(survivor: Patient, merged: Patient, moved: Moved, dropped: Moved) -> None:
    """One account per chat app: the survivor's stays, the merged one's moves if new."""
    apps_kept = set(survivor.chat_ids.values_list("app", flat=True))
    chats = list(PatientChatId.objects.filter(patient=merged).order_by("id"))
    _delete(PatientChatId, [c.pk for c in chats if c.app in apps_kept], dropped)
    moving = [c.pk for c in chats if c.app not in apps_kept]
    PatientChatId.objects.filter(pk__in=moving).update(patient=survivor)
    moved["patients.patientchatid.patient"] = moving


def _move_ladder_steps(survivor: Patient, merged: Patient, moved: Moved, dropped: Moved) -> None:
    """One step per tier: the earlier time the person reached it is the one kept."""
    theirs = {s.tier: s for s in LadderStep.objects.filter(patient=survivor)}
    stale: list[int] = []
    moving: list[int] = []
    for step in LadderStep.objects.filter(patient=merged).order_by("id"):
        other = theirs.get(step.tier)
        if other is not None and other.reached_at <= step.reached_at:
            stale.append(step.pk)
            continue
        if other is not None:
            stale.append(other.pk)
        moving.append(step.pk)
    _delete(LadderStep, stale, dropped)
    LadderStep.objects.filter(pk__in=moving).update(patient=survivor)
    moved["clinical.ladderstep.patient"] = moving


def _drop_profile(survivor: Patient, merged: Patient, moved: Moved, dropped: Moved) -> None:
    """The merged patient's numbers are recomputed into the survivor's profile."""
    PatientProfile.objects.filter(patient=merged).delete()


Handler = Callable[[Patient, Patient, Moved, Moved], None]
_HANDLERS: dict[str, Handler] = {
    "patients.patientphone.patient": _move_phones,
    "patients.patientchatid.patient": _move_chat_ids,
    "clinical.ladderstep.patient": _move_ladder_steps,
    "crm.patientprofile.patient": _drop_profile,
}


def _relations() -> list[tuple[str, type[models.Model], str]]:
    """Every ("app_label.model.field", model, field name) pointing at a Patient, the
    auto-created tags table aside (tags are unioned through the many-to-many)."""
    found: list[tuple[str, type[models.Model], str]] = []
    for relation in Patient._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and relation.is_relation):
            continue
        model = relation.related_model
        if not (isinstance(model, type) and issubclass(model, models.Model)):
            continue
        if model._meta.auto_created:
            continue
        name = relation.field.name  # type: ignore[union-attr]
        found.append((f"{model._meta.label_lower}.{name}", model, name))
    return sorted(found, key=lambda item: item[0])


def _repoint(
    key: str, model: type[models.Model], name: str, survivor: Patient, merged: Patient
) -> list[int]:
    rows = model._base_manager.filter(**{name: merged.pk})
    owner = _SELF_OWNED.get(key)
    if owner is not None:
        rows.filter(**{owner: survivor.pk}).update(**{name: None})
        rows = rows.exclude(**{owner: survivor.pk})
    ids = sorted(rows.values_list("pk", flat=True))
    if not ids:
        return []
    try:
        with transaction.atomic():
            model._base_manager.filter(pk__in=ids).update(**{name: survivor.pk})
    except IntegrityError:
        # A unique rule this service does not know yet: refuse the whole merge.
        raise Conflict.on(
            "merged",
            _("The two records cannot be merged: their %(what)s clash.")
            % {"what": model._meta.verbose_name_plural},
        ) from None
    return ids


def _move_external_ids(survivor: Patient, merged: Patient, moved: Moved) -> None:
    ids = sorted(
        ExternalId.objects.filter(
            organization_id=merged.organization_id, kind=ExternalKind.PATIENT, object_id=merged.pk
        ).values_list("pk", flat=True)
    )
    ExternalId.objects.filter(pk__in=ids).update(object_id=survivor.pk)
    moved["crm.externalid.object_id"] = ids


def _union_tags(survivor: Patient, merged: Patient, moved: Moved) -> None:
    theirs = set(survivor.tags.values_list("pk", flat=True))
    added = sorted(set(merged.tags.values_list("pk", flat=True)) - theirs)
    survivor.tags.add(*added)
    merged.tags.clear()
    moved["patients.patient.tags"] = added


def _lock(survivor: Patient, merged: Patient) -> tuple[Patient, Patient]:
    """Both rows locked in ascending id order (the order every service takes them in)."""
    rows = {
        p.pk: p
        for p in Patient.objects.select_for_update()
        .filter(pk__in=[survivor.pk, merged.pk])
        .order_by("pk")
    }
    return rows[survivor.pk], rows[merged.pk]


def _move_everything(survivor: Patient, merged: Patient) -> tuple[Moved, Moved]:
    moved: Moved = {}
    dropped: Moved = {}
    for key, model, name in _relations():
        if key in _KEEP:
            continue
        handler = _HANDLERS.get(key)
        if handler is not None:
            handler(survivor, merged, moved, dropped)
            continue
        moved[key] = _repoint(key, model, name, survivor, merged)
    _move_external_ids(survivor, merged, moved)
    _union_tags(survivor, merged, moved)
    return {key: ids for key, ids in moved.items() if ids}, dropped


def _audit(
    actor: User, survivor: Patient, merged: Patient, merge: PatientMerge, moved: Moved
) -> None:
    rows = sum(len(ids) for ids in moved.values())
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=survivor, patient_id=survivor.pk,
        branch_id=survivor.home_branch_id,
        summary=f"merged {merged.number} ({merged.display_name}) into this record: {rows} rows moved",
        changes={"merged_from": (None, merged.pk), "merge": (None, merge.pk)},
    )  # fmt: skip
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=merged, patient_id=merged.pk,
        branch_id=merged.home_branch_id,
        summary=f"merged into {survivor.number} ({survivor.display_name})",
        changes={
            "status": (merge.merged_snapshot.get("status"), PatientStatus.MERGED),
            "merged_into": (None, survivor.pk), "merge": (None, merge.pk),
        },
    )  # fmt: skip


def merge_patients(*, actor: User, survivor: Patient, merged: Patient, reason: str) -> PatientMerge:
    """Make two records of one person one: everything of `merged` moves to `survivor`.

    The merged record stays (status "merged", `merged_into` the survivor) so old links
    lead somewhere; `PatientMerge.moved` lists every row that changed hands and
    `merged_snapshot` the merged record as it was (with the rows dropped as repeats).
    Refused, changing nothing: the same patient twice, two organisations, a record
    already merged, no reason."""
    reason = (reason or "").strip()
    with transaction.atomic():
        _check(survivor, merged, reason)
        survivor, merged = _lock(survivor, merged)
        _check(survivor, merged, reason)  # again under the lock: a merge may have won a race
        snapshot = _snapshot(merged)
        moved, dropped = _move_everything(survivor, merged)
        merged.status = PatientStatus.MERGED
        merged.merged_into = survivor
        merged.save(update_fields=["status", "merged_into", "updated_at"])
        merge = PatientMerge.objects.create(
            organization_id=survivor.organization_id, survivor=survivor, merged=merged,
            merged_by=actor, merged_at=timezone.now(), reason=reason, moved=moved,
            merged_snapshot={**snapshot, "dropped": dropped},
        )  # fmt: skip
        _audit(actor, survivor, merged, merge, moved)
        _refresh_survivor_profile(survivor.pk)
    return merge


def _refresh_survivor_profile(survivor_id: int) -> None:
    """Recompute the survivor's profile and group with everything it now holds.

    `chairtime.crm.profiles.compute.refresh_profiles` is imported when called: the
    profiles area may ship after this one, and until it does there is no profile to keep.
    """
    try:
        compute = importlib.import_module("chairtime.crm.profiles.compute")
    except ImportError:
        logger.info("crm.profiles.compute is not installed: survivor %s not refreshed", survivor_id)
        return
    refresh: Callable[[list[int]], int] | None = getattr(compute, "refresh_profiles", None)
    if refresh is not None:
        refresh([survivor_id])
