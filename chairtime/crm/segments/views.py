"""Pages of the filter and segments: the builder with a live count, saved segments, and
exports (a segment, an unsaved filter, the patient list)."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.core.http import is_htmx
from chairtime.crm.models import Segment
from chairtime.crm.segments import builder
from chairtime.crm.segments.exporting import (
    Export,
    export_filter,
    export_patient_list,
    export_segment,
)
from chairtime.crm.segments.filters import FIELDS, OP_LABELS, parse_definition
from chairtime.crm.segments.selectors import (
    builder_options,
    evaluate,
    get_segment,
    is_manager,
    list_segments,
)
from chairtime.crm.segments.services import delete_segment, save_segment
from chairtime.patients.choices import ConsentPurpose, ContactChannel
from chairtime.tenancy.access import BranchAccess
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability

BUILDER = "crm/segments/filter_builder.html"


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1


def _builder_context(
    access: BranchAccess, state: builder.State, segment: Segment | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "state": builder.prepare(state, builder_options(access.branch)),
        "segment": segment,
        "fields": [(spec.name, spec.label) for spec in FIELDS.values()],
        "windows": builder.WINDOW_CHOICES,
        "channels": ContactChannel.choices,
        "purposes": ConsentPurpose.choices,
        "can_export": access.can(Capability.PATIENT_EXPORT),
        **extra,
    }


def _builder_page(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    access = branch_access_of(request)
    if request.method != "POST":
        state = (
            builder.state_from_definition(segment.definition) if segment else None
        ) or builder.initial_state(request.GET.get("group", ""))
        return render(request, BUILDER, _builder_context(access, state, segment))
    state = builder.state_from_post(request.POST)
    action = request.POST.get("action", "refresh")
    name = request.POST.get("name", segment.name if segment else "")
    is_shared = request.POST.get("is_shared") == "on"
    save_errors: dict[str, list[str]] = {}
    if action == "save":
        try:
            saved = save_segment(
                actor=acting_user(request), branch=access.branch, name=name,
                definition=builder.definition_of(state), is_shared=is_shared, segment=segment,
            )  # fmt: skip
        except InvalidInput as error:
            save_errors = error.errors
            builder.attach_errors(state, error.errors)
        else:
            return redirect("crm:segment_detail", segment_id=saved.pk)
    else:
        state = builder.apply_action(state, action)
    context = _builder_context(
        access, state, segment, name=name, is_shared=is_shared,
        name_errors=save_errors.get("name", []),
    )  # fmt: skip
    template = BUILDER + "#builder" if is_htmx(request) and action != "save" else BUILDER
    return render(request, template, context)


@capability_required(Capability.PATIENT_VIEW)
def filter_builder(request: HttpRequest) -> HttpResponse:
    return _builder_page(request, None)


@capability_required(Capability.PATIENT_VIEW)
def filter_preview(request: HttpRequest) -> HttpResponse:
    """The live count and the first page for the builder's current state (a read: GET)."""
    access = branch_access_of(request)
    state = builder.state_from_post(request.GET)
    try:
        definition = parse_definition(builder.definition_of(state))
    except InvalidInput as error:
        builder.attach_errors(state, error.errors)
        # Each message names its condition's field: "Customer group: Expected a non-empty list."
        messages = [
            f"{row.spec.label}: {message}"
            for group in state.groups
            for row in group.rows
            for message in row.errors
        ]
        context = {"errors": messages + state.errors}
        return render(request, "crm/segments/_preview.html", context)
    result = evaluate(definition, branch=access.branch, page_size=20)
    return render(request, "crm/segments/_preview.html", {"result": result})


