"""API of message templates and automation rules (/api/v1/messaging/templates, …/rules),
in the active branch (X-Branch). Both need messaging.configure; missing and forbidden both
answer 404. Input goes through the pages' forms and services (ADR 2), so the API refuses
exactly what the pages refuse, with the same messages (422 naming the field)."""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime, time
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput
from chairtime.crm.segments.selectors import list_segments
from chairtime.messaging.automation.access import (
    CONFIGURE,
    access_rule,
    access_template,
    branches_with,
    holds_everywhere,
)
from chairtime.messaging.automation.forms import CHANNEL_FIELDS, PreviewForm, RuleForm, TemplateForm
from chairtime.messaging.automation.preview import preview_template
from chairtime.messaging.automation.selectors import list_rules, list_templates
from chairtime.messaging.automation.services import ensure_defaults, save_rule, save_template
from chairtime.messaging.models import AutomationRule, MessageTemplate
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.api import api_branch_access

router = Router(tags=["messaging automation"])


class TemplateOut(Schema):
    id: int
    branch_id: int | None = Field(description="null: the organisation's, for every branch")
    code: str
    channel: str
    language: str
    subject: str
    body: str
    updated_at: datetime


class TemplateIn(Schema):
    code: str = Field(..., description="appointment_reminder, birthday_greeting, …")
    channel: str = Field(..., description="sms, email, zalo or wechat")
    language: str = Field(..., description="en, vi, zh-hans or es")
    subject: str = Field("", description="e-mail only")
    body: str = Field(..., description="variables in braces: {patient_name}")
    branch_id: int | None = Field(None, description="null: the organisation's")


class PreviewIn(Schema):
    code: str
    channel: str
    language: str
    subject: str = ""
    body: str


class PreviewOut(Schema):
    subject: str
    body: str
    params: dict[str, str]
    sms_parts: int


class RuleOut(Schema):
    id: int
    branch_id: int | None
    name: str
    kind: str
    is_enabled: bool
    offset_value: int
    offset_unit: str
    procedure_categories: list[str]
    channels: list[str]
    send_on: date | None
    send_at: time
    offer: str
    segment_id: int | None
    completed_at: datetime | None


class RuleIn(Schema):
    name: str
    kind: str = Field(..., description="reminder, confirmation_request, post_visit, plan_summary, "
                      "birthday, holiday or segment")  # fmt: skip
    channels: list[str] = Field(..., description='in order of preference: ["zalo", "sms"]')
    is_enabled: bool = True
    offset_value: int = 0
    offset_unit: str = "hours"
    procedure_categories: list[str] = Field(default_factory=list)
    send_on: str | None = Field(None, description="YYYY-MM-DD (holiday, segment)")
    send_at: str = Field("09:00", description="HH:MM, local time")
    offer: str = ""
    segment_id: int | None = None
    branch_id: int | None = None


def _template_out(t: MessageTemplate) -> TemplateOut:
    return TemplateOut(
        id=t.pk, branch_id=t.branch_id, code=t.code, channel=t.channel, language=t.language,
        subject=t.subject, body=t.body, updated_at=t.updated_at,
    )  # fmt: skip


def _rule_out(r: AutomationRule) -> RuleOut:
    return RuleOut(
        id=r.pk, branch_id=r.branch_id, name=r.name, kind=r.kind, is_enabled=r.is_enabled,
        offset_value=r.offset_value, offset_unit=r.offset_unit,
        procedure_categories=list(r.procedure_categories or []), channels=list(r.channels or []),
        send_on=r.send_on, send_at=r.send_at, offer=r.offer, segment_id=r.segment_id,
        completed_at=r.completed_at,
    )  # fmt: skip


def _access(request: HttpRequest) -> BranchAccess:
    access = api_branch_access(request)
    access.require(CONFIGURE)
    return access


_API_NAMES = {"branch": "branch_id", "segment": "segment_id"} | dict.fromkeys(
    CHANNEL_FIELDS, "channels"
)


def _checked(form: Any) -> None:
    """Refuse with the form's errors, under the API's field names."""
    if not form.is_valid():
        errors: dict[str, list[str]] = {}
        for field, messages in form.errors.items():
            errors.setdefault(_API_NAMES.get(field, field), []).extend(messages)
        raise InvalidInput(errors)


def _branch_value(branch_id: int | None) -> str:
    return "" if branch_id is None else str(branch_id)


