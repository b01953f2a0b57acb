"""The outbox (one row per outbound message, with its history) and the inbox.

A message is written in the same transaction as the event that causes it, with a
deterministic idempotency key; dispatchers claim rows with one atomic UPDATE and record
every step as a MessageEvent (docs/adr/0010-outbox.md).
"""

from __future__ import annotations

from datetime import time
from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.messaging.choices import (
    EventKind,
    InboundKind,
    MessageStatus,
    OffsetUnit,
    Provider,
    Reason,
    RuleKind,
    TemplateCode,
)
from chairtime.patients.choices import ConsentPurpose, ContactChannel
from chairtime.tenancy.models import Branch, Organization


class Message(TimeStampedModel):
    """One outbound message: what to send to whom, why, and where it is in its life.

    `idempotency_key` is built by the caller from the cause ("reminder:appointment:123:
    rule:4") and is unique in the organisation, so enqueueing twice writes one row.
    `not_before` is the next instant a dispatcher may take it. While `sending` it belongs
    to `claimed_by` until `lease_until`; `attempt_started_at` is set just before the
    transport is called, so a dead dispatcher's row is reconciled through the provider
    (was it sent?) instead of being sent again blindly.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="messages")
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("patient"),
    )
    channel = models.CharField(_("channel"), max_length=12, choices=ContactChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=12, choices=ConsentPurpose.choices)
    to_address = models.CharField(_("to"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    template_code = models.CharField(_("template"), max_length=60, blank=True)
    params = models.JSONField(_("template parameters"), default=dict, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    cause = models.CharField(_("cause"), max_length=120, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED
    )
    reason = models.CharField(
        _("reason"), max_length=20, choices=Reason.choices, blank=True, default=""
    )
    not_before = models.DateTimeField(_("not before"))
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=80, blank=True)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)  # the send rules let it go
    provider_message_id = models.CharField(_("provider's id"), max_length=100, blank=True)
    error_code = models.CharField(_("error code"), max_length=40, blank=True)
    error_text = models.CharField(_("error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # What an automation rule made it for: the appointment, at the time it then had (a
    # moved or cancelled appointment's queued reminder is cancelled), and the rule.
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("appointment"),
    )
    appointment_starts_at = models.DateTimeField(null=True, blank=True)
    rule = models.ForeignKey(
        "AutomationRule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        verbose_name=_("automation rule"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "idempotency_key"], name="message_idempotency_unique"
            ),
            # One provider message is one of ours: a look-up can never give two rows the
            # same send (and a delivery report finds exactly one).
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id_unique",
            ),
        ]
        indexes = [
            # The dispatcher's claim: due rows in order, nothing else in the index.
            models.Index(
                fields=["not_before", "id"],
                condition=Q(status__in=["queued", "waiting"]),
                name="message_due_idx",
            ),
            # Crash recovery: leases that ran out, outcomes to reconcile.
            models.Index(
                fields=["status", "lease_until"],
                condition=Q(status__in=["sending", "unknown"]),
                name="message_recover_idx",
            ),
            models.Index(fields=["branch", "-created_at"], name="message_branch_idx"),
            # The daily cap: what went to one address today.
            models.Index(
                fields=["organization", "to_address", "purpose", "cleared_at"],
                name="message_address_cap_idx",
            ),
            models.Index(fields=["channel", "provider_message_id"], name="message_provider_idx"),
            models.Index(fields=["channel", "to_address", "-sent_at"], name="message_to_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} → {self.to_address} ({self.status})"


class MessageEventQuerySet(models.QuerySet["MessageEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("Message events are append-only")


class MessageEvent(models.Model):
    """One step of a message's life, append-only: a status change, an attempt and its
    answer, a provider's callback, a reconciliation. Together they explain the message."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    status_before = models.CharField(max_length=10, blank=True)
    status_after = models.CharField(max_length=10, blank=True)
    attempt = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=80, blank=True)
    detail = models.CharField(max_length=500, blank=True)

    objects = MessageEventQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["message", "occurred_at"], name="message_event_idx")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Message events are append-only")
        super().save(*args, **kwargs)


