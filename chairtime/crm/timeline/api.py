"""API of the patient timeline: every touchpoint, newest first, paged by cursor.

Money entries appear only with money.view, treatment with treatment.view, complaints and
NPS answers with care.view, audit events with audit.view.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from chairtime.core.money import quantize
from chairtime.crm.timeline.selectors import TimelineEntry, patient_timeline
from chairtime.patients.access import access_patient
from chairtime.tenancy.api import api_branch_access

router = Router(tags=["timeline"])


class EntryOut(Schema):
    at: datetime
    on: date | None = Field(None, description="imported history: the day (`at` is its 00:00 UTC)")
    kind: str
    object_id: int
    title: str
    detail: str
    branch: str
    amount: str | None
    currency: str
    cursor: str


class TimelineOut(Schema):
    entries: list[EntryOut]
    next_before: str | None = Field(..., description="pass as `before` for older entries")


class TimelineFilter(Schema):
    before: str | None = Field(None, description="a cursor from `next_before`")
    limit: int = Field(100, ge=1, le=500)


def _entry_out(e: TimelineEntry) -> EntryOut:
    amount = None if e.amount is None else str(quantize(e.amount, e.currency))
    return EntryOut(
        at=e.at, on=e.on, kind=e.kind, object_id=e.object_id, title=e.title, detail=e.detail,
        branch=e.branch, amount=amount, currency=e.currency, cursor=e.cursor,
    )  # fmt: skip


@router.get("/patients/{int:patient_id}", response=TimelineOut, summary="A patient's timeline")
def timeline(request: HttpRequest, patient_id: int, filters: Query[TimelineFilter]) -> TimelineOut:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id)
    page = patient_timeline(
        patient, user_caps=access.capabilities, before=filters.before, limit=filters.limit
    )
    return TimelineOut(entries=[_entry_out(e) for e in page.entries], next_before=page.next_before)
