"""Writes to treatment plans and to production (procedures performed).

A plan is proposed with one or more options; accepting one (signed, or verbal consent with
a staff witness) declines the others. Its items are then booked and, when a visit is
completed, performed: the plan moves accepted → in progress → completed. A proposed plan
is declined with a reason, or expires `branch.plan_validity_days` after it was presented.

Every write locks the plan row first (one plan at a time; several in ascending id), so two
people working the same plan queue instead of racing, and writes its audit event in the
same transaction. Bad input is refused with the field named before anything is written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.clinical.models import (
    LADDER_RANK,
    OPEN_PLAN_STATUSES,
    AcceptanceMethod,
    ItemStatus,
    LadderStep,
    OptionStatus,
    PerformedProcedure,
    PlanStatus,
    Procedure,
    ProcedurePrice,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.clinical.teeth import validate_surfaces, validate_teeth
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.money import parse_amount
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.services import BookingRequest, book_appointment, complete_appointment
from chairtime.tenancy.access import get_branch_access
from chairtime.tenancy.models import Branch, Membership
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role

Errors = dict[str, list[str]]
T = TypeVar("T")
MAX_QUANTITY = 999
MAX_PHASE = 99
MAX_CHAIR_MINUTES = 24 * 60  # a visit left "in the chair" overnight still counts a day at most
SIGNATURE_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 200 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Who may present a plan to a patient: anyone whose role may edit treatment.
PRESENTER_ROLES = frozenset(
    role
    for role, capabilities in ROLE_CAPABILITIES.items()
    if Capability.TREATMENT_EDIT in capabilities
)
# Who may record a visit's procedure at another price or discount than the agreed one (the
# plan item's, else the branch's price and no discount): the front desk books and completes
# visits (`schedule.book`) but must not price a procedure down.
PRICE_CAPABILITIES = (Capability.TREATMENT_EDIT, Capability.MONEY_ADJUST)
# Items still to do: not booked yet, or booked on an appointment that was then cancelled
# or missed (the item goes back on the unscheduled list).
UNSCHEDULED = Q(status=ItemStatus.PLANNED) | Q(
    status=ItemStatus.SCHEDULED, appointment__status__in=RELEASED_STATUSES
)
DONE_ITEM_STATUSES = frozenset({ItemStatus.COMPLETED, ItemStatus.CANCELLED})


@dataclass(frozen=True)
class ItemInput:
    """One procedure proposed in an option. `unit_price` None → the branch's price."""

    procedure_id: int
    teeth: tuple[int, ...] = ()
    surfaces: str = ""
    quantity: int = 1
    unit_price: Decimal | None = None
    discount: Decimal = Decimal("0")
    discount_reason: str = ""
    phase: int = 1


@dataclass(frozen=True)
class PerformedInput:
    """One procedure done in a visit. `unit_price` None → the plan item's price, else the
    branch's (else zero: a procedure without a price still counts as production);
    `discount` None → the plan item's, else none; `chair_minutes` None → a share of the
    time from seating to now."""

    procedure_id: int
    plan_item_id: int | None = None
    teeth: tuple[int, ...] = ()
    surfaces: str = ""
    quantity: int = 1
    unit_price: Decimal | None = None
    discount: Decimal | None = None
    chair_minutes: int | None = None
    notes: str = ""


@dataclass(frozen=True)
class _Priced:
    """Checked values of an item or a performed procedure."""

    procedure: Procedure
    teeth: tuple[int, ...]
    surfaces: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal


# --- checks shared by plans and visits ------------------------------------------------------
def _works_in(user: User | None, branch: Branch, roles: Iterable[str] | None = None) -> bool:
    """The user is active and holds a membership in the branch (or its whole organisation),
    with one of `roles` when given."""
    if user is None or not user.is_active:
        return False
    memberships = Membership.objects.filter(
        Q(branch=branch) | Q(branch__isnull=True),
        user=user,
        organization_id=branch.organization_id,
    )
    if roles is not None:
        memberships = memberships.filter(role__in=list(roles))
    return memberships.exists()


def _branch_price(branch: Branch, procedure: Procedure) -> Decimal | None:
    return (
        ProcedurePrice.objects.filter(branch=branch, procedure=procedure)
        .values_list("price", flat=True)
        .first()
    )


def _procedure(errors: Errors, field: str, branch: Branch, procedure_id: int) -> Procedure | None:
    found = Procedure.objects.filter(
        pk=procedure_id, organization_id=branch.organization_id, is_active=True
    ).first()
    if found is None:
        errors[field] = [_("No such procedure.")]
    return found


