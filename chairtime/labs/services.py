"""Writes of labs and lab cases. Each checks everything first and refuses with the field
and the reason (nothing written), then writes and audits in one transaction. A step of a
case locks the case row, so two people pressing "Received" at once are taken one after
the other: the second is told the case is already received, never counted twice."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.clinical.models import TreatmentItem
from chairtime.clinical.teeth import parse_teeth, validate_teeth
from chairtime.core.errors import InvalidInput, Message, NotFound
from chairtime.labs.choices import STEPS, CaseKind, LabCaseStatus, LabStep
from chairtime.labs.models import MAX_TURNAROUND_DAYS, Lab, LabCase
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.models import Branch, Organization
from chairtime.tenancy.roles import Capability

Actor = AbstractBaseUser | AnonymousUser | None
NAME_MAX, PHONE_MAX, SHADE_MAX, NOTES_MAX, STEP_NOTE_MAX = 120, 40, 30, 500, 200
FAR = timedelta(days=366 * 3)  # a due date further than this is a typing mistake
_PHONE = re.compile(r"^[0-9+()\-. ]*$")


def _local_day(branch: Branch, at: datetime) -> date:
    return timezone.localdate(at, timezone=branch.zone)


def _user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


# --- labs -------------------------------------------------------------------------------------
LAB_FIELDS = ("name", "phone", "email", "default_turnaround_days", "turnaround_days", "is_active")


def _days(value: Any) -> tuple[int | None, Message | None]:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        return None, _("Enter a whole number of days.")
    if not 1 <= value <= MAX_TURNAROUND_DAYS:
        return None, _("Enter a number of days from 1 to %(high)s.") % {"high": MAX_TURNAROUND_DAYS}
    return value, None


def _per_kind(value: Any) -> tuple[dict[str, int], Message | None]:
    if not isinstance(value, Mapping):
        return {}, _("Give the days per kind of work.")
    clean: dict[str, int] = {}
    for kind, days in value.items():
        if kind not in CaseKind.values:
            return {}, _("“%(kind)s” is not a kind of lab work.") % {"kind": kind}
        if days in (None, ""):
            continue  # no entry: the default applies
        number, error = _days(days)
        if error is not None or number is None:
            return {}, f"{CaseKind(kind).label}: {error}"
        clean[kind] = number
    return clean, None


def _name_taken(organization: Organization, name: str, lab: Lab | None) -> bool:
    others = Lab.objects.filter(organization=organization, name__iexact=name)
    return (others.exclude(pk=lab.pk) if lab is not None else others).exists()


def validate_lab_values(
    organization: Organization, values: Mapping[str, Any], *, lab: Lab | None = None
) -> dict[str, Any]:
    """The settings of a lab, checked: every bad one named with its reason."""
    errors: dict[str, list[Message]] = {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        error: Message | None = None
        if name not in LAB_FIELDS:
            error = _("Unknown setting.")
        elif name == "name":
            clean[name] = str(value or "").strip()
            if not clean[name]:
                error = _("Give the lab a name.")
            elif len(clean[name]) > NAME_MAX:
                error = _("At most %(max)s characters.") % {"max": NAME_MAX}
            elif _name_taken(organization, clean[name], lab):
                error = _("Another lab has this name.")
        elif name == "phone":
            clean[name] = str(value or "").strip()
            if len(clean[name]) > PHONE_MAX or not _PHONE.match(clean[name]):
                error = _("Enter a phone number (digits, spaces, + - . ( )).")
        elif name == "email":
            clean[name] = str(value or "").strip()
            if clean[name]:
                try:
                    validate_email(clean[name])
                except ValidationError:
                    error = _("Enter a valid email address.")
        elif name == "default_turnaround_days":
            clean[name], error = _days(value)
        elif name == "turnaround_days":
            clean[name], error = _per_kind(value)
        elif name == "is_active":
            clean[name] = value
            if not isinstance(value, bool):
                error = _("Say yes or no.")
        if error is not None:
            errors[name] = [error]
    if lab is None and "name" not in values:
        errors["name"] = [_("Give the lab a name.")]
    if errors:
        raise InvalidInput(errors)
    return clean


def create_lab(*, actor: Actor, branch: Branch, values: Mapping[str, Any]) -> Lab:
    """A new lab of the organisation of `branch`, the acting branch (name required;
    turnaround 7 days unless given). Audited in the acting branch's log."""
    organization = branch.organization
    clean = validate_lab_values(organization, values)
    with transaction.atomic():
        lab = Lab.objects.create(organization=organization, **clean)
        record_event(
            actor=actor, action=AuditAction.CREATE, target=lab, summary=f"lab {lab.name}",
            organization_id=organization.pk, branch_id=branch.pk,
        )  # fmt: skip
    return lab


