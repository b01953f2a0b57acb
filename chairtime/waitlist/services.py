"""Writes of the waitlist: entries, the refill of a freed slot, and claims (ADR 13).

- An entry is refused, naming the field, for a procedure no doctor of the branch does, a
  doctor who does not work there or is not qualified, bad time preferences, and a second
  active entry for the same patient and procedure (the patient's row is locked while
  checking; a unique index stands behind it).
- The refill ranks who fits the gap (selectors.rank_candidates) and invites the first
  `INVITES_PER_OFFER`, each with a claim link in a message through the outbox, in one
  transaction. Running it again for the same gap (the automatic run, then a click on
  "Fill this gap") adds invites only while fewer than that are still live.
- A claim locks the offer row, then the invite, then the waitlist entry, so claims of one
  slot queue on the offer and claims of one entry (invited to several offers) queue on the
  entry; the first valid one books through the appointment book's own service (whose
  no-overlap guard is the last line); the others find the offer filled or the entry
  closed. Every later link says so.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.clinical.models import Procedure
from chairtime.core.errors import InvalidInput, Message, NotFound
from chairtime.messaging.choices import TemplateCode
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.scheduling.services import BookingRequest, book_appointment
from chairtime.tenancy.models import Branch
from chairtime.waitlist.choices import (
    EntryStatus,
    InviteState,
    OfferStatus,
    PartOfDay,
    ReleaseReason,
)
from chairtime.waitlist.messages import claim_url, send_invite_message
from chairtime.waitlist.models import OfferInvite, SlotOffer, WaitlistEntry
from chairtime.waitlist.selectors import (
    Gap,
    get_invite_by_hash,
    is_slot_free,
    is_start_taken,
    list_branch_doctors,
    qualified_doctor_ids,
    rank_candidates,
)

INVITES_PER_OFFER = 3  # patients asked at once for one slot
OFFER_VALID = timedelta(hours=2)  # a claim link works this long (never past the slot's start)
MIN_NOTICE = timedelta(minutes=30)  # a slot is offered from at least this far ahead
ROUND_TO = timedelta(minutes=5)
TOKEN_BYTES = 24
TOKEN_LENGTH = 32  # base64 of 24 bytes
NOTE_MAX = 300


# --- entries --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntryData:
    """What the front desk writes down: who waits, for what, with whom, and when they can
    come (`weekdays` 0 = Monday, empty: any day)."""

    patient: Patient
    procedure: Procedure
    doctor: User | None = None
    weekdays: list[int] = field(default_factory=list)
    part_of_day: str = PartOfDay.ANY
    earliest_on: date | None = None
    latest_on: date | None = None
    note: str = ""


def _check_entry(branch: Branch, data: EntryData, today: date) -> None:
    errors: dict[str, list[Message]] = {}
    if data.patient.organization_id != branch.organization_id or data.patient.status in (
        PatientStatus.MERGED, PatientStatus.DECEASED,
    ):  # fmt: skip
        errors["patient"] = [_("No such patient.")]
    if data.procedure.organization_id != branch.organization_id or not data.procedure.is_active:
        errors["procedure"] = [_("No such procedure.")]
    else:
        qualified = qualified_doctor_ids(branch, data.procedure)
        if not qualified:
            errors["procedure"] = [_("No doctor of this branch does this procedure.")]
        elif data.doctor is not None:
            if data.doctor.pk not in {d.pk for d in list_branch_doctors(branch)}:
                errors["doctor"] = [_("This doctor does not work in this branch.")]
            elif data.doctor.pk not in qualified:
                errors["doctor"] = [_("This doctor is not qualified for this procedure.")]
    if any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in data.weekdays):
        errors["weekdays"] = [_("Choose days of the week from the list.")]
    if data.part_of_day not in PartOfDay.values:
        errors["part_of_day"] = [_("Choose one of the listed times of day.")]
    if data.earliest_on and data.latest_on and data.earliest_on > data.latest_on:
        errors["latest_on"] = [_("The last day is before the first day.")]
    elif data.latest_on is not None and data.latest_on < today:
        errors["latest_on"] = [_("The last day has already passed.")]
    if len(data.note) > NOTE_MAX:
        errors["note"] = [_("At most %(count)d characters.") % {"count": NOTE_MAX}]
    if errors:
        raise InvalidInput(errors)


@transaction.atomic
def add_entry(
    *, actor: User, branch: Branch, data: EntryData, now: datetime | None = None
) -> WaitlistEntry:
    """Put a patient on the branch's waitlist, or refuse naming the field."""
    now = now or timezone.now()
    _check_entry(branch, data, timezone.localdate(now, branch.zone))
    # The patient's row serialises two clerks adding the same patient at once.
    Patient.objects.select_for_update().filter(pk=data.patient.pk).exists()
    duplicate = _("This patient is already on the waitlist for this procedure.")
    if WaitlistEntry.objects.filter(
        patient=data.patient, procedure=data.procedure, status=EntryStatus.ACTIVE
    ).exists():
        raise InvalidInput.on("procedure", duplicate)
    entry = WaitlistEntry(
        branch=branch, patient=data.patient, procedure=data.procedure, doctor=data.doctor,
        weekdays=sorted(set(data.weekdays)), part_of_day=data.part_of_day,
        earliest_on=data.earliest_on, latest_on=data.latest_on, note=data.note.strip(),
        waiting_since=now, created_by=actor,
    )  # fmt: skip
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        raise InvalidInput.on("procedure", duplicate) from None
    record_event(
        actor=actor, action=AuditAction.CREATE, target=entry, organization_id=branch.organization_id,
        summary=f"waitlist: {data.procedure.code}",
    )  # fmt: skip
    return entry