def _collect(errors: Errors, call: Callable[[], T]) -> T | None:
    """Run a check that raises InvalidInput, keeping its messages with the others."""
    try:
        return call()
    except InvalidInput as error:
        for field, messages in error.errors.items():
            errors.setdefault(field, []).extend(messages)
        return None


def _price(
    errors: Errors,
    prefix: str,
    branch: Branch,
    procedure: Procedure | None,
    *,
    teeth: Sequence[int],
    surfaces: str,
    quantity: int,
    unit_price: Decimal | None,
    discount: Decimal,
    fallback_price: Decimal | None = None,
    price_required: bool = True,
) -> _Priced | None:
    """Check the clinical and money values of one line; messages go to `errors` under
    `prefix` + the field name. None when anything is wrong."""
    before = len(errors)
    checked_teeth = _collect(errors, lambda: validate_teeth(teeth, f"{prefix}teeth"))
    checked_surfaces = _collect(errors, lambda: validate_surfaces(surfaces, f"{prefix}surfaces"))
    if checked_surfaces and not teeth:
        errors[f"{prefix}surfaces"] = [_("Give the teeth these surfaces are on.")]
    if not 1 <= quantity <= MAX_QUANTITY:
        errors[f"{prefix}quantity"] = [
            _("Give a quantity from 1 to %(largest)s.") % {"largest": MAX_QUANTITY}
        ]
    price = unit_price if unit_price is not None else fallback_price
    if price is None and procedure is not None:
        price = _branch_price(branch, procedure)
        if price is None and price_required:
            errors[f"{prefix}unit_price"] = [
                _("%(procedure)s has no price in this branch: give one.")
                % {"procedure": procedure.code}
            ]
    checked_price = _amount(errors, f"{prefix}unit_price", branch, price or Decimal("0"))
    checked_discount = _amount(errors, f"{prefix}discount", branch, discount)
    if len(errors) > before or procedure is None:
        return None
    assert checked_teeth is not None and checked_surfaces is not None  # no errors above
    assert checked_price is not None and checked_discount is not None
    gross = quantity * checked_price
    if checked_discount > gross:
        errors[f"{prefix}discount"] = [
            _("The discount (%(discount)s) is more than the price (%(gross)s).")
            % {"discount": checked_discount, "gross": gross}
        ]
        return None
    return _Priced(
        procedure=procedure, teeth=checked_teeth, surfaces=checked_surfaces, quantity=quantity,
        unit_price=checked_price, discount=checked_discount, amount=gross - checked_discount,
    )  # fmt: skip


def _amount(errors: Errors, field: str, branch: Branch, value: Decimal) -> Decimal | None:
    return _collect(errors, lambda: parse_amount(value, branch.currency, field, allow_zero=True))


def _text(errors: Errors, field: str, value: str, *, required: str = "", limit: int = 200) -> str:
    text = value.strip()
    if required and not text:
        errors[field] = [required]
    elif len(text) > limit:
        errors[field] = [_("At most %(limit)s characters.") % {"limit": limit}]
    return text


def _raise(errors: Errors) -> None:
    if errors:
        raise InvalidInput(errors)


def _today(branch: Branch, now: datetime) -> date:
    return timezone.localtime(now, branch.zone).date()


# --- plans ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _CheckedItem:
    priced: _Priced
    phase: int
    discount_reason: str


def _check_item(
    errors: Errors, branch: Branch, item: ItemInput, prefix: str
) -> _CheckedItem | None:
    procedure = _procedure(errors, f"{prefix}procedure_id", branch, item.procedure_id)
    if not 1 <= item.phase <= MAX_PHASE:
        errors[f"{prefix}phase"] = [
            _("Give a phase from 1 to %(largest)s.") % {"largest": MAX_PHASE}
        ]
    reason = _text(errors, f"{prefix}discount_reason", item.discount_reason)
    if not reason and item.discount.is_finite() and item.discount > 0:
        errors[f"{prefix}discount_reason"] = [_("Say why the discount is given.")]
    priced = _price(
        errors, prefix, branch, procedure, teeth=item.teeth, surfaces=item.surfaces,
        quantity=item.quantity, unit_price=item.unit_price, discount=item.discount,
    )  # fmt: skip
    if priced is None or f"{prefix}phase" in errors:
        return None
    return _CheckedItem(priced=priced, phase=item.phase, discount_reason=reason)


def _check_items(
    errors: Errors, branch: Branch, items: Sequence[ItemInput], prefix: str
) -> list[_CheckedItem]:
    checked = [_check_item(errors, branch, item, f"{prefix}{i}.") for i, item in enumerate(items)]
    return [c for c in checked if c is not None]


