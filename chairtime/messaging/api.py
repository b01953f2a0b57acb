"""API of the outbox and the inbox, in the active branch (X-Branch header or the session).

Reading needs messaging.view; enqueueing a message also needs care.work and is for
service messages only (marketing goes through campaigns and their consent checks).
Missing and forbidden both answer 404; bad input 422 naming the field.

An API caller's idempotency key is stored as "api:<key>", so it can never name one of our
own messages ("reminder:appointment:…"), and is shown back as the caller gave it.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.messaging.access import access_inbound, access_message
from chairtime.messaging.models import InboundMessage, Message, MessageEvent
from chairtime.messaging.selectors import (
    get_message_by_key,
    list_inbox,
    list_message_events,
    list_messages,
)
from chairtime.messaging.services import enqueue_message
from chairtime.patients.access import access_patient
from chairtime.patients.choices import ConsentPurpose
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["messages"])
inbox_router = Router(tags=["messages"])

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
MAX_ROWS = 500
API_KEY_PREFIX = "api:"


def stored_key(key: str) -> str:
    """The outbox's key for a key an API caller gave."""
    return API_KEY_PREFIX + key.strip()


def shown_key(key: str) -> str:
    """A key as the API shows it: the caller's own, without our prefix."""
    return key.removeprefix(API_KEY_PREFIX)


class EventOut(Schema):
    occurred_at: datetime
    kind: str
    status_before: str
    status_after: str
    attempt: int
    detail: str


class MessageOut(Schema):
    id: int
    branch_id: int
    patient_id: int | None
    channel: str
    purpose: str
    to_address: str
    subject: str
    body: str
    template_code: str
    params: dict[str, Any]
    idempotency_key: str
    cause: str
    status: str
    reason: str
    not_before: datetime
    attempts: int
    provider_message_id: str
    error: str
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class MessageDetailOut(MessageOut):
    events: list[EventOut]


class MessageIn(Schema):
    channel: str = Field(..., description="sms, email, zalo or wechat")
    to_address: str = Field(
        ..., max_length=254, description="phone (E.164 or national), e-mail or WeChat openid"
    )
    idempotency_key: str = Field(
        ..., max_length=200 - len(API_KEY_PREFIX), description="the same key twice sends once"
    )
    body: str = Field("", max_length=100_000)
    subject: str = Field("", max_length=200)
    template_code: str = Field("", max_length=60, description="chat channels: the template")
    params: dict[str, str] = Field(
        default_factory=dict, description="chat channels: its parameters"
    )
    patient: Id | None = None
    not_before: datetime | None = Field(None, description="with its time zone (ISO 8601)")


class MessageFilters(Schema):
    status: str = ""
    channel: str = ""
    day: date | None = Field(None, description="created on this local day of the branch")
    patient: int | None = None


class InboundOut(Schema):
    id: int
    branch_id: int | None
    channel: str
    from_address: str
    body: str
    received_at: datetime
    patient_id: int | None
    in_reply_to_id: int | None
    kind: str
    effect: str
    assigned_to_id: int | None
    handled_at: datetime | None


class InboxFilters(Schema):
    show: str = Field("open", description="open (not handled) or all")
    kind: str = ""


def _message_out(m: Message) -> dict[str, Any]:
    return {
        "id": m.pk, "branch_id": m.branch_id, "patient_id": m.patient_id, "channel": m.channel,
        "purpose": m.purpose, "to_address": m.to_address, "subject": m.subject, "body": m.body,
        "template_code": m.template_code, "params": m.params,
        "idempotency_key": shown_key(m.idempotency_key),
        "cause": m.cause, "status": m.status, "reason": m.reason, "not_before": m.not_before,
        "attempts": m.attempts, "provider_message_id": m.provider_message_id,
        "error": m.error_text, "created_at": m.created_at, "sent_at": m.sent_at,
        "delivered_at": m.delivered_at,
    }  # fmt: skip


