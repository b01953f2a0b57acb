"""Reads of the outbox and the inbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Q, QuerySet

from chairtime.messaging.models import InboundMessage, Message, MessageEvent
from chairtime.tenancy.models import Organization


def list_messages(
    *,
    branch_ids: Iterable[int],
    status: str = "",
    channel: str = "",
    day: date | None = None,
    zone: ZoneInfo | None = None,
    patient_id: int | None = None,
) -> QuerySet[Message]:
    """Messages of the given branches, newest first; `day` is a local day in `zone`."""
    rows = Message.objects.filter(branch_id__in=list(branch_ids)).select_related(
        "branch", "patient"
    )
    if status:
        rows = rows.filter(status=status)
    if channel:
        rows = rows.filter(channel=channel)
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    if day is not None and zone is not None:
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        rows = rows.filter(created_at__gte=start, created_at__lt=end)
    return rows.order_by("-created_at", "-id")


def get_message_by_key(organization_id: int, idempotency_key: str) -> Message | None:
    return Message.objects.filter(
        organization_id=organization_id, idempotency_key=idempotency_key.strip()
    ).first()


def get_organization_id(slug: str) -> int | None:
    """The organisation a webhook URL names (`?org=<slug>`)."""
    return Organization.objects.filter(slug=slug).values_list("pk", flat=True).first()


def list_message_events(message: Message) -> QuerySet[MessageEvent]:
    return message.events.order_by("occurred_at", "id")


def list_inbox(
    *,
    branch_ids: Iterable[int],
    organization_id: int | None = None,
    show: str = "open",
    kind: str = "",
) -> QuerySet[InboundMessage]:
    """The inbox of the given branches: unhandled first (oldest waiting first), then handled
    (newest first). `show`: "open" (unhandled only), "all". With `organization_id`, also
    that organisation's messages routed to no branch (an unknown sender): for someone who
    reads messages in every branch of it."""
    scope = Q(branch_id__in=list(branch_ids))
    if organization_id is not None:
        scope |= Q(organization_id=organization_id, branch__isnull=True)
    rows = InboundMessage.objects.filter(scope).select_related(
        "patient", "branch", "assigned_to", "handled_by", "in_reply_to"
    )
    if show == "open":
        rows = rows.filter(handled_at__isnull=True)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by(F("handled_at").desc(nulls_first=True), "-received_at", "-id")


def list_replies(inbound: InboundMessage) -> QuerySet[Message]:
    """The messages staff sent in answer to an inbox item."""
    return Message.objects.filter(cause=f"inbound:{inbound.pk}").order_by("created_at", "id")


def count_unhandled(*, branch_id: int) -> int:
    return InboundMessage.objects.filter(branch_id=branch_id, handled_at__isnull=True).count()


def provider_ids_taken(message: Message, candidates: list[str]) -> set[str]:
    """Of the provider's ids, those another of our messages on this channel already holds."""
    if not candidates:
        return set()
    return set(
        Message.objects.filter(channel=message.channel, provider_message_id__in=candidates)
        .exclude(pk=message.pk)
        .values_list("provider_message_id", flat=True)
    )