def _lock_plan(plan: TreatmentPlan) -> TreatmentPlan:
    return (
        TreatmentPlan.objects.select_for_update(of=("self",))
        .select_related("branch", "patient")
        .get(pk=plan.pk)
    )


def _require_status(plan: TreatmentPlan, allowed: Iterable[str], action: str) -> None:
    if plan.status not in set(allowed):
        raise InvalidInput.on(
            "status",
            _("The plan is “%(status)s”, so it cannot be %(action)s.")
            % {"status": plan.get_status_display(), "action": action},
        )


def _event(
    actor: User | None,
    action: str,
    target: TreatmentPlan | TreatmentOption | TreatmentItem | PerformedProcedure | LadderStep,
    plan_or_branch: TreatmentPlan | Branch,
    patient_id: int,
    summary: str,
    changes: dict[str, tuple[object, object]] | None = None,
) -> None:
    branch = plan_or_branch if isinstance(plan_or_branch, Branch) else plan_or_branch.branch
    record_event(
        actor=actor, action=action, target=target, organization_id=branch.organization_id,
        branch_id=branch.pk, patient_id=patient_id, summary=summary, changes=changes,
    )  # fmt: skip


def _create_items(
    actor: User, plan: TreatmentPlan, option: TreatmentOption, items: Sequence[_CheckedItem]
) -> list[TreatmentItem]:
    start = option.items.aggregate(last=Max("position"))["last"] or 0
    created = []
    for position, checked in enumerate(items, start + 1):
        priced = checked.priced
        item = TreatmentItem.objects.create(
            option=option, phase=checked.phase, position=position, procedure=priced.procedure,
            teeth=list(priced.teeth), surfaces=priced.surfaces, quantity=priced.quantity,
            unit_price=priced.unit_price, discount=priced.discount,
            discount_reason=checked.discount_reason, amount=priced.amount,
        )  # fmt: skip
        _event(
            actor, AuditAction.CREATE, item, plan, plan.patient_id,
            f"{plan.title} · {option.label}: {priced.procedure.code} {item.teeth_label}".strip(),
            {"amount": (None, item.amount), "teeth": (None, item.teeth)},
        )  # fmt: skip
        created.append(item)
    return created


def _create_option(
    actor: User, plan: TreatmentPlan, label: str, position: int, items: Sequence[_CheckedItem]
) -> TreatmentOption:
    option = TreatmentOption.objects.create(plan=plan, label=label, position=position)
    _event(actor, AuditAction.CREATE, option, plan, plan.patient_id, f"{plan.title} · {label}")
    _create_items(actor, plan, option, items)
    return option


@transaction.atomic
def create_plan(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    title: str,
    doctor: User,
    consultant: User | None = None,
    options: Sequence[tuple[str, Sequence[ItemInput]]],
    notes: str = "",
    now: datetime | None = None,
) -> TreatmentPlan:
    """Propose a plan with its options; it expires `branch.plan_validity_days` after today
    (the branch's local date) unless accepted or declined before."""
    now = now or timezone.now()
    errors: Errors = {}
    if patient.organization_id != branch.organization_id:
        errors["patient"] = [_("No such patient.")]
    title = _text(errors, "title", title, required=_("Give the plan a title."))
    if not _works_in(doctor, branch, [Role.DOCTOR]):
        errors["doctor"] = [_("This doctor does not work in this branch.")]
    if consultant is not None and not _works_in(consultant, branch, PRESENTER_ROLES):
        errors["consultant"] = [_("This consultant does not work in this branch.")]
    if not options:
        errors["options"] = [_("Give at least one option.")]
    checked = []
    for index, (label, items) in enumerate(options):
        label = _text(
            errors, f"options.{index}.label", label, required=_("Name the option."), limit=120
        )
        checked.append((label, _check_items(errors, branch, items, f"options.{index}.items.")))
    _raise(errors)
    plan = TreatmentPlan.objects.create(
        branch=branch, patient=patient, title=title, doctor=doctor, consultant=consultant,
        presented_at=now, notes=notes.strip(),
        expires_on=_today(branch, now) + timedelta(days=branch.plan_validity_days),
    )  # fmt: skip
    _event(
        actor, AuditAction.CREATE, plan, plan, patient.pk, plan.title,
        {"status": (None, plan.status), "expires_on": (None, plan.expires_on)},
    )  # fmt: skip
    for position, (option_label, checked_items) in enumerate(checked, 1):
        _create_option(actor, plan, option_label, position, checked_items)
    return plan