@require_POST
@capability_required(Capability.PATIENT_EXPORT)
def filter_export(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    state = builder.state_from_post(request.POST)
    try:
        definition = parse_definition(builder.definition_of(state))
    except InvalidInput as error:
        builder.attach_errors(state, error.errors)
        return render(request, BUILDER, _builder_context(access, state), status=422)
    export = export_filter(
        actor=acting_user(request), branch=access.branch, definition=definition,
        file_format=request.POST.get("format", "csv"),
    )  # fmt: skip
    return _download(export)


@capability_required(Capability.PATIENT_VIEW)
def segment_list(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    segments = list_segments(request.user, access.branch)  # type: ignore[arg-type]
    return render(request, "crm/segments/segment_list.html", {"segments": segments})


@capability_required(Capability.PATIENT_VIEW)
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    user = acting_user(request)
    segment = get_segment(user=user, branch=access.branch, segment_id=segment_id)
    result = evaluate(
        parse_definition(segment.definition), branch=access.branch, page=_page_number(request)
    )
    context = {
        "segment": segment,
        "result": result,
        "can_change": _may_change(user, access, segment),
        "can_export": access.can(Capability.PATIENT_EXPORT),
        "conditions": describe(segment.definition),
    }
    return render(request, "crm/segments/segment_detail.html", context)


@capability_required(Capability.PATIENT_VIEW)
def segment_edit(request: HttpRequest, segment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    user = acting_user(request)
    segment = get_segment(user=user, branch=access.branch, segment_id=segment_id)
    if not _may_change(user, access, segment):
        raise NotFound
    return _builder_page(request, segment)


def _may_change(user: Any, access: BranchAccess, segment: Segment) -> bool:
    return segment.owner_id == user.pk or (segment.is_shared and is_manager(user, access.branch))


@require_POST
@capability_required(Capability.PATIENT_VIEW)
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    user = acting_user(request)
    segment = get_segment(user=user, branch=access.branch, segment_id=segment_id)
    delete_segment(actor=user, segment=segment)
    return redirect("crm:segment_list")


@capability_required(Capability.PATIENT_EXPORT)
def segment_export(request: HttpRequest, segment_id: int) -> HttpResponse:
    access = branch_access_of(request)
    user = acting_user(request)
    segment = get_segment(user=user, branch=access.branch, segment_id=segment_id)
    try:
        export = export_segment(
            actor=user, branch=access.branch, segment=segment,
            file_format=request.GET.get("format", "csv"),
        )  # fmt: skip
    except InvalidInput as error:
        return _bad_request(error)
    return _download(export)


@capability_required(Capability.PATIENT_EXPORT)
def patient_list_export(request: HttpRequest) -> HttpResponse:
    access = branch_access_of(request)
    try:
        export = export_patient_list(
            actor=acting_user(request), branch=access.branch,
            query=request.GET.get("q", "").strip(), scope=request.GET.get("scope", "branch"),
            file_format=request.GET.get("format", "csv"),
        )  # fmt: skip
    except InvalidInput as error:
        return _bad_request(error)
    return _download(export)


def _bad_request(error: InvalidInput) -> HttpResponse:
    messages = [message for field in error.errors.values() for message in field]
    return HttpResponse("; ".join(messages), status=400, content_type="text/plain")


def _download(export: Export) -> HttpResponse:
    response = StreamingHttpResponse(export.chunks, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    # A streamed answer is not an HttpResponse to the type checker, though Django's
    # middleware and the capability decorator treat both alike.
    return cast(HttpResponse, response)


def describe(definition: dict[str, Any]) -> list[str]:
    """One line per condition, for people: "Customer group is any of loyal, potential"."""
    lines: list[str] = []
    for item in definition.get("conditions", []):
        if "conditions" in item:
            inner = describe(item)
            joiner = " · " if item.get("match") == "all" else " | "
            lines.append("(" + joiner.join(inner) + ")")
            continue
        spec = FIELDS[item["field"]]
        value = item.get("value")
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        if isinstance(value, dict):
            shown = " / ".join(str(v) for v in value.values())
        window = item.get("window")
        suffix = f" ({window})" if isinstance(window, str) else ""
        lines.append(f"{spec.label}{suffix} {OP_LABELS[item['op']]} {shown}")
    return lines
