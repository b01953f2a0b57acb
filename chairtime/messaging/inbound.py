"""What providers tell us: delivery reports for our messages, and messages patients send.

Both arrive on public webhooks (views.py checks the signature first). Each inbound message
is stored once (the provider's id deduplicates webhook retries), matched to the patient
and to the message it answers, routed to a branch, and acted on: a "STOP" becomes a
consent refusal, a "C" confirms the patient's next appointment, a call-back request waits
in the inbox. Every inbound message and every effect is audited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.core.errors import InvalidInput
from chairtime.messaging.addresses import PHONE_CHANNELS, phone_or_none
from chairtime.messaging.choices import (
    PROVIDER_CHANNEL,
    EventKind,
    InboundKind,
    MessageStatus,
    Reason,
)
from chairtime.messaging.models import InboundMessage, Message
from chairtime.messaging.replies import classify_reply
from chairtime.messaging.services import add_event
from chairtime.patients.choices import ConsentOrigin, ConsentPurpose, ContactChannel, PatientStatus
from chairtime.patients.models import Consent, Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.scheduling.services import confirm_appointment
from chairtime.tenancy.models import Branch, Organization

logger = logging.getLogger("chairtime.messaging.inbound")

S = MessageStatus


class UnknownMessage(Exception):
    """A status report about a message we do not have."""


# --- delivery reports ------------------------------------------------------------------------
# Provider statuses, as ours. Twilio: accepted, queued, sending, sent, delivered, read,
# undelivered, failed. Zalo and WeChat (our gateway contract): sent, delivered, failed.
_REPORTED = {
    "accepted": S.SENT, "queued": S.SENT, "sending": S.SENT, "sent": S.SENT,
    "delivered": S.DELIVERED, "read": S.DELIVERED, "success": S.DELIVERED,
    "undelivered": S.FAILED, "failed": S.FAILED,
}  # fmt: skip
# How far along a message is: a report never moves it back.
_RANK: dict[str, int] = {S.SENDING: 0, S.UNKNOWN: 0, S.SENT: 1, S.DELIVERED: 2, S.FAILED: 2}


@dataclass(frozen=True)
class StatusReport:
    provider: str
    provider_message_id: str
    status: str
    error: str = ""
    ref: int | None = None  # our id, when the callback URL carried it


def _reported_message(report: StatusReport) -> Message:
    channel = PROVIDER_CHANNEL[report.provider]  # type: ignore[index]
    found = Message.objects.filter(
        channel=channel, provider_message_id=report.provider_message_id
    ).first()
    if found is None and report.ref is not None:
        # An outcome we could not read (a timeout) that the provider reports: our id says which.
        found = Message.objects.filter(
            pk=report.ref, channel=channel, provider_message_id=""
        ).first()
    if found is None or not report.provider_message_id:
        raise UnknownMessage(report.provider_message_id)
    return found


@transaction.atomic
def apply_status_report(
    report: StatusReport, *, now: datetime | None = None
) -> tuple[Message, bool]:
    """Move a message on (sent → delivered or failed; an unknown outcome → sent); never
    back. Returns the message and whether it changed. UnknownMessage: nothing changes."""
    now = now or timezone.now()
    found = _reported_message(report)
    message = Message.objects.select_for_update().get(pk=found.pk)
    new = _REPORTED.get(report.status.lower())
    before = message.status
    moves = new is not None and before in _RANK and _RANK[new] > _RANK[before]
    detail = f"{report.provider}: {report.status}" + (f" ({report.error})" if report.error else "")
    if moves:
        assert new is not None
        message.status = new
        message.provider_message_id = (
            message.provider_message_id or report.provider_message_id[:100]
        )
        message.sent_at = message.sent_at or now
        message.lease_until, message.claimed_by, message.attempt_started_at = None, "", None
        message.reason = Reason.NOT_DELIVERED if new == S.FAILED else Reason.NONE
        if new == S.DELIVERED:
            message.delivered_at = now
        if new == S.FAILED:
            message.error_text = detail[:500]
        message.save()
    add_event(message, EventKind.DELIVERED if moves and new == S.DELIVERED else EventKind.CALLBACK,
              now=now, before=before, after=message.status,
              detail=detail if moves else f"{detail} — ignored, already {before}")  # fmt: skip
    return message, moves


# --- inbound messages ------------------------------------------------------------------------
@dataclass(frozen=True)
class Incoming:
    provider: str
    provider_message_id: str
    from_address: str
    body: str
    received_at: datetime | None = None


@dataclass
class Match:
    organization_id: int | None = None
    branch: Branch | None = None
    patient: Patient | None = None
    in_reply_to: Message | None = None
    candidates: tuple[Patient, ...] = ()


def _address(channel: str, raw: str) -> str:
    raw = raw.strip()
    if channel in PHONE_CHANNELS:
        return phone_or_none(raw) or raw
    if channel == ContactChannel.EMAIL:
        return raw.lower()
    return raw


def patients_at(
    channel: str, address: str, *, organization_id: int | None = None
) -> QuerySet[Patient]:
    """The patients reachable at this address on this channel (of one organisation, when
    given): a family's shared phone reaches every one of them."""
    patients = Patient.objects.exclude(status=PatientStatus.MERGED).select_related("home_branch")
    if organization_id is not None:
        patients = patients.filter(organization_id=organization_id)
    if channel == ContactChannel.SMS:
        rows = patients.filter(phones__number=address)
    elif channel == ContactChannel.EMAIL:
        rows = patients.filter(email__iexact=address)
    else:  # chat apps: the chat id, or (Zalo) the phone number
        condition = Q(chat_ids__app=channel, chat_ids__handle=address)
        if channel in PHONE_CHANNELS:
            condition |= Q(phones__number=address)
        rows = patients.filter(condition)
    return rows.distinct().order_by("pk")