@transaction.atomic
def remove_entry(
    *, actor: User, entry: WaitlistEntry, now: datetime | None = None
) -> WaitlistEntry:
    """Take a waiting patient off the list."""
    locked = WaitlistEntry.objects.select_for_update().select_related("branch").get(pk=entry.pk)
    if locked.status != EntryStatus.ACTIVE:
        raise InvalidInput.on(
            "status",
            _("This entry is “%(status)s” already.") % {"status": locked.get_status_display()},
        )
    before = locked.status
    locked.status, locked.closed_at = EntryStatus.REMOVED, now or timezone.now()
    locked.save(update_fields=["status", "closed_at", "updated_at"])
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=locked,
        organization_id=locked.branch.organization_id, summary="waitlist: removed",
        changes={"status": (before, locked.status)},
    )  # fmt: skip
    return locked


# --- refill ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refill:
    """What a refill did: the offer (None when nothing could be offered), the invites it
    made now, and why it made none (`outcome`: invited, nobody, enough, closed, too_late)."""

    offer: SlotOffer | None
    invited: list[OfferInvite]
    outcome: str


def _round_up(moment: datetime) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=moment.tzinfo)
    steps = -(-(moment - epoch) // ROUND_TO)
    return epoch + steps * ROUND_TO


@transaction.atomic
def refill_slot(
    *,
    actor: User | None,
    appointment_id: int,
    reason: str,
    chair_id: int,
    doctor_id: int,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime | None = None,
    size: int | None = None,
) -> Refill:
    """Offer the interval an appointment freed to the best-ranked waiting patients (the
    first `size`, INVITES_PER_OFFER unless told)."""
    now = now or timezone.now()
    size = size or INVITES_PER_OFFER
    # The freed appointment's row serialises two refills of the same gap.
    source = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("branch__organization")
        .get(pk=appointment_id)
    )
    # Locked, so a claim filling it meanwhile is seen (the refill then waits for it).
    offer = (
        SlotOffer.objects.select_for_update(of=("self",))
        .filter(source_appointment=source, freed_starts_at=starts_at)
        .first()
    )
    if offer is not None and offer.status != OfferStatus.OPEN:
        return Refill(offer, [], "closed")
    offered_start = offer.starts_at if offer else max(starts_at, _round_up(now + MIN_NOTICE))
    if offered_start < now + MIN_NOTICE or offered_start >= ends_at:
        return Refill(offer, [], "too_late")
    live = _count_live(offer, now) if offer else 0
    if live >= size:
        return Refill(offer, [], "enough")
    gap = Gap(source.branch, chair_id, doctor_id, offered_start, ends_at,
              assistant_id=source.assistant_id, source_patient_id=source.patient_id)  # fmt: skip
    asked = list(offer.invites.values_list("entry_id", flat=True)) if offer else []
    candidates = rank_candidates(gap, exclude_entry_ids=asked)[: size - live]
    if not candidates:
        return Refill(offer, [], "nobody")
    if offer is None:
        offer = SlotOffer.objects.create(
            branch=source.branch, chair_id=chair_id, doctor_id=doctor_id,
            assistant_id=source.assistant_id, starts_at=offered_start, ends_at=ends_at,
            source_appointment=source, freed_starts_at=starts_at, reason=reason, created_by=actor,
        )  # fmt: skip
        offer.branch = source.branch
    invited = []
    rank = len(asked)
    for candidate in candidates:
        rank += 1
        token = secrets.token_urlsafe(TOKEN_BYTES)
        invite = OfferInvite.objects.create(
            offer=offer, entry=candidate.entry, patient=candidate.entry.patient,
            procedure=candidate.entry.procedure, rank=rank, tier=candidate.tier,
            token_hash=token_hash(token), expires_at=min(now + OFFER_VALID, offer.starts_at),
            channel=candidate.channel,
        )  # fmt: skip
        invite.message = send_invite_message(
            invite=invite, offer=offer, code=TemplateCode.SLOT_OFFER, address=candidate.address,
            link=claim_url(token), now=now,
        )  # fmt: skip
        invite.save(update_fields=["message", "updated_at"])
        invited.append(invite)
    record_event(
        actor=actor, action=AuditAction.UPDATE if asked else AuditAction.CREATE, target=offer,
        organization_id=source.branch.organization_id,
        summary=f"waitlist offer ({reason}): {len(invited)} invited",
        changes={"invites": (len(asked), rank)},
    )  # fmt: skip
    return Refill(offer, invited, "invited")