def update_lab(*, actor: Actor, branch: Branch, lab: Lab, values: Mapping[str, Any]) -> Lab:
    """Change some settings of a lab of the acting branch's organisation (audited in that
    branch's log); open cases keep the due dates they have."""
    if lab.organization_id != branch.organization_id:
        raise InvalidInput.on("lab", _("Choose one of the organisation's labs."))
    clean = validate_lab_values(lab.organization, values, lab=lab)
    with transaction.atomic():
        locked = Lab.objects.select_for_update().get(pk=lab.pk)
        before = {name: getattr(locked, name) for name in LAB_FIELDS}
        for name, value in clean.items():
            setattr(locked, name, value)
        locked.save()
        changes = diff(before, {name: getattr(locked, name) for name in LAB_FIELDS})
        if changes:
            record_event(
                actor=actor, action=AuditAction.UPDATE, target=locked,
                summary=f"lab {locked.name}", changes=changes,
                organization_id=locked.organization_id, branch_id=branch.pk,
            )  # fmt: skip
    return locked


# --- ordering a case ------------------------------------------------------------------------
def _lab_of(branch: Branch, lab_id: Any, errors: dict[str, list[Message]]) -> Lab | None:
    lab = None
    if isinstance(lab_id, int | str) and str(lab_id).isdigit():
        lab = Lab.objects.filter(pk=int(lab_id), organization_id=branch.organization_id).first()
    if lab is None:
        errors["lab"] = [_("Choose one of the organisation's labs.")]
    elif not lab.is_active:
        errors["lab"] = [_("%(lab)s is no longer active: choose another lab.") % {"lab": lab.name}]
    return lab


def _sees_schedule_of(actor: Actor, branch_id: int) -> bool:
    """Whether the actor may see the book of another branch (then naming it tells them
    nothing new)."""
    if actor is None:
        return False
    try:
        return get_branch_access(actor, branch_id).can(Capability.SCHEDULE_VIEW)
    except NotFound:
        return False


def _appointment_of(
    actor: Actor,
    branch: Branch,
    patient: Patient,
    appointment_id: Any,
    errors: dict[str, list[Message]],
) -> Appointment | None:
    if appointment_id in (None, ""):
        return None
    found = None
    if isinstance(appointment_id, int | str) and str(appointment_id).isdigit():
        found = (
            Appointment.objects.filter(
                pk=int(appointment_id), branch__organization_id=branch.organization_id
            )
            .select_related("branch")
            .first()
        )
    if (
        found is not None
        and found.branch_id != branch.pk
        and not _sees_schedule_of(actor, found.branch_id)
    ):
        found = None  # forbidden looks exactly like missing
    if found is None:
        errors["appointment"] = [_("No such appointment.")]
    elif found.branch_id != branch.pk:
        errors["appointment"] = [
            _("This appointment is in another branch (%(branch)s): order the case there.")
            % {"branch": found.branch.name}
        ]
    elif found.patient_id != patient.pk:
        errors["appointment"] = [_("This appointment is another patient's.")]
    return found


def _plan_item_of(
    branch: Branch, patient: Patient, item_id: Any, errors: dict[str, list[Message]]
) -> TreatmentItem | None:
    if item_id in (None, ""):
        return None
    found = None
    if isinstance(item_id, int | str) and str(item_id).isdigit():
        found = (
            TreatmentItem.objects.filter(
                pk=int(item_id), option__plan__branch__organization_id=branch.organization_id
            )
            .select_related("option__plan", "procedure")
            .first()
        )
    if found is None:
        errors["plan_item"] = [_("No such plan item.")]
    elif found.option.plan.patient_id != patient.pk:
        errors["plan_item"] = [_("This plan item is in another patient's plan.")]
    return found


def _due_on(value: Any, since: date, field: str, errors: dict[str, list[Message]]) -> date | None:
    """A due date given by the user: a date, not before `since`, not years away."""
    if value in (None, ""):
        return None
    day = value if isinstance(value, date) else None
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            day = None
    if day is None:
        errors[field] = [_("Enter a date (YYYY-MM-DD).")]
    elif day < since:
        errors[field] = [
            _("The due date cannot be before %(day)s, when the case was ordered.")
            % {"day": since.isoformat()}
        ]
    elif day > since + FAR:
        errors[field] = [_("The due date is more than three years away.")]
    return day


def _text(value: Any, field: str, limit: int, errors: dict[str, list[Message]]) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        errors[field] = [_("At most %(max)s characters.") % {"max": limit}]
    return text