def _only_branch(organization_id: int) -> Branch | None:
    """The organisation's branch when it has exactly one (a single clinic), else None."""
    branches = list(Branch.objects.filter(organization_id=organization_id, is_active=True)[:2])
    return branches[0] if len(branches) == 1 else None


def sole_organization_id() -> int | None:
    """The organisation, when the deployment holds exactly one."""
    ids = list(Organization.objects.values_list("pk", flat=True)[:2])
    return ids[0] if len(ids) == 1 else None


def match_sender(channel: str, address: str, *, organization_id: int | None = None) -> Match:
    """The message this answers (the newest one we sent to the address), its patient and
    branch; else the patients with this address, when they are all in one organisation.
    `organization_id` (named by the webhook's URL, or the only one) limits the search to
    it, and keeps a message from an unknown sender in it."""
    sent = Message.objects.select_related("branch", "patient__home_branch").filter(
        channel=channel, to_address=address, status__in=[S.SENT, S.DELIVERED]
    )
    if organization_id is not None:
        sent = sent.filter(organization_id=organization_id)
    replied = sent.order_by("-sent_at", "-id").first()
    candidates = list(patients_at(channel, address, organization_id=organization_id)[:20])
    if replied is not None:
        patient = replied.patient
        same_org = tuple(p for p in candidates if p.organization_id == replied.organization_id)
        branch = patient.home_branch if patient is not None else replied.branch
        return Match(replied.organization_id, branch, patient, replied,
                     same_org or ((patient,) if patient else ()))  # fmt: skip
    if candidates and len({p.organization_id for p in candidates}) == 1:
        patient = candidates[0] if len(candidates) == 1 else None
        first = candidates[0]
        return Match(first.organization_id, first.home_branch, patient, None, tuple(candidates))
    if organization_id is not None:  # an unknown sender, to a known organisation
        return Match(organization_id, _only_branch(organization_id))
    return Match()


def receive_inbound(
    incoming: Incoming, *, organization_id: int | None = None, now: datetime | None = None
) -> tuple[InboundMessage, bool]:
    """Store an inbound message once and act on it; returns it and whether it is new.

    `organization_id`: the organisation the webhook's URL names (`?org=<slug>`); without
    it, the deployment's only organisation, if it has one. A message whose organisation
    cannot be known at all is still stored (and logged), for an administrator."""
    now = now or timezone.now()
    organization_id = organization_id or sole_organization_id()
    channel = PROVIDER_CHANNEL[incoming.provider]  # type: ignore[index]
    with transaction.atomic():
        existing = InboundMessage.objects.filter(
            channel=channel, provider_message_id=incoming.provider_message_id
        ).first()
        if existing is not None:
            return existing, False
        address = _address(channel, incoming.from_address)
        match = match_sender(channel, address, organization_id=organization_id)
        kind = classify_reply(incoming.body, is_reply=match.in_reply_to is not None)
        try:
            with transaction.atomic():
                inbound = InboundMessage.objects.create(
                    organization_id=match.organization_id, branch=match.branch, channel=channel,
                    provider=incoming.provider, provider_message_id=incoming.provider_message_id[:100],
                    from_address=address[:254], body=incoming.body[:5000],
                    received_at=incoming.received_at or now, patient=match.patient,
                    in_reply_to=match.in_reply_to, kind=kind,
                )  # fmt: skip
        except IntegrityError:  # the same webhook, retried at the same moment
            return InboundMessage.objects.get(
                channel=channel, provider_message_id=incoming.provider_message_id
            ), False
        if match.organization_id is None:
            logger.warning(
                "inbound %s message %s from an unknown sender for no known organisation: "
                "name it in the webhook URL (?org=<slug>)", channel, inbound.pk,
            )  # fmt: skip
        record_event(
            actor=None, action=AuditAction.CREATE, target=inbound,
            organization_id=match.organization_id, branch_id=inbound.branch_id,
            patient_id=inbound.patient_id, summary=f"{channel} {kind}: {incoming.body[:80]}",
        )  # fmt: skip
        _act(inbound, match, now)
    logger.info("inbound %s %s from %s: %s", channel, inbound.kind, address, inbound.effect)
    return inbound, True