def _event_out(e: MessageEvent) -> EventOut:
    return EventOut(
        occurred_at=e.occurred_at, kind=e.kind, status_before=e.status_before,
        status_after=e.status_after, attempt=e.attempt, detail=e.detail,
    )  # fmt: skip


def _inbound_out(i: InboundMessage) -> InboundOut:
    return InboundOut(
        id=i.pk, branch_id=i.branch_id, channel=i.channel, from_address=i.from_address,
        body=i.body, received_at=i.received_at, patient_id=i.patient_id,
        in_reply_to_id=i.in_reply_to_id, kind=i.kind, effect=i.effect,
        assigned_to_id=i.assigned_to_id, handled_at=i.handled_at,
    )  # fmt: skip


@router.get("", response=list[MessageOut], summary="The active branch's outbox, newest first")
def message_list(request: HttpRequest, filters: Query[MessageFilters]) -> list[MessageOut]:
    access = api_branch_access(request)
    access.require(Capability.MESSAGING_VIEW)
    rows = list_messages(
        branch_ids=[access.branch.pk], status=filters.status, channel=filters.channel,
        day=filters.day, zone=access.branch.zone, patient_id=filters.patient,
    )  # fmt: skip
    return [MessageOut(**_message_out(m)) for m in rows[:MAX_ROWS]]


@router.get("/{int:message_id}", response=MessageDetailOut, summary="One message and its history")
def message_detail(request: HttpRequest, message_id: int) -> MessageDetailOut:
    access = api_branch_access(request)
    message = access_message(access, message_id)
    if message.branch_id != access.branch.pk:
        raise NotFound
    events = [_event_out(e) for e in list_message_events(message)]
    return MessageDetailOut(**_message_out(message), events=events)


@router.post(
    "",
    response={201: MessageOut, 200: MessageOut},
    summary="Enqueue a service message",
    description="201 when enqueued, 200 with the existing message when the key was used before.",
)
def message_enqueue(request: HttpRequest, payload: MessageIn) -> Status[MessageOut]:
    access = api_branch_access(request)
    access.require(Capability.MESSAGING_VIEW)
    access.require(Capability.CARE_WORK)
    patient = None
    if payload.patient is not None:
        try:
            patient = access_patient(access, payload.patient)
        except NotFound:
            raise InvalidInput.on("patient", _("No such patient.")) from None
    if payload.not_before is not None and timezone.is_naive(payload.not_before):
        raise InvalidInput.on("not_before", _("Give the time with its time zone."))
    key = stored_key(payload.idempotency_key) if payload.idempotency_key.strip() else ""
    before = get_message_by_key(access.branch.organization_id, key) is not None
    message = enqueue_message(
        actor=acting_user(request), branch=access.branch, channel=payload.channel,
        purpose=ConsentPurpose.SERVICE, to_address=payload.to_address,
        idempotency_key=key, body=payload.body, subject=payload.subject,
        template_code=payload.template_code, params=payload.params, patient=patient,
        cause="api", not_before=payload.not_before,
    )  # fmt: skip
    if message.branch_id != access.branch.pk:
        raise InvalidInput.on(
            "idempotency_key", _("This key is used by a message of another branch.")
        )
    return Status(200 if before else 201, MessageOut(**_message_out(message)))


@inbox_router.get(
    "", response=list[InboundOut], summary="The active branch's inbox, unhandled first"
)
def inbox_list(request: HttpRequest, filters: Query[InboxFilters]) -> list[InboundOut]:
    access = api_branch_access(request)
    access.require(Capability.MESSAGING_VIEW)
    rows = list_inbox(branch_ids=[access.branch.pk], show=filters.show, kind=filters.kind)
    return [_inbound_out(i) for i in rows[:MAX_ROWS]]


@inbox_router.get("/{int:inbound_id}", response=InboundOut, summary="One inbound message")
def inbox_detail(request: HttpRequest, inbound_id: int) -> InboundOut:
    access = api_branch_access(request)
    inbound = access_inbound(access, inbound_id)
    if inbound.branch_id != access.branch.pk:
        raise NotFound
    return _inbound_out(inbound)