class InboundMessage(TimeStampedModel):
    """A message a patient (or anyone) sent us: the two-way inbox.

    Deduplicated by the provider's id per channel (webhooks are retried). Matched to the
    patient by address, to the message it answers, and routed to a branch's front desk
    (the patient's home branch by default). `organization` and `branch` stay empty when
    nobody could be matched: the row is kept (nothing is lost) for an administrator.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, null=True, blank=True, related_name="inbound_messages"
    )
    channel = models.CharField(_("channel"), max_length=12, choices=ContactChannel.choices)
    provider = models.CharField(_("provider"), max_length=12, choices=Provider.choices)
    provider_message_id = models.CharField(max_length=100)
    from_address = models.CharField(_("from"), max_length=254)
    body = models.TextField(_("text"))
    received_at = models.DateTimeField(_("received at"))
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inbound_messages",
        verbose_name=_("patient"),
    )
    in_reply_to = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=InboundKind.choices)
    effect = models.CharField(_("what happened"), max_length=300, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned to"),
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_message_id"], name="inbound_provider_id_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["branch", "handled_at", "-received_at"], name="inbound_branch_idx"
            ),
            models.Index(fields=["channel", "from_address", "kind"], name="inbound_from_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} ← {self.from_address}: {self.body[:40]}"


# --- templates and automation rules ----------------------------------------------------------
class MessageTemplate(TimeStampedModel):
    """The text of one kind of message, per channel and language: the organisation's, or a
    branch's own version (which wins in that branch).

    `body` (and `subject`, e-mail only) hold variables such as `{patient_name}`; which
    ones a template may use depends on its code (automation/templating.py). On the chat
    channels the provider approved its own copy of the text: `body` is what staff read,
    and the variables the provider template carries are sent as its parameters.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(
        Branch,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="message_templates",
        verbose_name=_("branch"),
    )
    code = models.CharField(_("purpose"), max_length=40, choices=TemplateCode.choices)
    channel = models.CharField(_("channel"), max_length=12, choices=ContactChannel.choices)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["code", "channel", "language", "branch_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "code", "channel", "language"],
                condition=Q(branch__isnull=True),
                name="message_template_org_unique",
            ),
            models.UniqueConstraint(
                fields=["branch", "code", "channel", "language"],
                condition=Q(branch__isnull=False),
                name="message_template_branch_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.channel} · {self.language}"


class AutomationRule(TimeStampedModel):
    """When to send which message to whom, without anyone pressing a button.

    A rule belongs to the organisation (every branch) or to one branch; a branch that has
    rules of a kind uses its own instead of the organisation's (switched-off ones
    included, so a branch can opt out). Reminders and confirmation requests go an
    `offset` before the appointment, post-visit instructions and plan summaries an
    `offset` after the visit or the presentation; birthday greetings on the day, holiday
    greetings and messages to a segment on `send_on`, each at `send_at` local time. The
    first of `channels` on which the patient has an address is used.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(
        Branch,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="automation_rules",
        verbose_name=_("branch"),
    )
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=24, choices=RuleKind.choices)
    is_enabled = models.BooleanField(_("on"), default=True)
    offset_value = models.PositiveSmallIntegerField(_("offset"), default=0)
    offset_unit = models.CharField(
        _("unit"), max_length=5, choices=OffsetUnit.choices, default=OffsetUnit.HOURS
    )
    procedure_categories = models.JSONField(_("procedure categories"), default=list, blank=True)
    channels = models.JSONField(_("channels, in order of preference"), default=list)
    send_on = models.DateField(_("send on"), null=True, blank=True)
    send_at = models.TimeField(_("send at (local time)"), default=time(9))
    offer = models.CharField(_("offer"), max_length=160, blank=True)
    segment = models.ForeignKey(
        "crm.Segment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("segment"),
    )
    # "Send to a segment" makes a rule per campaign; the form's key makes a double
    # submission one campaign.
    campaign_key = models.CharField(max_length=64, blank=True)
    completed_at = models.DateTimeField(_("sent at"), null=True, blank=True)  # dated kinds
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["kind", "offset_unit", "-offset_value", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "campaign_key"],
                condition=~Q(campaign_key=""),
                name="automation_rule_campaign_unique",
            ),
        ]
        indexes = [models.Index(fields=["organization", "kind"], name="automation_rule_kind_idx")]

    def __str__(self) -> str:
        return self.name


class AutomationRun(models.Model):
    """One pass of message generation over an organisation: what it made, found already
    made, cancelled and skipped. Its audit event summarises the counts."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    trigger = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    created = models.PositiveIntegerField(default=0)
    existing = models.PositiveIntegerField(default=0)
    cancelled = models.PositiveIntegerField(default=0)
    without_address = models.PositiveIntegerField(default=0)
    without_template = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.trigger}: {self.created}"


class ConfirmationLink(models.Model):
    """The secret link a patient opens to confirm an appointment (/c/<token>), or to ask
    for a call to change it. Only the token's SHA-256 is kept. One link per appointment
    and time: a moved appointment gets a new one, and the old one says so."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.CASCADE, related_name="confirmation_links"
    )
    starts_at = models.DateTimeField()
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    change_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"link for appointment {self.appointment_id}"