def _act(inbound: InboundMessage, match: Match, now: datetime) -> None:
    effect, handled = "", False
    if inbound.kind == InboundKind.OPT_OUT:
        effect, handled = _opt_out(inbound, match, now)
    elif inbound.kind == InboundKind.CONFIRMATION:
        effect, handled = _confirm(inbound, now)
    elif inbound.kind == InboundKind.CALLBACK_REQUEST:
        effect = "call back requested"
    inbound.effect = effect[:300]
    if handled:
        inbound.handled_at = now
    inbound.save(update_fields=["effect", "handled_at", "updated_at"])


def _opt_out(inbound: InboundMessage, match: Match, now: datetime) -> tuple[str, bool]:
    """STOP on a channel stops every message on that channel, service and marketing alike
    (ADR 10): the person asked for no more messages, not for fewer adverts. It applies to
    every patient of the organisation reachable at this address (a family's shared
    phone), and the dispatcher checks the address itself for every message, so a patient
    added to that phone later is not messaged either."""
    patients: dict[int, Patient] = {}
    if match.organization_id is not None:
        reachable = patients_at(
            inbound.channel, inbound.from_address, organization_id=match.organization_id
        )
        patients = {patient.pk: patient for patient in reachable}
    if inbound.patient is not None:
        patients.setdefault(inbound.patient.pk, inbound.patient)
    if not patients:
        return "no patient matched: further messages to this address are blocked", True
    for patient in patients.values():
        rows = Consent.objects.bulk_create(
            Consent(
                patient=patient, channel=inbound.channel, purpose=purpose, is_granted=False,
                origin=ConsentOrigin.MESSAGE_REPLY, recorded_at=now,
                note=f"Reply: {inbound.body}"[:200],
            )
            for purpose in (ConsentPurpose.SERVICE, ConsentPurpose.MARKETING)
        )  # fmt: skip
        record_event(
            actor=None, action=AuditAction.CREATE, target=rows[0], patient_id=patient.pk,
            branch_id=patient.home_branch_id, organization_id=patient.organization_id,
            summary=f"{inbound.channel}/service=no, {inbound.channel}/marketing=no (reply)",
            changes={"origin": (None, ConsentOrigin.MESSAGE_REPLY)},
        )  # fmt: skip
    count = len(patients)
    return (
        f"{inbound.channel} messages stopped (service and marketing) for {count} patient"
        + ("s" if count != 1 else "")
    ), True


def _confirm(inbound: InboundMessage, now: datetime) -> tuple[str, bool]:
    """Confirm the appointment the answered message was about (a reminder or a
    confirmation request), else the patient's next one that is booked and not confirmed."""
    if inbound.patient is None:
        return "no patient matched: nothing confirmed", False
    booked = Appointment.objects.filter(
        patient=inbound.patient, status=AppointmentStatus.BOOKED, starts_at__gt=now
    ).select_related("branch")
    answered = inbound.in_reply_to
    appointment = None
    if answered is not None and answered.appointment_id and answered.appointment_starts_at:
        appointment = booked.filter(
            pk=answered.appointment_id, starts_at=answered.appointment_starts_at
        ).first()
    if appointment is None:
        appointment = booked.order_by("starts_at").first()
    if appointment is None:
        return "no booked appointment to confirm", False
    try:
        # The patient confirms, not a member of staff: the audit event has no actor.
        confirm_appointment(
            actor=None, appointment=appointment, now=now, by="by the patient's reply"
        )
    except InvalidInput as error:
        return f"could not confirm: {error}", False
    local = timezone.localtime(appointment.starts_at, appointment.branch.zone)
    return f"confirmed appointment {appointment.pk} at {local:%Y-%m-%d %H:%M}", True
