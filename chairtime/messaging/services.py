"""Writes of the outbox and the inbox that staff and other apps cause.

`enqueue_message` is called inside the caller's transaction: the event that causes a
message and the message commit together, or neither does. The dispatcher's own writes
(claims, outcomes, reconciliation) are in dispatcher.py; inbound messages and provider
callbacks in inbound.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.core.errors import InvalidInput
from chairtime.messaging.addresses import normalize_address
from chairtime.messaging.choices import (
    SENDABLE_CHANNELS,
    EventKind,
    MessageStatus,
    Reason,
)
from chairtime.messaging.models import InboundMessage, Message, MessageEvent
from chairtime.messaging.transports import get_transport
from chairtime.messaging.transports.chat import CHAT_TEMPLATES, validate_chat_params
from chairtime.patients.choices import ConsentPurpose, ContactChannel
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch

MAX_SMS_LENGTH = 1600  # Twilio's limit for one message (it splits it into segments)
MAX_EMAIL_LENGTH = 100_000
TEMPLATE_CHANNELS = frozenset({ContactChannel.ZALO, ContactChannel.WECHAT})


def add_event(
    message: Message,
    kind: str,
    *,
    now: datetime,
    before: str = "",
    after: str = "",
    detail: str = "",
    worker: str = "",
) -> MessageEvent:
    """Append one step to the message's history."""
    return MessageEvent.objects.create(
        message=message, occurred_at=now, kind=kind, status_before=before, status_after=after,
        attempt=message.attempts, worker=worker[:80], detail=detail[:500],
    )  # fmt: skip


# --- enqueue ------------------------------------------------------------------------------
def _check(
    *,
    branch: Branch,
    channel: str,
    purpose: str,
    idempotency_key: str,
    body: str,
    template_code: str,
    params: Mapping[str, Any],
    patient: Patient | None,
) -> None:
    if channel not in SENDABLE_CHANNELS:
        raise InvalidInput.on("channel", _("Messages cannot be sent on this channel."))
    if purpose not in ConsentPurpose.values:
        raise InvalidInput.on("purpose", _("Choose service or marketing."))
    if not idempotency_key.strip() or len(idempotency_key) > 200:
        raise InvalidInput.on("idempotency_key", _("Give a key of 1 to 200 characters."))
    if patient is not None and patient.organization_id != branch.organization_id:
        raise InvalidInput.on("patient", _("No such patient."))
    if channel in TEMPLATE_CHANNELS:
        validate_chat_params(channel, template_code, params)
        return
    if not body.strip():
        raise InvalidInput.on("body", _("Write the text of the message."))
    limit = MAX_SMS_LENGTH if channel == ContactChannel.SMS else MAX_EMAIL_LENGTH
    if len(body) > limit:
        raise InvalidInput.on("body", _("At most %(count)d characters.") % {"count": limit})


def enqueue_message(
    *,
    actor: User | None,
    branch: Branch,
    channel: str,
    purpose: str,
    to_address: str,
    idempotency_key: str,
    body: str = "",
    subject: str = "",
    template_code: str = "",
    params: Mapping[str, Any] | None = None,
    patient: Patient | None = None,
    cause: str = "",
    not_before: datetime | None = None,
    now: datetime | None = None,
) -> Message:
    """Put one message in the outbox, or return the one already there with this key.

    Call it inside the transaction of the event that causes the message. A second call
    with the same (organisation, key) returns the existing row and writes nothing, also
    when two transactions race: the unique constraint decides, the loser reads the
    winner's row. Bad input raises InvalidInput naming the field and writes nothing.
    """
    params = dict(params or {})
    _check(
        branch=branch, channel=channel, purpose=purpose, idempotency_key=idempotency_key,
        body=body, template_code=template_code, params=params, patient=patient,
    )  # fmt: skip
    address = normalize_address(channel, to_address, region=branch.country)
    now = now or timezone.now()
    key = idempotency_key.strip()
    with transaction.atomic():
        existing = Message.objects.filter(
            organization_id=branch.organization_id, idempotency_key=key
        ).first()
        if existing is not None:
            return existing
        try:
            with (
                transaction.atomic()
            ):  # a savepoint: losing the race leaves the caller's work intact
                message = Message.objects.create(
                    organization_id=branch.organization_id, branch=branch, patient=patient,
                    channel=channel, purpose=purpose, to_address=address, subject=subject[:200],
                    body=body, template_code=template_code if channel in TEMPLATE_CHANNELS else "",
                    params=params, idempotency_key=key, cause=cause[:120],
                    not_before=not_before or now, created_by=actor,
                )  # fmt: skip
        except IntegrityError:
            return Message.objects.get(organization_id=branch.organization_id, idempotency_key=key)
        add_event(message, EventKind.ENQUEUED, now=now, after=MessageStatus.QUEUED, detail=cause)
        record_event(
            actor=actor, action=AuditAction.CREATE, target=message,
            summary=f"{channel}/{purpose} {cause or key}"[:255],
        )  # fmt: skip
    return message


def chat_template_for_reply(channel: str) -> str:
    """The template a staff reply goes out with on a template-only chat channel."""
    return "staff_reply" if "staff_reply" in CHAT_TEMPLATES.get(channel, {}) else ""


