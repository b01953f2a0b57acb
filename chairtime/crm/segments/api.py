"""API of the filter and segments: count and search with a definition (docs/filter.md),
and saved segments. Thin: parse, check the capability, call one service or selector."""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.crm.models import Segment
from chairtime.crm.segments.filters import FIELDS, parse_definition
from chairtime.crm.segments.selectors import (
    SegmentPage,
    count_patients,
    evaluate,
    get_segment,
    list_segments,
)
from chairtime.crm.segments.services import delete_segment, save_segment
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["segments"])

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]

DEFINITION_HELP = (
    'The filter: {"match": "all"|"any", "conditions": [condition or group, …]}; a condition is '
    '{"field", "op", "value"} (spend also "window"). Groups nest at most 3 deep, 50 conditions '
    "in all. Fields and their operators: "
    + "; ".join(f"{name} ({', '.join(spec.ops)})" for name, spec in FIELDS.items())
    + ". See docs/filter.md."
)

EXAMPLE = {
    "match": "all",
    "conditions": [
        {"field": "group", "op": "in", "value": ["loyal", "potential"]},
        {"field": "days_since_last_visit", "op": "gte", "value": 180},
    ],
}


class DefinitionIn(Schema):
    definition: dict[str, Any] = Field(..., description=DEFINITION_HELP, examples=[EXAMPLE])


class SearchIn(DefinitionIn):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=200)


class CountOut(Schema):
    count: int


class PatientRowOut(Schema):
    id: int
    number: str
    display_name: str
    home_branch_id: int
    group: str | None
    last_visit_on: date | None
    visit_count: int | None


class SearchOut(Schema):
    count: int
    page: int
    pages: int
    patients: list[PatientRowOut]


class SegmentIn(DefinitionIn):
    name: str = Field(..., max_length=100)
    is_shared: bool = False


class SegmentOut(Schema):
    id: int
    name: str
    definition: dict[str, Any]
    is_shared: bool
    owner_id: int
    created_at: datetime
    updated_at: datetime


class PageQuery(Schema):
    page: int = Field(1, ge=1, le=1_000_000)


def _search_out(result: SegmentPage) -> SearchOut:
    rows = []
    for patient in result.patients:
        profile = getattr(patient, "profile", None)
        rows.append(
            PatientRowOut(
                id=patient.pk, number=patient.number, display_name=patient.display_name,
                home_branch_id=patient.home_branch_id,
                group=profile.group if profile else None,
                last_visit_on=profile.last_visit_on if profile else None,
                visit_count=profile.visit_count if profile else None,
            )
        )  # fmt: skip
    return SearchOut(count=result.count, page=result.page, pages=result.pages, patients=rows)


def _segment_out(segment: Segment) -> SegmentOut:
    return SegmentOut(
        id=segment.pk, name=segment.name, definition=segment.definition,
        is_shared=segment.is_shared, owner_id=segment.owner_id,
        created_at=segment.created_at, updated_at=segment.updated_at,
    )  # fmt: skip


@router.post("/count", response=CountOut, summary="How many patients a filter matches")
def count(request: HttpRequest, payload: DefinitionIn) -> CountOut:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    definition = parse_definition(payload.definition)
    return CountOut(count=count_patients(definition, branch=access.branch))


@router.post("/search", response=SearchOut, summary="A page of the patients a filter matches")
def search(request: HttpRequest, payload: SearchIn) -> SearchOut:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    definition = parse_definition(payload.definition)
    result = evaluate(
        definition, branch=access.branch, page=payload.page, page_size=payload.page_size
    )
    return _search_out(result)


@router.get("/", response=list[SegmentOut], summary="Your segments and the shared ones")
def segment_list(request: HttpRequest) -> list[SegmentOut]:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    return [_segment_out(s) for s in list_segments(acting_user(request), access.branch)]


@router.post("/", response={201: SegmentOut}, summary="Save a filter as a segment")
def segment_create(request: HttpRequest, payload: SegmentIn) -> Status[SegmentOut]:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    segment = save_segment(
        actor=acting_user(request), branch=access.branch, name=payload.name,
        definition=payload.definition, is_shared=payload.is_shared,
    )  # fmt: skip
    return Status(201, _segment_out(segment))


@router.get("/{segment_id}", response=SegmentOut, summary="One segment")
def segment_detail(request: HttpRequest, segment_id: Id) -> SegmentOut:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    user = acting_user(request)
    return _segment_out(get_segment(user=user, branch=access.branch, segment_id=segment_id))


@router.put("/{segment_id}", response=SegmentOut, summary="Change a segment (owner or manager)")
def segment_update(request: HttpRequest, segment_id: Id, payload: SegmentIn) -> SegmentOut:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    user = acting_user(request)
    segment = get_segment(user=user, branch=access.branch, segment_id=segment_id)
    segment = save_segment(
        actor=user, branch=access.branch, name=payload.name, definition=payload.definition,
        is_shared=payload.is_shared, segment=segment,
    )  # fmt: skip
    return _segment_out(segment)


@router.delete("/{segment_id}", response={204: None}, summary="Delete a segment")
def segment_delete(request: HttpRequest, segment_id: Id) -> Status[None]:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    user = acting_user(request)
    segment = get_segment(user=user, branch=access.branch, segment_id=segment_id)
    delete_segment(actor=user, segment=segment)
    return Status(204, None)


@router.get(
    "/{segment_id}/patients", response=SearchOut, summary="A page of a segment's patients, now"
)
def segment_patients_page(
    request: HttpRequest, segment_id: Id, query: Query[PageQuery]
) -> SearchOut:
    access = api_branch_access(request)
    access.require(Capability.PATIENT_VIEW)
    user = acting_user(request)
    segment = get_segment(user=user, branch=access.branch, segment_id=segment_id)
    result = evaluate(parse_definition(segment.definition), branch=access.branch, page=query.page)
    return _search_out(result)