def order_case(
    *,
    actor: Actor,
    branch: Branch,
    patient: Patient,
    lab_id: Any,
    kind: Any,
    teeth: Any = (),
    shade: Any = "",
    notes: Any = "",
    due_on: Any = None,
    appointment_id: Any = None,
    plan_item_id: Any = None,
    now: datetime | None = None,
) -> LabCase:
    """Order a case for a patient of the branch. Refused, naming the field, for: a lab not
    the organisation's or inactive, an unknown kind, a tooth not in FDI notation, an
    appointment of another branch (named only to an actor who sees that branch's book;
    anyone else is told there is no such appointment) or patient, a plan item of another
    patient, a due date before the order date. Without a due date: the lab's turnaround
    from today."""
    now = now or timezone.now()
    today = _local_day(branch, now)
    errors: dict[str, list[Message]] = {}
    if patient.organization_id != branch.organization_id:
        errors["patient"] = [_("This patient is another organisation's.")]
    lab = _lab_of(branch, lab_id, errors)
    if kind not in CaseKind.values:
        errors["kind"] = [_("Choose one of the listed kinds.")]
    try:
        clean_teeth = (
            parse_teeth(teeth) if isinstance(teeth, str) else validate_teeth(list(teeth or ()))
        )
    except InvalidInput as error:
        errors.update({k: list(v) for k, v in error.errors.items()})
        clean_teeth = ()
    clean_shade = _text(shade, "shade", SHADE_MAX, errors)
    clean_notes = _text(notes, "notes", NOTES_MAX, errors)
    fixed_due = _due_on(due_on, today, "due_on", errors)
    appointment = _appointment_of(actor, branch, patient, appointment_id, errors)
    plan_item = _plan_item_of(branch, patient, plan_item_id, errors)
    if errors:
        raise InvalidInput(errors)
    assert lab is not None
    with transaction.atomic():
        case = LabCase.objects.create(
            branch=branch, patient=patient, lab=lab, kind=kind, teeth=list(clean_teeth),
            shade=clean_shade, notes=clean_notes,
            due_on=fixed_due or today + timedelta(days=lab.turnaround_for(kind)),
            is_due_on_fixed=fixed_due is not None, appointment=appointment, plan_item=plan_item,
            ordered_at=now, ordered_by=_user(actor),
        )  # fmt: skip
        record_event(
            actor=actor, action=AuditAction.CREATE, target=case,
            summary=f"lab case {kind} at {lab.name}, due {case.due_on}",
            organization_id=branch.organization_id,
        )  # fmt: skip
    return case


# --- steps ------------------------------------------------------------------------------------
_TIME_OF: dict[str, str] = {
    LabStep.SEND: "sent_at", LabStep.RECEIVE: "received_at", LabStep.CHECK: "checked_at",
    LabStep.RETURN: "returned_at", LabStep.CANCEL: "cancelled_at",
}  # fmt: skip


def _out_of_order(case: LabCase, step: str) -> Message:
    status = case.status
    if step == LabStep.RECEIVE and status == LabCaseStatus.ORDERED:
        return _("This case was never sent: mark it sent to the lab before receiving it.")
    if step == LabStep.CHECK and status in (LabCaseStatus.ORDERED, LabCaseStatus.SENT):
        return _("This case is not back yet: receive it before checking it.")
    if step == LabStep.RETURN and status not in STEPS[LabStep.RETURN][0]:
        return _("Only a case that is back can be returned for a remake.")
    return _("This case is %(status)s: it cannot be marked “%(step)s”.") % {
        "status": LabCaseStatus(status).label.lower(),
        "step": LabStep(step).label,
    }


def step_case(
    *,
    actor: Actor,
    case: LabCase,
    step: str,
    due_on: Any = None,
    note: Any = "",
    now: datetime | None = None,
) -> LabCase:
    """Move a case one step (send, receive, check, return for a remake, cancel), with the
    row locked. A step out of order is refused and says why ("never sent"). Sending (and
    returning) counts the due date again from that day unless one was fixed or is given."""
    if step not in STEPS:
        raise InvalidInput.on("step", _("Choose one of the listed steps."))
    now = now or timezone.now()
    errors: dict[str, list[Message]] = {}
    clean_note = _text(note, "note", STEP_NOTE_MAX, errors)
    with transaction.atomic():
        locked = LabCase.objects.select_for_update().select_related("lab", "branch").get(pk=case.pk)
        starts, leads_to = STEPS[step]
        if locked.status not in starts:
            raise InvalidInput.on("step", _out_of_order(locked, step))
        day = _local_day(locked.branch, now)
        given = None
        if step in (LabStep.SEND, LabStep.RETURN):
            ordered_on = _local_day(locked.branch, locked.ordered_at)
            given = _due_on(due_on, ordered_on, "due_on", errors)
        if errors:
            raise InvalidInput(errors)
        before = {"status": locked.status, "due_on": locked.due_on}
        locked.status = leads_to
        setattr(locked, _TIME_OF[step], now)
        if given is not None:
            locked.due_on, locked.is_due_on_fixed = given, True
        elif step == LabStep.RETURN or (step == LabStep.SEND and not locked.is_due_on_fixed):
            locked.due_on = day + timedelta(days=locked.lab.turnaround_for(locked.kind))
            locked.is_due_on_fixed = False
        if step == LabStep.RETURN:
            locked.remake_count += 1
        locked.step_note = clean_note
        locked.save()
        record_event(
            actor=actor, action=AuditAction.UPDATE, target=locked,
            summary=f"lab case {step}" + (f": {clean_note}" if clean_note else ""),
            changes=diff(before, {"status": locked.status, "due_on": locked.due_on}),
            organization_id=locked.branch.organization_id,
        )  # fmt: skip
    return locked
