"""Writes of templates and automation rules, the defaults every organisation starts with,
and "send to a segment". Every write is audited in its transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.clinical.models import ProcedureCategory
from chairtime.core.errors import InvalidInput
from chairtime.crm.models import Segment
from chairtime.messaging.automation.defaults import (
    DEFAULT_CHANNELS,
    DEFAULT_RULES,
    default_templates,
)
from chairtime.messaging.automation.formatting import LANGUAGE_CODES
from chairtime.messaging.automation.generation import Counts, generate_messages
from chairtime.messaging.automation.templating import validate_template
from chairtime.messaging.choices import (
    AFTER_EVENT_KINDS,
    BEFORE_APPOINTMENT_KINDS,
    DATED_KINDS,
    MARKETING_KINDS,
    SENDABLE_CHANNELS,
    OffsetUnit,
    RuleKind,
)
from chairtime.messaging.models import AutomationRule, MessageTemplate
from chairtime.tenancy.models import Branch, Organization

MAX_OFFSET = {OffsetUnit.HOURS: 24 * 30, OffsetUnit.DAYS: 60}
MAX_OFFER = 160


# --- defaults -------------------------------------------------------------------------------
def ensure_defaults(*, organization: Organization) -> None:
    """The organisation's default templates and rules, made the first time they are
    needed. Templates missing from the defaults are added (never changed: the
    organisation's edits stay); rules only when the organisation has none at all."""
    _ensure_templates(organization)
    if not AutomationRule.objects.filter(organization=organization).exists():
        _ensure_rules(organization)


def _ensure_templates(organization: Organization) -> None:
    have = set(
        MessageTemplate.objects.filter(organization=organization, branch__isnull=True).values_list(
            "code", "channel", "language"
        )
    )
    missing = [row for row in default_templates() if row[:3] not in have]
    if not missing:
        return
    with transaction.atomic():
        # ignore_conflicts: another run may be adding the same ones (unique per language).
        MessageTemplate.objects.bulk_create(
            [
                MessageTemplate(
                    organization=organization, code=code, channel=channel, language=language,
                    subject=subject, body=body,
                )
                for code, channel, language, subject, body in missing
            ],
            ignore_conflicts=True,
        )  # fmt: skip
        record_event(
            actor=None, action=AuditAction.CREATE, target=organization,
            organization_id=organization.pk,
            summary=f"messaging: {len(missing)} default message templates",
        )  # fmt: skip


@transaction.atomic
def _ensure_rules(organization: Organization) -> None:
    # The organisation's row serialises two runs making the defaults at once.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    if AutomationRule.objects.filter(organization=organization).exists():
        return
    rules = AutomationRule.objects.bulk_create(
        AutomationRule(
            organization=organization, name=rule.name, kind=rule.kind,
            is_enabled=rule.is_enabled, offset_value=rule.offset_value,
            offset_unit=rule.offset_unit, procedure_categories=list(rule.procedure_categories),
            channels=[str(c) for c in DEFAULT_CHANNELS], send_at=rule.send_at,
        )
        for rule in DEFAULT_RULES
    )  # fmt: skip
    record_event(
        actor=None, action=AuditAction.CREATE, target=organization,
        organization_id=organization.pk, summary=f"messaging: {len(rules)} default automation rules",
    )  # fmt: skip


# --- templates ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TemplateData:
    code: str
    channel: str
    language: str
    subject: str
    body: str
    branch: Branch | None = None


def _template_state(template: MessageTemplate) -> dict[str, Any]:
    return {
        "code": template.code, "channel": template.channel, "language": template.language,
        "branch": template.branch_id, "subject": template.subject, "body": template.body,
    }  # fmt: skip


def _check_template(data: TemplateData, organization: Organization) -> None:
    if data.channel not in SENDABLE_CHANNELS:
        raise InvalidInput.on("channel", _("Messages cannot be sent on this channel."))
    if data.language not in LANGUAGE_CODES:
        raise InvalidInput.on("language", _("Choose one of the languages offered."))
    if data.branch is not None and data.branch.organization_id != organization.pk:
        raise InvalidInput.on("branch", _("No such branch."))
    validate_template(code=data.code, channel=data.channel, subject=data.subject, body=data.body)


def save_template(
    *,
    actor: User,
    organization: Organization,
    data: TemplateData,
    template: MessageTemplate | None = None,
) -> MessageTemplate:
    """Create a template, or change one: refused (InvalidInput naming the field, nothing
    saved) when it has an unknown variable, a malformed placeholder, is too long for an
    SMS, or another template has the same purpose, channel, language and owner."""
    _check_template(data, organization)
    row = template or MessageTemplate(organization=organization)
    before = _template_state(row) if template is not None else {}
    row.code, row.channel, row.language, row.branch = (
        data.code,
        data.channel,
        data.language,
        data.branch,
    )
    row.subject, row.body, row.updated_by = data.subject.strip(), data.body, actor
    try:
        with transaction.atomic():
            row.save()
            record_event(
                actor=actor, action=AuditAction.UPDATE if template else AuditAction.CREATE,
                target=row, branch_id=row.branch_id,
                summary=f"message template {row.code} · {row.channel} · {row.language}",
                changes=diff(before, _template_state(row)),
            )  # fmt: skip
    except IntegrityError:
        raise InvalidInput.on(
            "language",
            _("There is already a template for this purpose, channel and language here."),
        ) from None
    return row


# --- rules ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleData:
    name: str
    kind: str
    channels: list[str]
    is_enabled: bool = True
    offset_value: int = 0
    offset_unit: str = OffsetUnit.HOURS
    procedure_categories: list[str] = field(default_factory=list)
    send_on: date | None = None
    send_at: time = time(9)
    offer: str = ""
    segment: Segment | None = None
    branch: Branch | None = None


def _rule_state(rule: AutomationRule) -> dict[str, Any]:
    return {
        "name": rule.name, "kind": rule.kind, "branch": rule.branch_id, "is_enabled": rule.is_enabled,
        "offset_value": rule.offset_value, "offset_unit": rule.offset_unit,
        "procedure_categories": list(rule.procedure_categories or []), "channels": list(rule.channels or []),
        "send_on": rule.send_on, "send_at": rule.send_at, "offer": rule.offer,
        "segment": rule.segment_id,
    }  # fmt: skip


def check_rule(data: RuleData, organization: Organization) -> None:
    """Every reason a rule cannot be saved, each naming its field."""
    errors: dict[str, list[str]] = {}

    def refuse(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    if not data.name.strip():
        refuse("name", _("Give the rule a name."))
    elif len(data.name) > 100:
        refuse("name", _("At most %(count)d characters.") % {"count": 100})
    if data.kind not in RuleKind.values:
        raise InvalidInput.on("kind", _("Choose one of the kinds offered."))
    if not data.channels:
        refuse("channels", _("Choose at least one channel."))
    elif len(set(data.channels)) != len(data.channels) or any(
        c not in SENDABLE_CHANNELS for c in data.channels
    ):
        refuse("channels", _("Choose each channel once, among SMS, e-mail, Zalo and WeChat."))
    if data.branch is not None and data.branch.organization_id != organization.pk:
        refuse("branch", _("No such branch."))
    kind = RuleKind(data.kind)
    if kind in BEFORE_APPOINTMENT_KINDS | AFTER_EVENT_KINDS:
        _check_offset(data, kind, refuse)
    if data.procedure_categories and kind != RuleKind.POST_VISIT:
        refuse(
            "procedure_categories", _("Only instructions after a visit depend on the procedure.")
        )
    if any(c not in ProcedureCategory.values for c in data.procedure_categories):
        refuse("procedure_categories", _("Choose among the procedure categories offered."))
    if kind in DATED_KINDS and data.send_on is None:
        refuse("send_on", _("Give the day to send it on."))
    if kind in MARKETING_KINDS and data.is_enabled and not data.offer.strip():
        refuse("offer", _("Write the offer or news the message brings."))
    if len(data.offer) > MAX_OFFER:
        refuse("offer", _("At most %(count)d characters.") % {"count": MAX_OFFER})
    if kind == RuleKind.SEGMENT:
        if data.segment is None:
            refuse("segment", _("Choose the segment to send to."))
        elif data.segment.organization_id != organization.pk:
            refuse("segment", _("No such segment."))
    elif data.segment is not None:
        refuse("segment", _("Only a message to a segment has a segment."))
    if errors:
        raise InvalidInput(errors)


def _check_offset(data: RuleData, kind: RuleKind, refuse: Any) -> None:
    if data.offset_unit not in OffsetUnit.values:
        refuse("offset_unit", _("Choose hours or days."))
        return
    least = 1 if kind in BEFORE_APPOINTMENT_KINDS else 0
    most = MAX_OFFSET[OffsetUnit(data.offset_unit)]
    if not least <= data.offset_value <= most:
        refuse(
            "offset_value", _("Between %(least)d and %(most)d.") % {"least": least, "most": most}
        )


def save_rule(
    *,
    actor: User,
    organization: Organization,
    data: RuleData,
    rule: AutomationRule | None = None,
    campaign_key: str = "",
) -> AutomationRule:
    """Create a rule, or change one; InvalidInput naming the field, nothing saved, when it
    cannot work as written. A changed dated rule (holiday, campaign) may send again only
    on its new day: it is marked unsent when its day or time changes."""
    check_rule(data, organization)
    row = rule or AutomationRule(
        organization=organization, created_by=actor, campaign_key=campaign_key
    )
    before = _rule_state(row) if rule is not None else {}
    if rule is not None and (rule.send_on, rule.send_at) != (data.send_on, data.send_at):
        row.completed_at = None
    for name in ("name", "kind", "is_enabled", "offset_value", "offset_unit", "send_on",
                 "send_at", "offer", "segment", "branch"):  # fmt: skip
        setattr(row, name, getattr(data, name))
    row.name, row.offer = data.name.strip(), data.offer.strip()
    row.channels, row.procedure_categories = list(data.channels), list(data.procedure_categories)
    with transaction.atomic():
        row.save()
        record_event(
            actor=actor, action=AuditAction.UPDATE if rule else AuditAction.CREATE, target=row,
            branch_id=row.branch_id, summary=f"automation rule {row.kind}: {row.name}"[:255],
            changes=diff(before, _rule_state(row)),
        )  # fmt: skip
    return row


# --- send to a segment ----------------------------------------------------------------------
@dataclass(frozen=True)
class Campaign:
    rule: AutomationRule
    counts: Counts
    is_new: bool


def send_to_segment(
    *,
    actor: User,
    organization: Organization,
    segment: Segment,
    channels: list[str],
    offer: str,
    branch: Branch | None,
    campaign_key: str,
    zone_branch: Branch,
    now: datetime | None = None,
) -> Campaign:
    """A marketing message to everyone the segment matches now (in `branch`, or in every
    branch), put in the outbox at once. `campaign_key` (from the form) makes a second
    submission the same campaign: nothing more is sent."""
    now = now or timezone.now()
    key = campaign_key.strip()[:64]
    if not key:
        raise InvalidInput.on("campaign_key", _("The form is incomplete: open it again."))
    ensure_defaults(organization=organization)
    existing = AutomationRule.objects.filter(organization=organization, campaign_key=key).first()
    if existing is not None:
        return Campaign(existing, generate_messages(organization=organization, now=now,
                                                    rule_ids=[existing.pk], trigger="segment send", actor=actor), False)  # fmt: skip
    local = now.astimezone(zone_branch.zone)
    data = RuleData(
        name=_("Campaign to “%(segment)s”, %(day)s") % {"segment": segment.name, "day": local.date().isoformat()},
        kind=RuleKind.SEGMENT, channels=channels, offer=offer, segment=segment, branch=branch,
        send_on=local.date(), send_at=local.time().replace(second=0, microsecond=0),
    )  # fmt: skip
    try:
        rule = save_rule(actor=actor, organization=organization, data=data, campaign_key=key)
    except IntegrityError:  # the same form submitted twice at once
        rule = AutomationRule.objects.get(organization=organization, campaign_key=key)
    counts = generate_messages(
        organization=organization, now=now, rule_ids=[rule.pk], trigger="segment send", actor=actor
    )
    return Campaign(rule, counts, True)