@transaction.atomic
def add_option(
    *,
    actor: User,
    plan: TreatmentPlan,
    label: str,
    items: Sequence[ItemInput],
    now: datetime | None = None,
) -> TreatmentOption:
    """Another alternative for a proposed plan."""
    locked = _lock_plan(plan)
    _require_status(locked, [PlanStatus.PROPOSED], _("changed"))
    errors: Errors = {}
    label = _text(errors, "label", label, required=_("Name the option."), limit=120)
    checked = _check_items(errors, locked.branch, items, "items.")
    _raise(errors)
    position = (locked.options.aggregate(last=Max("position"))["last"] or 0) + 1
    return _create_option(actor, locked, label, position, checked)


@transaction.atomic
def add_item(*, actor: User, option: TreatmentOption, item: ItemInput) -> TreatmentItem:
    """One more procedure in an option of a proposed plan."""
    locked = _lock_plan(option.plan)
    _require_status(locked, [PlanStatus.PROPOSED], _("changed"))
    errors: Errors = {}
    checked = _check_item(errors, locked.branch, item, "")
    _raise(errors)
    assert checked is not None  # no errors above
    fresh = TreatmentOption.objects.get(pk=option.pk)
    return _create_items(actor, locked, fresh, [checked])[0]


@transaction.atomic
def remove_item(*, actor: User, item: TreatmentItem) -> None:
    """Take a procedure out of an option of a proposed plan."""
    locked = _lock_plan(item.option.plan)
    _require_status(locked, [PlanStatus.PROPOSED], _("changed"))
    row = TreatmentItem.objects.select_related("procedure", "option").get(pk=item.pk)
    _event(
        actor, AuditAction.DELETE, row, locked, locked.patient_id,
        f"{locked.title} · {row.option.label}: {row.procedure.code} {row.teeth_label}".strip(),
        {"amount": (row.amount, None)},
    )  # fmt: skip
    row.delete()


def _check_acceptance(
    plan: TreatmentPlan, method: str, signature: str, signed_name: str, witness: User | None
) -> Errors:
    errors: Errors = {}
    if method == AcceptanceMethod.SIGNATURE:
        if len(signature) > MAX_SIGNATURE_BYTES:
            errors["signature"] = [_("The signature image is larger than 200 kB.")]
        elif not _is_png_data_url(signature):
            errors["signature"] = [_("Give the signature as a PNG image (a data URL).")]
        _text(errors, "signed_name", signed_name, required=_("Give the name of who signed."))
    elif method == AcceptanceMethod.VERBAL:
        if witness is None:
            errors["witness"] = [_("Name the staff member who witnessed the consent.")]
        elif not _works_in(witness, plan.branch):
            errors["witness"] = [_("The witness does not work in this branch.")]
    else:
        errors["method"] = [_("Choose how the patient accepted: signed or verbal consent.")]
    return errors


