"""Writes for segments: save and delete (audited), and the audit of every export."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.crm.models import Segment
from chairtime.crm.segments.filters import parse_definition
from chairtime.crm.segments.selectors import may_manage_segments
from chairtime.tenancy.models import Branch


def _check_may_change(actor: AbstractBaseUser, segment: Segment) -> None:
    """Only the owner, or someone who manages staff, changes a segment; a private segment of
    someone else is not even visible (NotFound either way)."""
    if segment.owner_id == actor.pk:
        return
    if segment.is_shared and may_manage_segments(actor, segment.organization_id):
        return
    raise NotFound


def save_segment(
    *,
    actor: User,
    branch: Branch,
    name: str,
    definition: object,
    is_shared: bool,
    segment: Segment | None = None,
) -> Segment:
    """Create a segment owned by the actor, or change `segment`; the definition is
    validated strictly and stored in its normal form."""
    if segment is not None:
        if segment.organization_id != branch.organization_id:
            raise NotFound
        _check_may_change(actor, segment)
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Give the segment a name.")]
    elif len(name) > 100:
        errors["name"] = [_("At most 100 characters.")]
    try:
        parsed = parse_definition(definition)
    except InvalidInput as error:
        errors.update({f"definition.{key}": value for key, value in error.errors.items()})
    if errors:
        raise InvalidInput(errors)
    owner_id = segment.owner_id if segment is not None else actor.pk
    taken = Segment.objects.filter(
        organization_id=branch.organization_id, owner_id=owner_id, name=name
    )
    if segment is not None:
        taken = taken.exclude(pk=segment.pk)
    with transaction.atomic():
        if taken.select_for_update().exists():
            raise InvalidInput.on("name", _("A segment with this name already exists."))
        values: dict[str, Any] = {
            "name": name, "definition": parsed.to_json(), "is_shared": is_shared,
        }  # fmt: skip
        if segment is None:
            segment = Segment.objects.create(
                organization_id=branch.organization_id, owner=actor, **values
            )
            record_event(
                actor=actor, action=AuditAction.CREATE, target=segment, branch_id=branch.pk,
                summary=_("Segment “%(name)s” saved") % {"name": name},
            )  # fmt: skip
            return segment
        before = {key: getattr(segment, key) for key in values}
        for key, value in values.items():
            setattr(segment, key, value)
        segment.save(update_fields=[*values, "updated_at"])
        record_event(
            actor=actor, action=AuditAction.UPDATE, target=segment, branch_id=branch.pk,
            summary=_("Segment “%(name)s” changed") % {"name": name},
            changes=diff(before, values),
        )  # fmt: skip
    return segment


def delete_segment(*, actor: AbstractBaseUser, segment: Segment) -> None:
    """Delete a segment (the owner, or a staff manager for a shared one); audited."""
    _check_may_change(actor, segment)
    with transaction.atomic():
        record_event(
            actor=actor, action=AuditAction.DELETE, target=segment,
            summary=_("Segment “%(name)s” deleted") % {"name": segment.name},
        )  # fmt: skip
        segment.delete()


def record_export(
    *,
    actor: AbstractBaseUser,
    branch: Branch,
    what: str,
    file_format: str,
    rows: int,
    segment: Segment | None = None,
) -> None:
    """Personal data leaves the system: who exported what, in which format, how many rows."""
    record_event(
        actor=actor, action=AuditAction.VIEW, target=segment or branch,
        organization_id=branch.organization_id, branch_id=branch.pk,
        summary=_("Exported %(rows)d patients (%(format)s): %(what)s")
        % {"rows": rows, "format": file_format.upper(), "what": what},
        changes={"what": (None, what), "format": (None, file_format), "rows": (None, rows)},
    )  # fmt: skip