def _count_live(offer: SlotOffer, now: datetime) -> int:
    """Invites that may still be claimed: open, not expired, their patient still waiting
    (an entry booked through another offer, or removed, no longer holds a place)."""
    return offer.invites.filter(
        state=InviteState.INVITED, expires_at__gt=now, entry__status=EntryStatus.ACTIVE
    ).count()


def refill_appointment(
    *, actor: User, appointment: Appointment, now: datetime | None = None
) -> Refill:
    """ "Fill this gap" on a cancelled or missed appointment of the day view."""
    if appointment.is_active:
        raise InvalidInput.on(
            "appointment", _("This appointment still holds its time: there is no gap to fill.")
        )
    reason = (
        ReleaseReason.NO_SHOW
        if appointment.status == AppointmentStatus.NO_SHOW
        else ReleaseReason.CANCELLED
    )
    return refill_slot(
        actor=actor, appointment_id=appointment.pk, reason=reason, chair_id=appointment.chair_id,
        doctor_id=appointment.doctor_id, starts_at=appointment.starts_at,
        ends_at=appointment.ends_at, now=now,
    )  # fmt: skip


# --- claims ---------------------------------------------------------------------------------
def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    """What the patient's page shows. `state`: open (may take it), yours (booked by this
    link), taken (someone else was first), gone (booked in the book meanwhile), expired,
    unavailable (this patient cannot be booked then), closed (no longer waiting)."""

    invite: OfferInvite
    offer: SlotOffer
    state: str
    is_new: bool = False  # this very claim booked it


