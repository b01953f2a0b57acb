"""Pages of templates, rules and "send to a segment" (namespace `messaging`), and the
patient's confirmation link (namespace `confirm`, no login).

Templates and rules need `messaging.configure`; sending to a segment `marketing.edit`
(and the segment must be one the user may open). Views parse, check access, call one
service or selector and render.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.crm.segments.filters import parse_definition
from chairtime.crm.segments.selectors import get_segment, list_segments, matching_profiles
from chairtime.messaging.automation.access import (
    CONFIGURE,
    access_rule,
    access_template,
    branches_with,
    holds_everywhere,
)
from chairtime.messaging.automation.confirmations import (
    confirm_by_link,
    open_link,
    request_change_by_link,
)
from chairtime.messaging.automation.formatting import appointment_time, branch_language
from chairtime.messaging.automation.forms import (
    ChannelOrder,
    PreviewForm,
    RuleForm,
    SegmentSendForm,
    TemplateForm,
)
from chairtime.messaging.automation.preview import preview_template
from chairtime.messaging.automation.selectors import list_rules, list_templates
from chairtime.messaging.automation.services import (
    ensure_defaults,
    save_rule,
    save_template,
    send_to_segment,
)
from chairtime.messaging.automation.templating import CODE_VARIABLES, VARIABLES
from chairtime.messaging.choices import TemplateCode
from chairtime.messaging.models import AutomationRule, MessageTemplate
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


def _add_errors(form: forms.Form, error: InvalidInput) -> None:
    for field, errors in error.errors.items():
        name = "channel_1" if field == "channels" else field  # the channel order's first
        for message in errors:
            form.add_error(name if name in form.fields else None, message)


def _variables_help() -> list[tuple[str, list[tuple[str, str]]]]:
    return [
        (str(TemplateCode(code).label), [(name, str(VARIABLES[name].label)) for name in names])
        for code, names in CODE_VARIABLES.items()
    ]


# --- templates ------------------------------------------------------------------------------
@require_GET
@capability_required(CONFIGURE)
def template_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    ensure_defaults(organization=access.branch.organization)
    allowed = [b.pk for b in branches_with(access, CONFIGURE)]
    code = request.GET.get("code", "")
    rows = list_templates(
        organization_id=access.branch.organization_id, branch_ids=allowed,
        code=code if code in TemplateCode.values else "",
    )  # fmt: skip
    context = {"templates": rows, "codes": TemplateCode.choices, "code": code}
    return render(request, "messaging/automation/template_list.html", context)


def _template_form(access: BranchAccess, data: Any = None, **kwargs: Any) -> TemplateForm:
    return TemplateForm(
        data, branches=branches_with(access, CONFIGURE),
        whole=holds_everywhere(access, CONFIGURE), **kwargs,
    )  # fmt: skip


def _save_template(
    request: HttpRequest, access: BranchAccess, form: TemplateForm, template: MessageTemplate | None
) -> MessageTemplate | None:
    """The form's template saved, or None with the errors on the form."""
    if not form.is_valid():
        return None
    try:
        return save_template(
            actor=acting_user(request), organization=access.branch.organization,
            data=form.template_data(), template=template,
        )  # fmt: skip
    except InvalidInput as error:
        _add_errors(form, error)
        return None


def _template_page(
    request: HttpRequest, form: TemplateForm, template: MessageTemplate | None, status: int = 200
) -> HttpResponse:
    context = {"form": form, "template": template, "variables": _variables_help()}
    return render(request, "messaging/automation/template_edit.html", context, status=status)


@require_http_methods(["GET", "POST"])
@capability_required(CONFIGURE)
def template_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = _template_form(access, request.POST or None, initial={"channel": "sms"})
    if request.method == "POST":
        saved = _save_template(request, access, form, None)
        if saved is not None:
            messages.success(request, _("Template saved."))
            return redirect("messaging:template_list")
        return _template_page(request, form, None, 422)
    return _template_page(request, form, None)


