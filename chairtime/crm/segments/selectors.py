"""Reads for the filter and segments: evaluate a definition, list and open segments, and
the choices the builder offers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Count, DateField, F, Prefetch, Q, QuerySet, Window
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.core.errors import NotFound
from chairtime.crm.models import PatientProfile, Segment
from chairtime.crm.segments.filters import (
    Definition,
    HiddenFromSqlitePlanner,
    compile_definition,
)
from chairtime.marketing.models import Channel
from chairtime.patients.models import Patient, PatientPhone, Tag
from chairtime.tenancy.models import Branch, Membership
from chairtime.tenancy.roles import Capability, Role, capabilities_of

PAGE_SIZE = 50


@dataclass(frozen=True)
class SegmentPage:
    """How many patients match, and one page of them (most recent visit first)."""

    count: int
    patients: list[Patient]  # each with `profile` and `home_branch` loaded
    page: int = 1
    page_size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // self.page_size))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def branch_today(branch: Branch, now: datetime | None = None) -> date:
    return timezone.localdate(now or timezone.now(), branch.zone)


def matching_profiles(
    definition: Definition | None, *, branch: Branch, now: datetime | None = None
) -> QuerySet[PatientProfile]:
    """Profiles of the organisation's patients matching the definition (None: everyone).

    Merged records are not among them: a merge deletes the merged patient's profile in
    its transaction, and every computation skips and deletes merged patients' profiles
    (`crm.profiles.compute`), so no join with the patients is needed to leave them out."""
    now = now or timezone.now()
    organization = branch.organization
    profiles = PatientProfile.objects.filter(organization_id=organization.pk)
    if definition is not None:
        profiles = profiles.filter(
            compile_definition(
                definition, organization=organization, today=branch_today(branch, now), now=now
            )
        )
    return profiles


# Most recent visit first; patients who never came last (SQLite's DESC puts nulls last too).
_RECENT_FIRST = (F("last_visit_on").desc(nulls_last=True), "patient_id")
# SQLite chooses how to find a page by what the count just cost. A count that took this
# long read many rows (the widest indexed condition matched many profiles), and sorting the
# matches would read them all again: walking the last-visit index in order, which stops at
# the page's last match, costs less (measured at 1,000,000 profiles: 4-60 ms against
# 150-300 ms). A quick count means few rows to sort; fewer matches than the page reaches
# means a walk would cross the whole organisation.
_QUICK_COUNT_SECONDS = 0.03


def _ordered(profiles: QuerySet[PatientProfile]) -> QuerySet[PatientProfile]:
    return profiles.order_by(*_RECENT_FIRST)


def _page_ids(
    profiles: QuerySet[PatientProfile], *, count: int, counted_in: float, start: int, size: int
) -> list[int]:
    """SQLite: one page of the matches, by walking the last-visit index in order or by
    sorting the matches (the column written `+column`, hidden from the planner)."""
    if count >= start + size and counted_in >= _QUICK_COUNT_SECONDS:
        ordered = _ordered(profiles)
    else:
        hidden = HiddenFromSqlitePlanner(F("last_visit_on"), output_field=DateField())
        ordered = profiles.order_by(hidden.desc(nulls_last=True), "patient_id")
    return list(ordered.values_list("patient_id", flat=True)[start : start + size])


def _count_and_page_ids(
    profiles: QuerySet[PatientProfile], *, page: int, size: int
) -> tuple[int, int, list[int]]:
    """(count, page, the page's patient ids), the page clamped to the last one.

    PostgreSQL: one pass — each row carries COUNT(*) OVER (), so the matches are found
    once for the count and the page (in parallel, then a top-N sort). SQLite has no
    parallel scan and materialises a window's rows: a count, then the page."""
    start = (page - 1) * size
    counted_in = 0.0
    if connection.vendor == "postgresql":
        rows = list(
            _ordered(profiles)
            .annotate(total=Window(Count("*")))
            .values_list("patient_id", "total")[start : start + size]
        )
        if rows:
            return rows[0][1], page, [patient_id for patient_id, _total in rows]
        if page == 1:
            return 0, 1, []
        count = profiles.count()  # past the last page: go to the last one
    else:
        started = time.perf_counter()
        count = profiles.count()
        counted_in = time.perf_counter() - started
    pages = max(1, -(-count // size))
    if page > pages:
        return _count_and_page_ids(profiles, page=pages, size=size)
    if count == 0:
        return 0, 1, []
    ids = _page_ids(profiles, count=count, counted_in=counted_in, start=start, size=size)
    return count, page, ids


def evaluate(
    definition: Definition | None,
    *,
    branch: Branch,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
) -> SegmentPage:
    """The count and one page: the page's profile keys first, then those patients by id."""
    profiles = matching_profiles(definition, branch=branch, now=now)
    count, page, ids = _count_and_page_ids(profiles, page=max(page, 1), size=page_size)
    found = Patient.objects.select_related("profile", "home_branch").prefetch_related(
        Prefetch(
            "phones",
            queryset=PatientPhone.objects.filter(is_primary=True),
            to_attr="primary_phones",
        )
    )
    by_id = {patient.pk: patient for patient in found.filter(pk__in=ids)} if ids else {}
    patients = [by_id[pk] for pk in ids if pk in by_id]
    return SegmentPage(count=count, patients=patients, page=page, page_size=page_size)


def count_patients(definition: Definition | None, *, branch: Branch) -> int:
    return matching_profiles(definition, branch=branch).count()


def segment_patients(
    definition: Definition | None, *, branch: Branch, chunk_size: int = 2000
) -> Iterator[Patient]:
    """Every matching patient, most recent visit first, read in chunks (exports, audiences)."""
    ids = _ordered(matching_profiles(definition, branch=branch)).values_list(
        "patient_id", flat=True
    )
    chunk: list[int] = []
    for patient_id in ids.iterator(chunk_size=chunk_size):
        chunk.append(patient_id)
        if len(chunk) == chunk_size:
            yield from _patients_by_id(chunk)
            chunk = []
    if chunk:
        yield from _patients_by_id(chunk)


def _patients_by_id(ids: list[int]) -> Iterator[Patient]:
    found = (
        Patient.objects.filter(pk__in=ids)
        .select_related("profile", "home_branch")
        .prefetch_related(
            Prefetch(
                "phones",
                queryset=PatientPhone.objects.filter(is_primary=True),
                to_attr="primary_phones",
            )
        )
    )
    by_id = {patient.pk: patient for patient in found}
    for patient_id in ids:
        if patient_id in by_id:
            yield by_id[patient_id]


# --- segments ------------------------------------------------------------------------------
def _visible(user: AbstractBaseUser, branch: Branch) -> QuerySet[Segment]:
    return Segment.objects.filter(organization_id=branch.organization_id).filter(
        Q(owner_id=user.pk) | Q(is_shared=True)
    )


def list_segments(user: AbstractBaseUser, branch: Branch) -> QuerySet[Segment]:
    """The user's own segments and those shared in the organisation."""
    return _visible(user, branch).select_related("owner")


def get_segment(*, user: AbstractBaseUser, branch: Branch, segment_id: int | str) -> Segment:
    """A segment the user may open; another's private one or another organisation's: NotFound."""
    try:
        return _visible(user, branch).select_related("owner").get(pk=int(segment_id))
    except (Segment.DoesNotExist, ValueError, TypeError, OverflowError):
        raise NotFound from None


# --- what the builder offers ---------------------------------------------------------------
def builder_options(branch: Branch) -> dict[str, list[tuple[int, str]]]:
    """Choices for the fields that name rows of the organisation (ids and labels)."""
    organization_id = branch.organization_id
    staff = User.objects.filter(memberships__organization_id=organization_id).distinct()
    doctors = staff.filter(memberships__role=Role.DOCTOR)
    return {
        "source_channel": [
            (c.pk, c.name) for c in Channel.objects.filter(organization_id=organization_id)
        ],
        "preferred_doctor": [(u.pk, str(u)) for u in doctors.order_by("last_name", "pk")],
        "referred_by_staff": [(u.pk, str(u)) for u in staff.order_by("last_name", "pk")],
        "home_branch": [
            (b.pk, b.name)
            for b in Branch.objects.filter(organization_id=organization_id, is_active=True)
        ],
        "tags": [(t.pk, t.name) for t in Tag.objects.filter(organization_id=organization_id)],
    }


def is_manager(user: AbstractBaseUser, branch: Branch) -> bool:
    """Whether the user manages staff anywhere in the organisation (may change any segment)."""
    return may_manage_segments(user, branch.organization_id)


def may_manage_segments(user: AbstractBaseUser, organization_id: int) -> bool:
    """STAFF_MANAGE in any of the user's roles in the organisation."""
    roles = Membership.objects.filter(user_id=user.pk, organization_id=organization_id)
    held = frozenset(Role(role) for role in roles.values_list("role", flat=True))
    return Capability.STAFF_MANAGE in capabilities_of(held)
