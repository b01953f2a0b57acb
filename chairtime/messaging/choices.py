"""Choice lists of the outbox and the inbox."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from chairtime.patients.choices import ContactChannel


class MessageStatus(models.TextChoices):
    """Where an outbound message is in its life (see docs/adr/0010-outbox.md)."""

    QUEUED = "queued", _("Queued")
    WAITING = "waiting", _("Waiting")  # may not go yet: quiet hours, a cap, a retry
    SENDING = "sending", _("Sending")  # claimed by a dispatcher under a lease
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    UNKNOWN = (
        "unknown",
        _("Outcome unknown"),
    )  # reconciled through the provider, never resent blindly
    BLOCKED = "blocked", _("Blocked")  # may never go: no consent, opted out, no address
    CANCELLED = "cancelled", _("Cancelled")


# Rows a dispatcher may claim when their not_before has come.
DUE_STATUSES = (MessageStatus.QUEUED, MessageStatus.WAITING)
# The provider has (or may have) the message: counted against the daily caps.
COUNTED_STATUSES = (
    MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNKNOWN,
)  # fmt: skip
FINAL_STATUSES = (
    MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.BLOCKED, MessageStatus.CANCELLED,
)  # fmt: skip


class Reason(models.TextChoices):
    """Why a message waits, is blocked, failed or is unknown: a code the pages translate."""

    NONE = "", _("—")
    QUIET_HOURS = "quiet_hours", _("Quiet hours in the recipient's time zone")
    DAILY_CAP = "daily_cap", _("Daily limit of messages to this address reached")
    RETRY = "retry", _("Temporary provider failure: retrying with backoff")
    NO_CONSENT = "no_consent", _("No consent for marketing on this channel")
    REFUSED = "refused", _("The patient refused messages on this channel")
    OPTED_OUT = "opted_out", _("The recipient replied to stop messages")
    NO_ADDRESS = "no_address", _("No address to send to")
    REJECTED = "rejected", _("The provider rejected the message")
    MAX_ATTEMPTS = "max_attempts", _("Gave up after the maximum number of attempts")
    NOT_DELIVERED = "not_delivered", _("The provider reported it undelivered")
    OUTCOME_UNKNOWN = "outcome_unknown", _("No answer from the provider: checking its records")
    LOOKUP_UNSUPPORTED = (
        "lookup_unsupported",
        _("The provider cannot be asked whether it got the message: a person must decide"),
    )
    NOT_CONFIGURED = "not_configured", _("The channel's provider is not configured")
    APPOINTMENT_CHANGED = (
        "appointment_changed",
        _("The appointment was moved, cancelled or already confirmed"),
    )
    RULE_OFF = "rule_off", _("Its automation rule was switched off")


class EventKind(models.TextChoices):
    """One step in a message's history."""

    ENQUEUED = "enqueued", _("Enqueued")
    ATTEMPT = "attempt", _("Handed to the provider")
    SENT = "sent", _("Accepted by the provider")
    RETRY = "retry", _("Temporary failure, will retry")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Outcome unknown")
    WAITING = "waiting", _("Held back by the send rules")
    BLOCKED = "blocked", _("Blocked by the send rules")
    RECONCILED_FOUND = "reconciled_found", _("Reconciled: the provider has it")
    RECONCILED_MISSING = "reconciled_missing", _("Reconciled: the provider never got it")
    RECONCILE_UNSUPPORTED = "reconcile_unsupported", _("Reconciliation impossible")
    LEASE_EXPIRED = "lease_expired", _("Its dispatcher stopped before sending")
    CALLBACK = "callback", _("Status report from the provider")
    DELIVERED = "delivered", _("Delivered")
    RESOLVED = "resolved", _("Resolved by staff")
    CANCELLED = "cancelled", _("Cancelled")


class InboundKind(models.TextChoices):
    REPLY = "reply", _("Reply")
    CONFIRMATION = "confirmation", _("Confirmation")
    OPT_OUT = "opt_out", _("Stop messages")
    CALLBACK_REQUEST = "callback_request", _("Asks for a call back")
    OTHER = "other", _("Other")