# --- staff decisions ------------------------------------------------------------------------
@transaction.atomic
def cancel_message(*, actor: User | None, message: Message, now: datetime | None = None) -> bool:
    """Cancel a message that has not gone (queued, waiting or blocked); False when it was
    already claimed or finished. The update is conditional, so it never races a claim."""
    now = now or timezone.now()
    cancellable = (MessageStatus.QUEUED, MessageStatus.WAITING, MessageStatus.BLOCKED)
    before = message.status
    changed = Message.objects.filter(pk=message.pk, status__in=cancellable).update(
        status=MessageStatus.CANCELLED, updated_at=now
    )
    if not changed:
        return False
    message.refresh_from_db()
    add_event(message, EventKind.CANCELLED, now=now, before=before, after=message.status)
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=message, summary="cancelled",
        changes={"status": (before, message.status)},
    )  # fmt: skip
    return True


@transaction.atomic
def resolve_unknown_message(
    *, actor: User, message: Message, was_sent: bool, now: datetime | None = None
) -> Message:
    """A person decides what the provider could not tell us: it went (sent), or it did not
    (queued again). Only for messages whose outcome is unknown; "send again" only once the
    provider cannot be asked (while the automatic look-up is pending, its answer decides:
    a second send could reach the patient twice)."""
    now = now or timezone.now()
    locked = Message.objects.select_for_update().get(pk=message.pk)
    if locked.status != MessageStatus.UNKNOWN:
        raise InvalidInput.on(
            "status", _("Only a message whose outcome is unknown can be resolved.")
        )
    pending = locked.reason == Reason.OUTCOME_UNKNOWN and get_transport(locked.channel).can_lookup
    if not was_sent and pending:
        raise InvalidInput.on(
            "decision",
            _(
                "The provider is still being asked whether it got this message; it is sent "
                "again on its own if the provider says it never did. Wait for that answer."
            ),
        )
    before = locked.status
    if was_sent:
        locked.status, locked.sent_at = MessageStatus.SENT, locked.attempt_started_at or now
    else:
        locked.status, locked.not_before = MessageStatus.QUEUED, now
    locked.reason, locked.attempt_started_at = Reason.NONE, None
    locked.save(
        update_fields=[
            "status",
            "sent_at",
            "not_before",
            "reason",
            "attempt_started_at",
            "updated_at",
        ]
    )
    detail = "sent, by staff" if was_sent else "not sent, queued again by staff"
    add_event(
        locked, EventKind.RESOLVED, now=now, before=before, after=locked.status, detail=detail
    )
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=locked, summary=detail,
        changes={"status": (before, locked.status)},
    )  # fmt: skip
    return locked


# --- the inbox ------------------------------------------------------------------------------
@transaction.atomic
def mark_inbound_handled(
    *, actor: User, inbound: InboundMessage, now: datetime | None = None
) -> InboundMessage:
    """Staff dealt with it: it leaves the top of the inbox. Doing it twice changes nothing."""
    now = now or timezone.now()
    changed = InboundMessage.objects.filter(pk=inbound.pk, handled_at__isnull=True).update(
        handled_at=now, handled_by=actor, updated_at=now
    )
    inbound.refresh_from_db()
    if changed:
        record_event(
            actor=actor, action=AuditAction.UPDATE, target=inbound, summary="handled",
            patient_id=inbound.patient_id, changes={"handled_at": (None, now)},
        )  # fmt: skip
    return inbound


def reply_to_inbound(
    *, actor: User, inbound: InboundMessage, text: str, now: datetime | None = None
) -> Message:
    """Answer on the channel it came on (a template with the text on chat apps), as a
    service message, and mark it handled. The key (the text's digest) makes a
    double-clicked reply one message."""
    now = now or timezone.now()
    text = text.strip()
    if not text:
        raise InvalidInput.on("text", _("Write the reply."))
    if inbound.branch is None:
        raise InvalidInput.on("text", _("This message is not routed to a branch."))
    patient = inbound.patient
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    template = (
        chat_template_for_reply(inbound.channel) if inbound.channel in TEMPLATE_CHANNELS else ""
    )
    name = patient.display_name if patient is not None else ""
    with transaction.atomic():
        message = enqueue_message(
            actor=actor, branch=inbound.branch, channel=inbound.channel,
            purpose=ConsentPurpose.SERVICE, to_address=inbound.from_address,
            idempotency_key=f"reply:inbound:{inbound.pk}:{digest}",
            body=text if not template else "", subject=_("Re: your message") if inbound.channel == ContactChannel.EMAIL else "",
            template_code=template, params={"patient_name": name or "-", "text": text} if template else {},
            patient=patient, cause=f"inbound:{inbound.pk}", now=now,
        )  # fmt: skip
        mark_inbound_handled(actor=actor, inbound=inbound, now=now)
    return message


@transaction.atomic
def assign_inbound(
    *, actor: User, inbound: InboundMessage, assignee: User | None
) -> InboundMessage:
    """Hand an inbox item to a person (None: back to the branch's front desk)."""
    before = inbound.assigned_to_id
    inbound.assigned_to = assignee
    inbound.save(update_fields=["assigned_to", "updated_at"])
    record_event(
        actor=actor, action=AuditAction.UPDATE, target=inbound, summary="assigned",
        patient_id=inbound.patient_id,
        changes={"assigned_to": (before, assignee.pk if assignee else None)},
    )  # fmt: skip
    return inbound
