"""Confirmation links: /c/<token>, no login. The patient confirms the appointment, or asks
to change it (a call-back request in the branch's inbox).

The token is HMAC-SHA256(SECRET_KEY, organisation, appointment, its start time), 192 bits
in 32 URL-safe characters: unguessable, and the same each time a message for that
appointment and time is generated, so two messages share one link. Only its SHA-256 is
stored (ConfirmationLink.token_hash); the link stops working when the appointment starts,
and a moved appointment's old link says it was moved.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.messaging.automation.formatting import branch_language
from chairtime.messaging.automation.selectors import get_link_by_hash
from chairtime.messaging.choices import InboundKind, Provider
from chairtime.messaging.models import ConfirmationLink, InboundMessage, Message
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.scheduling.services import confirm_appointment

TOKEN_BYTES = 24
TOKEN_LENGTH = 32  # base64 of 24 bytes, no padding


def link_token(*, organization_id: int, appointment_id: int, starts_at: datetime) -> str:
    message = f"chairtime.confirm:{organization_id}:{appointment_id}:{starts_at.isoformat()}"
    digest = hmac.new(settings.SECRET_KEY.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:TOKEN_BYTES]).decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_url(token: str) -> str:
    """The link as the patient receives it. Without CHAIRTIME_PUBLIC_BASE_URL (a
    development machine) it is relative: production sets it for the webhooks anyway."""
    return f"{settings.MESSAGING_PUBLIC_BASE_URL.rstrip('/')}/c/{token}"


@dataclass(frozen=True)
class LinkState:
    """What the patient's page shows: `state` is open, confirmed, moved, cancelled or
    expired; `change_requested` once they asked for a call."""

    link: ConfirmationLink
    state: str
    change_requested: bool


def _state(link: ConfirmationLink, now: datetime) -> str:
    appointment = link.appointment
    if appointment.status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
        return "cancelled"
    if appointment.starts_at != link.starts_at:
        return "moved"
    if appointment.confirmed_at is not None or appointment.status != AppointmentStatus.BOOKED:
        return "confirmed"
    if now >= link.expires_at:
        return "expired"
    return "open"


def open_link(token: str, *, now: datetime | None = None) -> LinkState:
    """The link behind a token; NotFound when there is none (a typo, a made-up token)."""
    if len(token) != TOKEN_LENGTH:
        raise NotFound
    link = get_link_by_hash(token_hash(token))
    if link is None:
        raise NotFound
    now = now or timezone.now()
    return LinkState(link, _state(link, now), link.change_requested_at is not None)


def _locked(token: str) -> ConfirmationLink:
    if len(token) != TOKEN_LENGTH:
        raise NotFound
    link = ConfirmationLink.objects.select_for_update().filter(token_hash=token_hash(token)).first()
    if link is None:
        raise NotFound
    return link


@transaction.atomic
def confirm_by_link(*, token: str, now: datetime | None = None) -> LinkState:
    """The patient confirms: the appointment's confirmed_at is written by the appointment
    book's own service (audited, no staff actor). Confirming twice changes nothing; a
    moved, cancelled or expired appointment is not confirmed (the state says why)."""
    now = now or timezone.now()
    link = _locked(token)
    appointment = Appointment.objects.select_related("branch").get(pk=link.appointment_id)
    link.appointment = appointment
    state = _state(link, now)
    if state == "open":
        try:
            confirm_appointment(
                actor=None, appointment=appointment, now=now,
                by="by the patient's confirmation link",
            )  # fmt: skip
        except InvalidInput:  # changed under us (it is locked by the service): show it
            appointment.refresh_from_db()
            return LinkState(link, _state(link, now), link.change_requested_at is not None)
        link.confirmed_at = now
        link.save(update_fields=["confirmed_at"])
        record_event(
            actor=None, action=AuditAction.UPDATE, target=link, branch_id=link.branch_id,
            patient_id=appointment.patient_id, summary="appointment confirmed by link",
            changes={"confirmed_at": (None, now)},
        )  # fmt: skip
        appointment.refresh_from_db()
        state = "confirmed"
    return LinkState(link, state, link.change_requested_at is not None)


@transaction.atomic
def request_change_by_link(*, token: str, now: datetime | None = None) -> LinkState:
    """ "I need to change it": a call-back request waits in the branch's inbox, answerable
    on the channel the link went out on. Asking twice makes one request."""
    now = now or timezone.now()
    link = _locked(token)
    appointment = Appointment.objects.select_related("branch", "patient").get(
        pk=link.appointment_id
    )
    link.appointment = appointment
    state = _state(link, now)
    if state in ("cancelled", "moved", "expired"):
        return LinkState(link, state, link.change_requested_at is not None)
    if link.change_requested_at is None:
        _callback_request(link, appointment, now)
        link.change_requested_at = now
        link.save(update_fields=["change_requested_at"])
    return LinkState(link, state, True)


def _callback_request(link: ConfirmationLink, appointment: Appointment, now: datetime) -> None:
    sent = (
        Message.objects.filter(appointment_id=appointment.pk, appointment_starts_at=link.starts_at)
        .order_by("-created_at", "-id")
        .first()
    )
    local = timezone.localtime(appointment.starts_at, appointment.branch.zone)
    # The request reads as the patient's words, in the branch's language.
    with translation.override(branch_language(appointment.branch)):
        body = _("I need to change my appointment of %(when)s.") % {
            "when": f"{local:%Y-%m-%d %H:%M}"
        }
    try:
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                organization_id=link.organization_id, branch_id=appointment.branch_id,
                channel=sent.channel if sent else "sms", provider=Provider.LINK,
                provider_message_id=f"link:{link.pk}", from_address=sent.to_address if sent else "",
                body=body,
                received_at=now, patient=appointment.patient, in_reply_to=sent,
                kind=InboundKind.CALLBACK_REQUEST, effect="call back requested (confirmation link)",
            )  # fmt: skip
    except IntegrityError:  # already there (asked twice at once)
        return
    record_event(
        actor=None, action=AuditAction.CREATE, target=inbound, branch_id=inbound.branch_id,
        patient_id=appointment.patient_id, summary="change requested by confirmation link",
    )  # fmt: skip