# --- templates ------------------------------------------------------------------------------
@router.get(
    "/templates",
    response=list[TemplateOut],
    summary="The organisation's templates and your branches'",
)
def template_list(request: HttpRequest) -> list[TemplateOut]:
    access = _access(request)
    ensure_defaults(organization=access.branch.organization)
    allowed = [b.pk for b in branches_with(access, CONFIGURE)]
    rows = list_templates(organization_id=access.branch.organization_id, branch_ids=allowed)
    return [_template_out(t) for t in rows]


@router.get("/templates/{int:template_id}", response=TemplateOut, summary="One template")
def template_detail(request: HttpRequest, template_id: int) -> TemplateOut:
    return _template_out(access_template(_access(request), template_id))


def _write_template(
    request: HttpRequest, payload: TemplateIn, template: MessageTemplate | None
) -> MessageTemplate:
    access = _access(request)
    form = TemplateForm(
        {**payload.dict(exclude={"branch_id"}), "branch": _branch_value(payload.branch_id)},
        branches=branches_with(access, CONFIGURE), whole=holds_everywhere(access, CONFIGURE),
    )  # fmt: skip
    _checked(form)
    return save_template(
        actor=acting_user(request), organization=access.branch.organization,
        data=form.template_data(), template=template,
    )  # fmt: skip


@router.post("/templates", response={201: TemplateOut}, summary="Create a template")
def template_create(request: HttpRequest, payload: TemplateIn) -> Status[TemplateOut]:
    return Status(201, _template_out(_write_template(request, payload, None)))


@router.put("/templates/{int:template_id}", response=TemplateOut, summary="Change a template")
def template_update(request: HttpRequest, template_id: int, payload: TemplateIn) -> TemplateOut:
    template = access_template(_access(request), template_id, to_change=True)
    return _template_out(_write_template(request, payload, template))


@router.post(
    "/templates/preview", response=PreviewOut, summary="A template filled in for a sample patient"
)
def template_preview(request: HttpRequest, payload: PreviewIn) -> PreviewOut:
    access = _access(request)
    form = PreviewForm(payload.dict())
    _checked(form)
    preview = preview_template(**form.cleaned_data, branch=access.branch)
    return PreviewOut(subject=preview.subject, body=preview.body, params=preview.params,
                      sms_parts=preview.sms_parts)  # fmt: skip


# --- rules ----------------------------------------------------------------------------------
@router.get("/rules", response=list[RuleOut], summary="The organisation's rules and your branches'")
def rule_list(request: HttpRequest) -> list[RuleOut]:
    access = _access(request)
    ensure_defaults(organization=access.branch.organization)
    allowed = [b.pk for b in branches_with(access, CONFIGURE)]
    return [
        _rule_out(r)
        for r in list_rules(organization_id=access.branch.organization_id, branch_ids=allowed)
    ]


@router.get("/rules/{int:rule_id}", response=RuleOut, summary="One rule")
def rule_detail(request: HttpRequest, rule_id: int) -> RuleOut:
    return _rule_out(access_rule(_access(request), rule_id))


def _write_rule(
    request: HttpRequest, payload: RuleIn, rule: AutomationRule | None
) -> AutomationRule:
    access = _access(request)
    values = payload.dict(exclude={"channels", "branch_id", "segment_id"})
    values.update({
        "branch": _branch_value(payload.branch_id), "segment": _branch_value(payload.segment_id),
        "offset_value": str(payload.offset_value), "send_on": payload.send_on or "",
        "is_enabled": "on" if payload.is_enabled else "",
    })  # fmt: skip
    if len(payload.channels) > len(CHANNEL_FIELDS):
        raise InvalidInput.on("channels", _("Choose at most four channels."))
    values.update(dict(zip(CHANNEL_FIELDS, payload.channels, strict=False)))
    form = RuleForm(
        values, branches=branches_with(access, CONFIGURE), whole=holds_everywhere(access, CONFIGURE),
        segments=list(list_segments(access.user, access.branch)),
    )  # fmt: skip
    _checked(form)
    return save_rule(
        actor=acting_user(request), organization=access.branch.organization,
        data=form.rule_data(), rule=rule,
    )  # fmt: skip


@router.post("/rules", response={201: RuleOut}, summary="Create a rule")
def rule_create(request: HttpRequest, payload: RuleIn) -> Status[RuleOut]:
    return Status(201, _rule_out(_write_rule(request, payload, None)))


@router.put("/rules/{int:rule_id}", response=RuleOut, summary="Change a rule")
def rule_update(request: HttpRequest, rule_id: int, payload: RuleIn) -> RuleOut:
    rule = access_rule(_access(request), rule_id, to_change=True)
    return _rule_out(_write_rule(request, payload, rule))
