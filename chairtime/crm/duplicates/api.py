"""API for duplicates: candidate pairs, merging two records, and what a merge moved.
Thin: resolve the patients through the active branch, check PATIENT_MERGE, call one
service or selector."""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.crm.duplicates.selectors import (
    Candidate,
    explain_merge,
    find_duplicates,
    get_merge,
)
from chairtime.crm.duplicates.services import merge_patients
from chairtime.crm.models import PatientMerge
from chairtime.patients.access import access_patient
from chairtime.patients.models import Patient
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["duplicates"])

Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
MERGE = Capability.PATIENT_MERGE


class PatientBrief(Schema):
    id: int
    number: str
    display_name: str
    birth_date: date | None
    email: str


class CandidateOut(Schema):
    a: PatientBrief
    b: PatientBrief
    reasons: list[str] = Field(description="phone, email, name_birth_date")


class CandidateFilters(Schema):
    limit: int = Field(200, ge=1, le=1000)


class MergeIn(Schema):
    survivor_id: Id
    merged_id: Id
    reason: str = Field(..., max_length=200)


class MergeOut(Schema):
    id: int
    survivor_id: int
    merged_id: int
    merged_by_id: int | None
    merged_at: datetime
    reason: str
    moved: dict[str, list[int]] = Field(description='"app_label.model.field" -> row ids')
    dropped: dict[str, list[int]] = Field(description="repeats the survivor already had")
    explanation: list[str]


def _brief(patient: Patient) -> PatientBrief:
    return PatientBrief(
        id=patient.pk, number=patient.number, display_name=patient.display_name,
        birth_date=patient.birth_date, email=patient.email,
    )  # fmt: skip


def _candidate_out(candidate: Candidate) -> CandidateOut:
    return CandidateOut(a=_brief(candidate.a), b=_brief(candidate.b), reasons=candidate.reasons)


def _merge_out(merge: PatientMerge) -> MergeOut:
    return MergeOut(
        id=merge.pk, survivor_id=merge.survivor_id, merged_id=merge.merged_id,
        merged_by_id=merge.merged_by_id, merged_at=merge.merged_at, reason=merge.reason,
        moved=merge.moved, dropped=merge.merged_snapshot.get("dropped", {}),
        explanation=explain_merge(merge),
    )  # fmt: skip


@router.get("/candidates", response=list[CandidateOut], summary="Possible duplicate pairs")
def candidate_list(request: HttpRequest, filters: Query[CandidateFilters]) -> list[CandidateOut]:
    access = api_branch_access(request)
    access.require(MERGE)
    candidates = find_duplicates(organization=access.branch.organization, limit=filters.limit)
    return [_candidate_out(candidate) for candidate in candidates]


@router.post("/merges", response={201: MergeOut}, summary="Merge two records of one person")
def merge_create(request: HttpRequest, payload: MergeIn) -> Status[MergeOut]:
    access = api_branch_access(request)
    survivor = access_patient(access, payload.survivor_id, capability=MERGE)
    merged = access_patient(access, payload.merged_id, capability=MERGE)
    merge = merge_patients(
        actor=acting_user(request), survivor=survivor, merged=merged, reason=payload.reason
    )
    return Status(201, _merge_out(merge))


@router.get("/merges/{int:merge_id}", response=MergeOut, summary="What a merge moved")
def merge_detail(request: HttpRequest, merge_id: int) -> MergeOut:
    access = api_branch_access(request)
    access.require(MERGE)
    return _merge_out(get_merge(organization=access.branch.organization, merge_id=merge_id))