@require_http_methods(["GET", "POST"])
@capability_required(CONFIGURE)
def template_edit(request: HttpRequest, template_id: int) -> HttpResponse:
    access = branch_access_of(request)
    template = access_template(access, template_id, to_change=request.method == "POST")
    initial = {
        "code": template.code, "channel": template.channel, "language": template.language,
        "subject": template.subject, "body": template.body,
        "branch": str(template.branch_id or ""),
    }  # fmt: skip
    form = _template_form(access, request.POST or None, initial=initial)
    if request.method == "POST":
        if _save_template(request, access, form, template) is not None:
            messages.success(request, _("Template saved."))
            return redirect("messaging:template_list")
        return _template_page(request, form, template, 422)
    return _template_page(request, form, template)


@require_POST
@capability_required(CONFIGURE)
def template_preview(request: HttpRequest) -> HttpResponse:
    """The template as typed, filled in for a sample patient (htmx fragment)."""
    access = branch_access_of(request)
    form = PreviewForm(request.POST)
    context: dict[str, Any] = {"errors": [], "preview": None}
    if not form.is_valid():
        context["errors"] = [_("Choose a purpose, a channel and a language.")]
    else:
        try:
            context["preview"] = preview_template(**form.cleaned_data, branch=access.branch)
        except InvalidInput as error:
            context["errors"] = [m for errors in error.errors.values() for m in errors]
        context["channel"] = form.cleaned_data["channel"]
    return render(request, "messaging/automation/_preview.html", context)


# --- rules ----------------------------------------------------------------------------------
@require_GET
@capability_required(CONFIGURE)
def rule_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    ensure_defaults(organization=access.branch.organization)
    allowed = [b.pk for b in branches_with(access, CONFIGURE)]
    rules = list_rules(organization_id=access.branch.organization_id, branch_ids=allowed)
    return render(request, "messaging/automation/rule_list.html", {"rules": rules})


def _rule_form(access: BranchAccess, data: Any = None, **kwargs: Any) -> RuleForm:
    return RuleForm(
        data, branches=branches_with(access, CONFIGURE),
        whole=holds_everywhere(access, CONFIGURE),
        segments=list(list_segments(access.user, access.branch)), **kwargs,
    )  # fmt: skip


def _save_rule(
    request: HttpRequest, access: BranchAccess, form: RuleForm, rule: AutomationRule | None
) -> AutomationRule | None:
    if not form.is_valid():
        return None
    try:
        return save_rule(
            actor=acting_user(request), organization=access.branch.organization,
            data=form.rule_data(), rule=rule,
        )  # fmt: skip
    except InvalidInput as error:
        _add_errors(form, error)
        return None


def _rule_page(
    request: HttpRequest, form: RuleForm, rule: AutomationRule | None, status: int = 200
) -> HttpResponse:
    return render(
        request, "messaging/automation/rule_edit.html", {"form": form, "rule": rule}, status=status
    )