def _state(invite: OfferInvite, offer: SlotOffer, entry: WaitlistEntry, now: datetime) -> str:
    if invite.state == InviteState.CLAIMED:
        return "yours"
    if invite.state in (
        InviteState.TAKEN, InviteState.GONE, InviteState.UNAVAILABLE, InviteState.CLOSED,
    ):  # fmt: skip
        return str(invite.state)
    if offer.status == OfferStatus.FILLED:
        return "taken"
    if offer.status == OfferStatus.GONE:
        return "gone"
    if entry.status != EntryStatus.ACTIVE:
        return "closed"
    if now >= invite.expires_at:
        return "expired"
    return "open"


def _find(token: str) -> OfferInvite:
    if len(token) != TOKEN_LENGTH:
        raise NotFound
    invite = get_invite_by_hash(token_hash(token))
    if invite is None:
        raise NotFound
    return invite


def open_claim(token: str, *, now: datetime | None = None) -> Claim:
    """The invite behind a link (NotFound for an unknown one) and what it can do now."""
    now = now or timezone.now()
    invite = _find(token)
    state = _state(invite, invite.offer, invite.entry, now)
    if state == "open" and not is_slot_free(invite.offer, invite.procedure):
        state = "gone"
    return Claim(invite, invite.offer, state)


@transaction.atomic
def claim_slot(*, token: str, now: datetime | None = None) -> Claim:
    """ "Take it": the first valid claim books the slot, atomically. Claiming again says
    "yours"; a filled, gone or expired offer books nothing."""
    now = now or timezone.now()
    found = _find(token)
    # Lock order: the offer, the invite, then the entry. Every claim of the slot queues on
    # the offer; every claim of one entry (invited to several offers) on the entry, which
    # is read again under its lock, as is a removal racing the claim.
    offer = (
        SlotOffer.objects.select_for_update(of=("self",))
        .select_related("branch", "chair", "doctor", "assistant")
        .get(pk=found.offer_id)
    )
    invite = (
        OfferInvite.objects.select_for_update(of=("self",))
        .select_related("patient", "procedure", "message")
        .get(pk=found.pk)
    )
    entry = WaitlistEntry.objects.select_for_update().get(pk=invite.entry_id)
    invite.entry = entry
    state = _state(invite, offer, entry, now)
    if state == "closed" and invite.state == InviteState.INVITED:
        _answer(invite, InviteState.CLOSED, now)  # no longer live: the offer may ask another
    if state != "open":
        return Claim(invite, offer, state)
    request = BookingRequest(
        patient=invite.patient, procedure=invite.procedure, doctor=offer.doctor, chair=offer.chair,
        starts_at=offer.starts_at,
        assistant=offer.assistant if invite.procedure.needs_assistant else None,
        notes=_("Booked from the waitlist."),
    )  # fmt: skip
    try:
        appointment = book_appointment(actor=None, branch=offer.branch, request=request, now=now)  # type: ignore[arg-type]
    except InvalidInput:  # a Conflict too: taken in the book, or this patient is busy then
        # Only a taken start closes the slot for everyone; anything else (this patient is
        # busy then, this procedure is too long for what is left) is this invite's alone.
        if is_start_taken(offer):
            _close(offer, invite, OfferStatus.GONE, None, now)
            return Claim(invite, offer, "gone")
        _answer(invite, InviteState.UNAVAILABLE, now)
        return Claim(invite, offer, "unavailable")
    _close(offer, invite, OfferStatus.FILLED, appointment, now)
    entry.status, entry.appointment, entry.closed_at = EntryStatus.BOOKED, appointment, now
    entry.save(update_fields=["status", "appointment", "closed_at", "updated_at"])
    closed = _close_other_invites(entry, invite, now)
    record_event(
        actor=None, action=AuditAction.UPDATE, target=entry, organization_id=offer.branch.organization_id,
        summary=f"waitlist: booked by claim link ({closed} other invites closed)",
        changes={"status": (EntryStatus.ACTIVE, entry.status)},
    )  # fmt: skip
    return Claim(invite, offer, "yours", is_new=True)