class Provider(models.TextChoices):
    """Where an inbound message comes from: a provider's webhook (the URL names it), or a
    patient's confirmation link ("I need to change it")."""

    TWILIO = "twilio", _("Twilio-compatible SMS")
    ZALO = "zalo", _("Zalo")
    WECHAT = "wechat", _("WeChat")
    LINK = "link", _("Confirmation link")


# Providers that call our webhooks (a confirmation link is our own page, not a webhook).
WEBHOOK_PROVIDERS = (Provider.TWILIO, Provider.ZALO, Provider.WECHAT)


# Channels that have a transport; phone calls and WhatsApp cannot be sent (yet).
SENDABLE_CHANNELS = (
    ContactChannel.SMS, ContactChannel.EMAIL, ContactChannel.ZALO, ContactChannel.WECHAT,
)  # fmt: skip
PROVIDER_CHANNEL = {
    Provider.TWILIO: ContactChannel.SMS,
    Provider.ZALO: ContactChannel.ZALO,
    Provider.WECHAT: ContactChannel.WECHAT,
}


# --- templates and automation rules ----------------------------------------------------------
class TemplateCode(models.TextChoices):
    """What a message template is for; each code has its own variables (templating.py)."""

    APPOINTMENT_REMINDER = "appointment_reminder", _("Appointment reminder")
    APPOINTMENT_CONFIRMATION_REQUEST = (
        "appointment_confirmation_request",
        _("Appointment confirmation request"),
    )
    POST_VISIT_INSTRUCTIONS = "post_visit_instructions", _("Instructions after a visit")
    TREATMENT_PLAN_SUMMARY = "treatment_plan_summary", _("Treatment plan summary")
    BIRTHDAY_GREETING = "birthday_greeting", _("Birthday greeting")
    HOLIDAY_GREETING = "holiday_greeting", _("Holiday greeting")
    SEGMENT_CAMPAIGN = "segment_campaign", _("Message to a segment")
    STAFF_REPLY = "staff_reply", _("Staff reply")
    SLOT_OFFER = "slot_offer", _("Offer of a freed slot (waitlist)")
    SLOT_TAKEN = "slot_taken", _("Offered slot already taken (waitlist)")


class RuleKind(models.TextChoices):
    """What an automation rule sends, and when."""

    REMINDER = "reminder", _("Reminder before an appointment")
    CONFIRMATION_REQUEST = "confirmation_request", _("Confirmation request before an appointment")
    POST_VISIT = "post_visit", _("Instructions after a visit")
    PLAN_SUMMARY = "plan_summary", _("Treatment plan summary after it is presented")
    BIRTHDAY = "birthday", _("Birthday greeting")
    HOLIDAY = "holiday", _("Holiday greeting")
    SEGMENT = "segment", _("Message to a segment")


class OffsetUnit(models.TextChoices):
    DAYS = "days", _("days")
    HOURS = "hours", _("hours")


# The template each kind of rule sends, and the purpose its messages have (consent).
RULE_TEMPLATE = {
    RuleKind.REMINDER: TemplateCode.APPOINTMENT_REMINDER,
    RuleKind.CONFIRMATION_REQUEST: TemplateCode.APPOINTMENT_CONFIRMATION_REQUEST,
    RuleKind.POST_VISIT: TemplateCode.POST_VISIT_INSTRUCTIONS,
    RuleKind.PLAN_SUMMARY: TemplateCode.TREATMENT_PLAN_SUMMARY,
    RuleKind.BIRTHDAY: TemplateCode.BIRTHDAY_GREETING,
    RuleKind.HOLIDAY: TemplateCode.HOLIDAY_GREETING,
    RuleKind.SEGMENT: TemplateCode.SEGMENT_CAMPAIGN,
}
MARKETING_KINDS = frozenset({RuleKind.BIRTHDAY, RuleKind.HOLIDAY, RuleKind.SEGMENT})
BEFORE_APPOINTMENT_KINDS = frozenset({RuleKind.REMINDER, RuleKind.CONFIRMATION_REQUEST})
AFTER_EVENT_KINDS = frozenset({RuleKind.POST_VISIT, RuleKind.PLAN_SUMMARY})
DATED_KINDS = frozenset({RuleKind.HOLIDAY, RuleKind.SEGMENT})  # one day, once