@require_http_methods(["GET", "POST"])
@capability_required(CONFIGURE)
def rule_create(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    initial = {"is_enabled": True, "offset_unit": "hours", "send_at": "09:00",
               **ChannelOrder.initial_of(["zalo", "wechat", "sms", "email"])}  # fmt: skip
    form = _rule_form(access, request.POST or None, initial=initial)
    if request.method == "POST":
        if _save_rule(request, access, form, None) is not None:
            messages.success(request, _("Rule saved."))
            return redirect("messaging:rule_list")
        return _rule_page(request, form, None, 422)
    return _rule_page(request, form, None)


@require_http_methods(["GET", "POST"])
@capability_required(CONFIGURE)
def rule_edit(request: HttpRequest, rule_id: int) -> HttpResponse:
    access = branch_access_of(request)
    rule = access_rule(access, rule_id, to_change=request.method == "POST")
    initial = {
        "name": rule.name, "kind": rule.kind, "is_enabled": rule.is_enabled,
        "offset_value": rule.offset_value, "offset_unit": rule.offset_unit,
        "procedure_categories": rule.procedure_categories, "send_on": rule.send_on,
        "send_at": rule.send_at, "offer": rule.offer, "segment": str(rule.segment_id or ""),
        "branch": str(rule.branch_id or ""), **ChannelOrder.initial_of(list(rule.channels or [])),
    }  # fmt: skip
    form = _rule_form(access, request.POST or None, initial=initial)
    if request.method == "POST":
        if _save_rule(request, access, form, rule) is not None:
            messages.success(request, _("Rule saved."))
            return redirect("messaging:rule_list")
        return _rule_page(request, form, rule, 422)
    return _rule_page(request, form, rule)


# --- send to a segment ----------------------------------------------------------------------
def _segment_form(access: BranchAccess, data: Any = None) -> SegmentSendForm:
    return SegmentSendForm(
        data, branches=branches_with(access, Capability.MARKETING_EDIT),
        whole=holds_everywhere(access, Capability.MARKETING_EDIT),
        segments=list(list_segments(access.user, access.branch)),
        initial=ChannelOrder.initial_of(["zalo", "wechat", "sms", "email"]),
    )  # fmt: skip


def count_audience(access: BranchAccess, segment_id: str, branch_id: str) -> int | None:
    """How many patients the segment matches now in the chosen branch (or every branch
    where the user markets); None when the segment cannot be opened or read."""
    try:
        segment = get_segment(user=access.user, branch=access.branch, segment_id=segment_id)
        definition = parse_definition(segment.definition)
    except (NotFound, InvalidInput, ValueError):
        return None
    scope = [b.pk for b in branches_with(access, Capability.MARKETING_EDIT)]
    if branch_id:
        scope = [pk for pk in scope if str(pk) == branch_id]
    profiles = matching_profiles(definition, branch=access.branch)
    return profiles.filter(home_branch_id__in=scope).count()


@require_GET
@capability_required(Capability.MARKETING_EDIT)
def segment_audience(request: HttpRequest) -> HttpResponse:
    """The audience count for the chosen segment and branch (htmx fragment)."""
    access = branch_access_of(request)
    count = count_audience(access, request.GET.get("segment", ""), request.GET.get("branch", ""))
    return render(request, "messaging/automation/_audience.html", {"count": count})


@require_http_methods(["GET", "POST"])
@capability_required(Capability.MARKETING_EDIT)
def segment_send(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    form = _segment_form(access, request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            segment = form.chosen_segment()
            if segment is None:
                raise NotFound
            try:
                campaign = send_to_segment(
                    actor=acting_user(request), organization=access.branch.organization,
                    segment=segment, channels=form.channels(), offer=form.cleaned_data["offer"],
                    branch=form.chosen_branch(), campaign_key=form.cleaned_data["campaign_key"],
                    zone_branch=access.branch,
                )  # fmt: skip
            except InvalidInput as error:
                _add_errors(form, error)
            else:
                context = {"campaign": campaign, "segment": segment}
                return render(request, "messaging/automation/segment_sent.html", context)
    segment_id = form["segment"].value() or next(iter(form.segments), "")
    count = count_audience(access, str(segment_id or ""), str(form["branch"].value() or ""))
    context = {"form": form, "count": count}
    return render(request, "messaging/automation/segment_send.html", context, status=status)


# --- the patient's confirmation link -----------------------------------------------------------
@csrf_protect
@require_http_methods(["GET", "POST"])
def confirmation_link(request: HttpRequest, token: str) -> HttpResponse:
    """No login: the token is the key. Unknown: a 404 page that says so; expired, moved,
    cancelled or already confirmed: a page that says which. Shows the branch, the time and
    the doctor, nothing else about the patient."""
    try:
        state = open_link(token)
    except NotFound:
        response = render(
            request, "messaging/automation/link.html", {"state": "unknown"}, status=404
        )
        return response
    link = state.link
    language = link.appointment.patient.preferred_language or branch_language(link.branch)
    with translation.override(language):
        if request.method == "POST":
            action = request.POST.get("action", "")
            if action == "confirm":
                state = confirm_by_link(token=token)
            elif action == "change":
                state = request_change_by_link(token=token)
            else:
                raise Http404
            link = state.link
        appointment = link.appointment
        context = {
            "state": state.state, "change_requested": state.change_requested,
            "branch": link.branch, "doctor": str(appointment.doctor),
            "when": appointment_time(link.starts_at, link.branch.zone, language),
            "just_done": request.method == "POST",
        }  # fmt: skip
        response = render(request, "messaging/automation/link.html", context)
        response["Content-Language"] = language
    return response