def _close_other_invites(entry: WaitlistEntry, winner: OfferInvite, now: datetime) -> int:
    """Close the booked entry's open invites to other slots, so they stop counting as live
    and those offers can ask someone else. Rows locked by a concurrent claim are skipped
    rather than waited for (waiting would invert the offer → invite → entry lock order):
    that claim reads the entry under its lock, finds it booked and closes its own invite."""
    others = list(
        OfferInvite.objects.select_for_update(of=("self",), skip_locked=True)
        .filter(entry=entry, state=InviteState.INVITED)
        .exclude(pk=winner.pk)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return OfferInvite.objects.filter(pk__in=others, state=InviteState.INVITED).update(
        state=InviteState.CLOSED, answered_at=now, updated_at=now
    )


def _answer(invite: OfferInvite, state: str, now: datetime) -> None:
    invite.state, invite.answered_at = state, now
    invite.save(update_fields=["state", "answered_at", "updated_at"])


def _close(
    offer: SlotOffer,
    winner: OfferInvite,
    status: str,
    appointment: Appointment | None,
    now: datetime,
) -> None:
    """Close the offer (filled by `winner`, or gone) and tell every other live invitee the
    slot is taken."""
    offer.status, offer.appointment, offer.closed_at = status, appointment, now
    offer.save(update_fields=["status", "appointment", "closed_at", "updated_at"])
    if status == OfferStatus.FILLED:
        _answer(winner, InviteState.CLAIMED, now)
    others = list(
        offer.invites.filter(state=InviteState.INVITED)
        .select_related("patient", "procedure", "message")
        .order_by("pk")
    )
    lost = InviteState.TAKEN if status == OfferStatus.FILLED else InviteState.GONE
    for other in others:
        other.state = lost
        other.save(update_fields=["state", "updated_at"])
        if other.message is not None:
            send_invite_message(
                invite=other, offer=offer, code=TemplateCode.SLOT_TAKEN,
                address=other.message.to_address, link="", now=now,
            )  # fmt: skip
    record_event(
        actor=None, action=AuditAction.UPDATE, target=offer, organization_id=offer.branch.organization_id,
        summary=f"waitlist offer {status}: {len(others)} told it is taken",
        changes={"status": (OfferStatus.OPEN, status)},
    )  # fmt: skip


# --- expiry ---------------------------------------------------------------------------------
@transaction.atomic
def expire_entries(*, now: datetime | None = None) -> int:
    """Mark `expired` every active entry whose last day (`latest_on`) is before its branch's
    local today; returns how many. One UPDATE, one audit event per entry, in one
    transaction. Idempotent: a second run the same day finds nothing."""
    now = now or timezone.now()
    # No branch's local date is later than UTC's tomorrow: a cheap bound for the index.
    bound = now.date() + timedelta(days=1)
    candidates = (
        WaitlistEntry.objects.select_for_update(of=("self",))
        .select_related("branch", "procedure")
        .filter(status=EntryStatus.ACTIVE, latest_on__lt=bound)
        .order_by("pk")
    )
    expired = [
        entry
        for entry in candidates
        if entry.latest_on is not None
        and entry.latest_on < timezone.localdate(now, entry.branch.zone)
    ]
    if not expired:
        return 0
    WaitlistEntry.objects.filter(pk__in=[e.pk for e in expired]).update(
        status=EntryStatus.EXPIRED, closed_at=now, updated_at=now
    )
    for entry in expired:
        record_event(
            actor=None, action=AuditAction.UPDATE, target=entry,
            organization_id=entry.branch.organization_id,
            summary=f"waitlist: expired ({entry.procedure.code})",
            changes={"status": (EntryStatus.ACTIVE, EntryStatus.EXPIRED)},
        )  # fmt: skip
    return len(expired)