def _is_png_data_url(value: str) -> bool:
    if not value.startswith(SIGNATURE_PREFIX):
        return False
    try:
        image = base64.b64decode(value.removeprefix(SIGNATURE_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return False
    return image.startswith(PNG_MAGIC)


@transaction.atomic
def accept_option(
    *,
    actor: User,
    option: TreatmentOption,
    method: str,
    signature: str = "",
    signed_name: str = "",
    witness: User | None = None,
    note: str = "",
    now: datetime | None = None,
) -> TreatmentPlan:
    """The patient accepts one option of a proposed plan, signed (a drawn PNG signature and
    the signer's name) or verbally before a staff witness; the other options are declined."""
    now = now or timezone.now()
    locked = _lock_plan(option.plan)
    _require_status(locked, [PlanStatus.PROPOSED], _("accepted"))
    if locked.expires_on < _today(locked.branch, now):
        raise InvalidInput.on(
            "status", _("This plan expired on %(date)s.") % {"date": locked.expires_on.isoformat()}
        )
    chosen = TreatmentOption.objects.get(pk=option.pk)
    if not chosen.items.exclude(status=ItemStatus.CANCELLED).exists():
        raise InvalidInput.on("option", _("This option has no procedures to accept."))
    errors = _check_acceptance(locked, method, signature, signed_name, witness)
    note = _text(errors, "note", note, limit=500)
    _raise(errors)
    locked.options.exclude(pk=chosen.pk).update(status=OptionStatus.DECLINED, updated_at=now)
    chosen.status = OptionStatus.ACCEPTED
    chosen.save(update_fields=["status", "updated_at"])
    locked.status, locked.accepted_at, locked.accepted_by = PlanStatus.ACCEPTED, now, actor
    locked.acceptance_method, locked.acceptance_note = method, note
    is_signed = method == AcceptanceMethod.SIGNATURE
    locked.signature = signature if is_signed else ""
    locked.signed_name = signed_name.strip() if is_signed else ""
    locked.verbal_witness = None if is_signed else witness
    locked.save()
    _event(
        actor, AuditAction.UPDATE, locked, locked, locked.patient_id,
        f"{locked.title} · {chosen.label}",
        {"status": (PlanStatus.PROPOSED, locked.status), "option": (None, chosen.pk),
         "acceptance_method": (None, method)},
    )  # fmt: skip
    return locked


@transaction.atomic
def decline_plan(
    *, actor: User, plan: TreatmentPlan, reason: str, now: datetime | None = None
) -> TreatmentPlan:
    """The patient says no to a proposed plan (every option), with the reason."""
    now = now or timezone.now()
    locked = _lock_plan(plan)
    _require_status(locked, [PlanStatus.PROPOSED], _("declined"))
    errors: Errors = {}
    reason = _text(errors, "reason", reason, required=_("Give the reason."), limit=300)
    _raise(errors)
    locked.options.filter(status=OptionStatus.OPEN).update(
        status=OptionStatus.DECLINED, updated_at=now
    )
    locked.status, locked.declined_at, locked.decline_reason = PlanStatus.DECLINED, now, reason
    locked.save()
    _event(
        actor, AuditAction.UPDATE, locked, locked, locked.patient_id, locked.title,
        {"status": (PlanStatus.PROPOSED, locked.status), "decline_reason": ("", reason)},
    )  # fmt: skip
    return locked


@transaction.atomic
def expire_plans(*, now: datetime | None = None) -> int:
    """Expire every proposed plan whose `expires_on` is before its branch's local today;
    returns how many. Idempotent: a second run the same day finds nothing."""
    now = now or timezone.now()
    # No branch's local date is later than UTC's tomorrow: a cheap bound for the index.
    bound = now.date() + timedelta(days=1)
    candidates = (
        TreatmentPlan.objects.select_for_update(of=("self",))
        .select_related("branch")
        .filter(status=PlanStatus.PROPOSED, expires_on__lt=bound)
        .order_by("pk")
    )
    expired = 0
    for plan in candidates:
        if plan.expires_on >= _today(plan.branch, now):
            continue
        plan.status, plan.expired_at = PlanStatus.EXPIRED, now
        plan.save(update_fields=["status", "expired_at", "updated_at"])
        plan.options.filter(status=OptionStatus.OPEN).update(
            status=OptionStatus.DECLINED, updated_at=now
        )
        _event(
            None, AuditAction.UPDATE, plan, plan, plan.patient_id, plan.title,
            {"status": (PlanStatus.PROPOSED, PlanStatus.EXPIRED)},
        )  # fmt: skip
        expired += 1
    return expired


def _accepted_item(locked: TreatmentPlan, item: TreatmentItem) -> TreatmentItem:
    """The item re-read under its plan's lock; it must be on the plan's accepted option."""
    row = TreatmentItem.objects.select_related("option", "procedure", "appointment").get(pk=item.pk)
    if row.option.plan_id != locked.pk or row.option.status != OptionStatus.ACCEPTED:
        raise InvalidInput.on("item", _("This procedure is not on the accepted option."))
    return row


def _is_bookable(item: TreatmentItem) -> bool:
    return item.status == ItemStatus.PLANNED or (
        item.status == ItemStatus.SCHEDULED
        and (item.appointment is None or item.appointment.status in RELEASED_STATUSES)
    )


@transaction.atomic
def cancel_item(
    *, actor: User, item: TreatmentItem, reason: str, now: datetime | None = None
) -> TreatmentItem:
    """Drop a procedure of an accepted plan that will not be done (with the reason); the
    plan completes when nothing else is left to do."""
    now = now or timezone.now()
    locked = _lock_plan(item.option.plan)
    _require_status(locked, OPEN_PLAN_STATUSES, _("changed"))
    row = _accepted_item(locked, item)
    if row.status in DONE_ITEM_STATUSES:
        raise InvalidInput.on(
            "item",
            _("This procedure is already “%(status)s”.") % {"status": row.get_status_display()},
        )
    errors: Errors = {}
    reason = _text(errors, "reason", reason, required=_("Give the reason."), limit=300)
    _raise(errors)
    before = row.status
    row.status = ItemStatus.CANCELLED
    row.save(update_fields=["status", "updated_at"])
    _event(
        actor, AuditAction.UPDATE, row, locked, locked.patient_id,
        f"{locked.title}: {row.procedure.code} {row.teeth_label} · {reason}"[:255],
        {"status": (before, row.status), "reason": (None, reason)},
    )  # fmt: skip
    _advance_plan(actor, locked, now)
    return row


@transaction.atomic
def book_plan_item(
    *,
    actor: User,
    item: TreatmentItem,
    doctor: User,
    chair: Chair,
    starts_at: datetime,
    assistant: User | None = None,
    can_overbook: bool = False,
    now: datetime | None = None,
) -> Appointment:
    """Book the appointment that will do a planned procedure and link the two, at once:
    refused (with the booking's own reasons) means neither happens."""
    locked = _lock_plan(item.option.plan)
    _require_status(locked, OPEN_PLAN_STATUSES, _("booked"))
    row = _accepted_item(locked, item)
    if not _is_bookable(row):
        raise InvalidInput.on(
            "item",
            _("This procedure is already “%(status)s”.") % {"status": row.get_status_display()},
        )
    request = BookingRequest(
        patient=locked.patient, procedure=row.procedure, doctor=doctor, chair=chair,
        starts_at=starts_at, assistant=assistant, notes=f"{locked.title}: {row}"[:500],
    )  # fmt: skip
    appointment = book_appointment(
        actor=actor, branch=locked.branch, request=request, can_overbook=can_overbook, now=now
    )
    before = row.status
    row.status, row.appointment = ItemStatus.SCHEDULED, appointment
    row.save(update_fields=["status", "appointment", "updated_at"])
    _event(
        actor, AuditAction.UPDATE, row, locked, locked.patient_id, f"{locked.title}: {row}",
        {"status": (before, row.status), "appointment": (None, appointment.pk)},
    )  # fmt: skip
    return appointment


def _advance_plan(actor: User, plan: TreatmentPlan, now: datetime) -> None:
    """Move a locked accepted plan along with its items: in progress once one is done,
    completed once every one is done or cancelled."""
    statuses = set(
        TreatmentItem.objects.filter(
            option__plan=plan, option__status=OptionStatus.ACCEPTED
        ).values_list("status", flat=True)
    )
    before = plan.status
    if statuses and statuses <= DONE_ITEM_STATUSES:
        plan.status, plan.completed_at = PlanStatus.COMPLETED, now
    elif ItemStatus.COMPLETED in statuses and plan.status == PlanStatus.ACCEPTED:
        plan.status = PlanStatus.IN_PROGRESS
    if plan.status != before:
        plan.save(update_fields=["status", "completed_at", "updated_at"])
        _event(
            actor, AuditAction.UPDATE, plan, plan, plan.patient_id, plan.title,
            {"status": (before, plan.status)},
        )  # fmt: skip


# --- visits: production and the ladder ---------------------------------------------------------
@dataclass(frozen=True)
class _Performed:
    priced: _Priced
    plan_item: TreatmentItem | None
    chair_minutes: int | None
    notes: str


def _default_performed(appointment: Appointment) -> list[PerformedInput]:
    """The plan items booked on this appointment, as agreed (price and discount left to
    their defaults: the item's); else its own procedure."""
    items = TreatmentItem.objects.filter(
        appointment=appointment,
        status=ItemStatus.SCHEDULED,
        option__status=OptionStatus.ACCEPTED,
        option__plan__status__in=OPEN_PLAN_STATUSES,
    ).order_by("phase", "position", "pk")
    planned = [
        PerformedInput(
            procedure_id=item.procedure_id,
            plan_item_id=item.pk,
            teeth=tuple(item.teeth),
            surfaces=item.surfaces,
            quantity=item.quantity,
        )
        for item in items
    ]
    return planned or [PerformedInput(procedure_id=appointment.procedure_id)]


def _lock_plans_of(appointment: Appointment, performed: Sequence[PerformedInput]) -> None:
    """Lock, in ascending id, every plan the visit may move."""
    item_ids = [p.plan_item_id for p in performed if p.plan_item_id is not None]
    plan_ids = TreatmentItem.objects.filter(Q(appointment=appointment) | Q(pk__in=item_ids)).values(
        "option__plan_id"
    )
    list(
        TreatmentPlan.objects.select_for_update()
        .filter(pk__in=plan_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _plan_item(
    errors: Errors, field: str, appointment: Appointment, item_id: int, seen: set[int]
) -> TreatmentItem | None:
    """The item of one of the patient's plans in the appointment's branch. Another
    patient's, another branch's and a missing one get the same answer, so an id tells
    nothing about what exists elsewhere."""
    item = (
        TreatmentItem.objects.select_related("option__plan", "appointment")
        .filter(
            pk=item_id,
            option__plan__branch_id=appointment.branch_id,
            option__plan__patient_id=appointment.patient_id,
        )
        .first()
    )
    if item is None:
        message = _("No such plan item for this patient.")
    elif (
        item.option.plan.status not in OPEN_PLAN_STATUSES
        or item.option.status != OptionStatus.ACCEPTED
    ):
        message = _("This plan item is not on an accepted plan.")
    elif item.status in DONE_ITEM_STATUSES:
        message = _("This plan item is already “%(status)s”.") % {
            "status": item.get_status_display()
        }
    elif item_id in seen:
        message = _("This plan item is recorded twice.")
    else:
        seen.add(item_id)
        return item
    errors[field] = [message]
    return None


def _may_price(actor: User, branch: Branch) -> bool:
    """Whether the actor may record a procedure at another price or discount than agreed."""
    try:
        access = get_branch_access(actor, branch.pk)
    except NotFound:
        return False
    return any(access.can(capability) for capability in PRICE_CAPABILITIES)


def _check_price_change(
    errors: Errors,
    prefix: str,
    entry: PerformedInput,
    item: TreatmentItem | None,
    priced: _Priced,
    branch: Branch,
) -> None:
    """Refuse a price or discount other than the agreed one (the plan item's, else the
    branch's price and no discount), for someone who may not change them."""
    if entry.unit_price is not None:
        agreed = item.unit_price if item is not None else _branch_price(branch, priced.procedure)
        if priced.unit_price != (agreed or Decimal("0")):
            errors[f"{prefix}unit_price"] = [
                _("You may not change the price of a procedure: leave it empty.")
            ]
    if entry.discount is not None:
        agreed_discount = item.discount if item is not None else Decimal("0")
        if priced.discount != agreed_discount:
            errors[f"{prefix}discount"] = [
                _("You may not give or change a discount: leave it empty.")
            ]


def _check_performed(
    appointment: Appointment, performed: Sequence[PerformedInput], *, may_price: bool
) -> list[_Performed]:
    branch = appointment.branch
    errors: Errors = {}
    if not performed:
        errors["performed"] = [_("Record at least one procedure performed.")]
    seen: set[int] = set()
    checked: list[_Performed] = []
    for index, entry in enumerate(performed):
        prefix = f"performed.{index}."
        procedure = _procedure(errors, f"{prefix}procedure_id", branch, entry.procedure_id)
        item = None
        if entry.plan_item_id is not None:
            item = _plan_item(
                errors, f"{prefix}plan_item_id", appointment, entry.plan_item_id, seen
            )
            if item is not None and procedure is not None and item.procedure_id != procedure.pk:
                errors[f"{prefix}procedure_id"] = [_("This plan item is for another procedure.")]
        if entry.chair_minutes is not None and not 1 <= entry.chair_minutes <= MAX_CHAIR_MINUTES:
            errors[f"{prefix}chair_minutes"] = [
                _("Give the chair time in minutes, from 1 to %(largest)s.")
                % {"largest": MAX_CHAIR_MINUTES}
            ]
        notes = _text(errors, f"{prefix}notes", entry.notes, limit=500)
        discount = entry.discount
        if discount is None:
            discount = item.discount if item is not None else Decimal("0")
        priced = _price(
            errors, prefix, branch, procedure,
            teeth=entry.teeth or (tuple(item.teeth) if item else ()),
            surfaces=entry.surfaces or (item.surfaces if item else ""),
            quantity=entry.quantity, unit_price=entry.unit_price, discount=discount,
            fallback_price=item.unit_price if item else None, price_required=False,
        )  # fmt: skip
        if priced is not None and not may_price:
            _check_price_change(errors, prefix, entry, item, priced, branch)
        if priced is not None:
            checked.append(_Performed(priced, item, entry.chair_minutes, notes))
    _raise(errors)
    return checked


def _visit_minutes(appointment: Appointment, now: datetime) -> int:
    """Chair time of the visit: seated until now, else the booked duration."""
    if appointment.seated_at is not None:
        seconds = (now - appointment.seated_at).total_seconds()
    else:
        seconds = (appointment.ends_at - appointment.starts_at).total_seconds()
    return min(max(1, round(seconds / 60)), MAX_CHAIR_MINUTES)


def _shares(total: int, count: int) -> list[int]:
    """`total` minutes split over `count` procedures, the first ones taking the remainder."""
    base, extra = divmod(total, count)
    return [max(1, base + (1 if i < extra else 0)) for i in range(count)]


@transaction.atomic
def complete_visit(
    *,
    actor: User,
    appointment: Appointment,
    performed: Sequence[PerformedInput] | None = None,
    now: datetime | None = None,
) -> list[PerformedProcedure]:
    """Complete a seated appointment and record what was done (production).

    `performed` None → the plan items booked on it (at their agreed price), else its own
    procedure at the branch's price. A price or discount other than the agreed one needs
    `treatment.edit` or `money.adjust` (the front desk completes visits as agreed). Chair
    time not given is the visit's (seated until now) shared evenly. Plan items done become
    completed and move their plans along; a patient reaching a higher ladder tier than ever
    before gets a ladder step."""
    now = now or timezone.now()
    visit = complete_appointment(actor=actor, appointment=appointment, now=now)  # locks it
    inputs = list(performed) if performed is not None else _default_performed(visit)
    _lock_plans_of(visit, inputs)
    priced_by_hand = any(p.unit_price is not None or p.discount is not None for p in inputs)
    may_price = priced_by_hand and _may_price(actor, visit.branch)
    checked = _check_performed(visit, inputs, may_price=may_price)
    defaulted = [c for c in checked if c.chair_minutes is None]
    shares = iter(_shares(_visit_minutes(visit, now), len(defaulted)) if defaulted else [])
    rows = [
        _record_performed(actor, visit, c, c.chair_minutes or next(shares), now) for c in checked
    ]
    plans = {c.plan_item.option.plan_id for c in checked if c.plan_item is not None}
    for plan in TreatmentPlan.objects.select_related("branch").filter(pk__in=plans).order_by("pk"):
        _advance_plan(actor, plan, now)
    _climb_ladder(actor, visit, rows, now)
    return rows


@transaction.atomic
def complete_visit_as_booked(
    *, actor: User, appointment: Appointment, now: datetime | None = None
) -> Appointment:
    """The appointment book's one-click "completed": `complete_visit` with its defaults,
    answering the completed appointment."""
    visit = complete_visit(actor=actor, appointment=appointment, now=now)[0].appointment
    assert visit is not None  # complete_visit records the visit on every row
    return visit


def _record_performed(
    actor: User, visit: Appointment, checked: _Performed, minutes: int, now: datetime
) -> PerformedProcedure:
    priced = checked.priced
    row = PerformedProcedure.objects.create(
        branch=visit.branch, patient=visit.patient, appointment=visit,
        plan_item=checked.plan_item, procedure=priced.procedure, doctor=visit.doctor,
        assistant=visit.assistant, chair=visit.chair, performed_at=now, chair_minutes=minutes,
        teeth=list(priced.teeth), surfaces=priced.surfaces, quantity=priced.quantity,
        unit_price=priced.unit_price, discount=priced.discount, amount=priced.amount,
        notes=checked.notes, recorded_by=actor,
    )  # fmt: skip
    _event(
        actor, AuditAction.CREATE, row, visit.branch, visit.patient_id,
        f"{priced.procedure.code} {', '.join(map(str, priced.teeth))}".strip()
        + f" · {priced.amount} {visit.branch.currency}",
        {"amount": (None, row.amount), "plan_item": (None, row.plan_item_id)},
    )  # fmt: skip
    item = checked.plan_item
    if item is not None:
        before = item.status
        item.status, item.completed_at, item.appointment = ItemStatus.COMPLETED, now, visit
        item.save(update_fields=["status", "completed_at", "appointment", "updated_at"])
        _event(
            actor, AuditAction.UPDATE, item, visit.branch, visit.patient_id,
            f"{item.option.plan.title}: {priced.procedure.code}",
            {"status": (before, item.status)},
        )  # fmt: skip
    return row


def _climb_ladder(
    actor: User, visit: Appointment, rows: Sequence[PerformedProcedure], now: datetime
) -> LadderStep | None:
    """One step when the visit's highest tier beats the patient's highest so far."""
    if not rows:
        return None
    Patient.objects.select_for_update().filter(pk=visit.patient_id).exists()
    best = max(rows, key=lambda row: LADDER_RANK[row.procedure.ladder_tier])
    rank = LADDER_RANK[best.procedure.ladder_tier]
    highest = LadderStep.objects.filter(patient_id=visit.patient_id).order_by("-rank").first()
    if highest is not None and highest.rank >= rank:
        return None
    step = LadderStep.objects.create(
        patient_id=visit.patient_id, branch=visit.branch, tier=best.procedure.ladder_tier,
        rank=rank, previous_tier=highest.tier if highest else "", reached_at=now, performed=best,
    )  # fmt: skip
    _event(
        actor, AuditAction.CREATE, step, visit.branch, visit.patient_id,
        f"{step.previous_tier or '-'} → {step.tier}",
        {"tier": (step.previous_tier or None, step.tier)},
    )  # fmt: skip
    return step
