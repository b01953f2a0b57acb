"""Reads of templates, rules and confirmation links, and the choice of a template."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from chairtime.messaging.choices import BEFORE_APPOINTMENT_KINDS, Reason, RuleKind
from chairtime.messaging.models import AutomationRule, ConfirmationLink, Message, MessageTemplate
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.tenancy.models import Branch


def list_templates(
    *,
    organization_id: int,
    branch_ids: Iterable[int],
    code: str = "",
    channel: str = "",
    language: str = "",
) -> QuerySet[MessageTemplate]:
    """The organisation's templates and those of the given branches."""
    rows = MessageTemplate.objects.filter(organization_id=organization_id).filter(
        Q(branch__isnull=True) | Q(branch_id__in=list(branch_ids))
    )
    if code:
        rows = rows.filter(code=code)
    if channel:
        rows = rows.filter(channel=channel)
    if language:
        rows = rows.filter(language=language)
    return rows.select_related("branch").order_by("code", "channel", "language", "branch_id", "id")


def list_rules(*, organization_id: int, branch_ids: Iterable[int]) -> QuerySet[AutomationRule]:
    """The organisation's rules and those of the given branches (campaigns included)."""
    return (
        AutomationRule.objects.filter(organization_id=organization_id)
        .filter(Q(branch__isnull=True) | Q(branch_id__in=list(branch_ids)))
        .select_related("branch", "segment")
        .order_by("kind", "branch_id", "offset_unit", "-offset_value", "id")
    )


@dataclass
class TemplateBook:
    """Every template of an organisation in memory, to choose from many times over.

    The choice for a patient: their preferred language, else the branch's, else any (in
    the order of settings.LANGUAGES); in each language the branch's own version before the
    organisation's."""

    rows: dict[tuple[int | None, str, str, str], MessageTemplate] = field(default_factory=dict)

    @classmethod
    def of(cls, organization_id: int) -> TemplateBook:
        book = cls()
        for template in MessageTemplate.objects.filter(organization_id=organization_id):
            book.rows[(template.branch_id, template.code, template.channel, template.language)] = (
                template
            )
        return book

    def choose(
        self, *, branch_id: int, code: str, channel: str, languages: Iterable[str]
    ) -> MessageTemplate | None:
        for language in languages:
            if not language:
                continue
            for owner in (branch_id, None):
                found = self.rows.get((owner, code, channel, language))
                if found is not None:
                    return found
        return None

    def has_channel(self, *, branch_id: int, code: str, channel: str) -> bool:
        return any(key[1:3] == (code, channel) and key[0] in (branch_id, None) for key in self.rows)


def rules_for_branch(
    rules: Iterable[AutomationRule], branch: Branch, kind: str
) -> list[AutomationRule]:
    """The enabled rules of a kind that apply in a branch: the branch's own, when it has any
    of that kind (switched off or not), else the organisation's."""
    of_kind = [rule for rule in rules if rule.kind == kind]
    own = [rule for rule in of_kind if rule.branch_id == branch.pk]
    chosen = own if own else [rule for rule in of_kind if rule.branch_id is None]
    return [rule for rule in chosen if rule.is_enabled]


def get_link_by_hash(token_hash: str) -> ConfirmationLink | None:
    return (
        ConfirmationLink.objects.select_related(
            "branch", "appointment__doctor", "appointment__patient", "appointment__branch"
        )
        .filter(token_hash=token_hash)
        .first()
    )


def obsolete_reason(message: Message, now: datetime) -> str:
    """Why a message a rule made for an appointment should no longer go ("" when it
    should): its rule was switched off; the appointment was cancelled, missed or moved;
    it has started (a reminder held back past it); or, for a confirmation request, it is
    already confirmed."""
    rule = message.rule
    if rule is not None and not rule.is_enabled:
        return Reason.RULE_OFF
    appointment = message.appointment
    if appointment is None or rule is None or rule.kind not in BEFORE_APPOINTMENT_KINDS:
        return ""
    if appointment.status in RELEASED_STATUSES:
        return Reason.APPOINTMENT_CHANGED
    if appointment.starts_at != message.appointment_starts_at or appointment.starts_at <= now:
        return Reason.APPOINTMENT_CHANGED
    if rule.kind == RuleKind.CONFIRMATION_REQUEST and appointment.confirmed_at is not None:
        return Reason.APPOINTMENT_CHANGED
    return ""
