"""Imported visits and payments on the timeline: entries on a day (00:00 UTC for order and
paging), ties broken like every other entry, money only with money.view, shown as a day
on the page and in the API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.urls import reverse

from chairtime.crm.tests.helpers_feedback import visit
from chairtime.crm.tests.helpers_history import historical_payment, historical_visit
from chairtime.crm.timeline.selectors import patient_timeline
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from tests.factories import PatientFactory, UserFactory

DAY = date(2030, 1, 7)


@pytest.fixture
def patient(world: Any) -> tuple[Patient, list[tuple[str, int]]]:
    """A patient with book and imported entries on the same day, at its midnight (UTC) and
    later; returns the entries newest first, as (kind, id)."""
    a = world.branch_a
    patient = PatientFactory(home_branch=a)
    doctor = UserFactory()
    midnight = visit(a, patient, doctor, datetime(2030, 1, 7, 0, 0, tzinfo=UTC))
    later = visit(a, patient, doctor, datetime(2030, 1, 7, 3, 0, tzinfo=UTC))
    first = historical_visit(patient, DAY, "100000", description="Cleaning")
    second = historical_visit(patient, DAY, doctor_name="Dr. Minh")
    day_before = historical_visit(patient, date(2030, 1, 6))
    paid = historical_payment(patient, DAY, "100000", method="Cash")
    next_day = historical_payment(patient, date(2030, 1, 8), "50000")
    historical_visit(PatientFactory(home_branch=a), DAY)  # someone else's
    return patient, [
        ("imported_payment", next_day.pk),
        ("appointment", later.pk),
        ("imported_visit", second.pk),
        ("imported_visit", first.pk),
        ("imported_payment", paid.pk),
        ("appointment", midnight.pk),
        ("imported_visit", day_before.pk),
    ]


def entries(patient: Patient, caps: Any = frozenset(Capability), **options: Any) -> Any:
    return patient_timeline(patient, user_caps=caps, **options)


def test_imported_entries_stand_on_their_day(patient: Any) -> None:
    found, expected = patient
    page = entries(found)
    assert [(e.kind, e.object_id) for e in page.entries] == expected
    visit_entry = page.entries[3]
    assert (visit_entry.at, visit_entry.on, visit_entry.detail) == (
        datetime(2030, 1, 7, tzinfo=UTC), DAY, "Cleaning",
    )  # fmt: skip
    assert page.entries[2].detail == "Dr. Minh"


@pytest.mark.parametrize("limit", range(1, 8))
def test_paging_through_days_never_skips_or_repeats(patient: Any, limit: int) -> None:
    found, expected = patient
    seen: list[tuple[str, int]] = []
    before = None
    for _page in range(10):
        page = entries(found, before=before, limit=limit)
        seen += [(e.kind, e.object_id) for e in page.entries]
        before = page.next_before
        if before is None:
            break
    assert seen == expected


def test_imported_money_needs_money_view(patient: Any) -> None:
    found, _expected = patient
    page = entries(found, ROLE_CAPABILITIES[Role.NURSE])
    assert [e.kind for e in page.entries] == [
        "appointment", "imported_visit", "imported_visit", "appointment", "imported_visit",
    ]  # fmt: skip
    assert {e.amount for e in page.entries} == {None}
    with_money = entries(found, ROLE_CAPABILITIES[Role.RECEPTIONIST])
    assert [e.amount for e in with_money.entries if e.kind == "imported_visit"] == [
        None, 100000, None,
    ]  # fmt: skip


def test_page_and_api_show_the_day(world: Any, patient: Any, persona: Any, logged_in: Any) -> None:
    found, _expected = patient
    client = logged_in(persona(Role.OWNER))

    body = client.get(reverse("crm:patient_timeline", args=[found.pk])).content.decode()
    api = client.get(
        f"/api/v1/timeline/patients/{found.pk}", headers={"X-Branch": str(world.branch_a.pk)}
    ).json()

    assert '<time datetime="2030-01-07">' in body
    assert "Visit imported from OldDent" in body and "Payment imported from OldDent" in body
    assert [(e["kind"], e["on"], e["at"]) for e in api["entries"][:2]] == [
        ("imported_payment", "2030-01-08", "2030-01-08T00:00:00Z"),
        ("appointment", None, "2030-01-07T03:00:00Z"),
    ]
    assert api["entries"][4]["amount"] == "100000"
