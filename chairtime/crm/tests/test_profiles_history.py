"""Imported history in the profiles: merged with the appointment book's visits and the
invoices' spend, the same numbers from the nightly recomputation and from a refresh, and
carried to the survivor by a merge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chairtime.crm.duplicates.services import merge_patients
from chairtime.crm.models import HistoricalPayment, HistoricalVisit, PatientProfile
from chairtime.crm.profiles import compute
from chairtime.crm.profiles.compute import recompute_organization, refresh_profiles
from chairtime.crm.tests.helpers_history import historical_payment, historical_visit
from chairtime.crm.tests.helpers_profiles import NOW, TODAY, invoice, visit
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory


def days_ago(days: int) -> Any:
    return TODAY - timedelta(days=days)


@pytest.fixture
def patients(world: World) -> dict[str, Patient]:
    """Book and history together, history only, payments only, and nothing at all."""
    both = PatientFactory(home_branch=world.branch_a, given_name="Both")
    visit(both, 400)
    visit(both, 100)
    visit(both, 50, status="no_show")
    invoice(both, 100, "1000000")
    historical_visit(both, days_ago(1000), "200000")
    historical_visit(both, days_ago(800))
    historical_visit(both, days_ago(100), "0")  # a free check-up: a visit, not a paid one
    historical_payment(both, days_ago(1000), "500000")
    historical_payment(both, days_ago(200), "300000")
    historical_payment(both, days_ago(900), "70", currency="USD")  # not the profile's money
    history = PatientFactory(home_branch=world.branch_b, given_name="History")
    historical_visit(history, days_ago(30), "150000", branch=world.branch_a)
    historical_visit(history, days_ago(90), "150000")
    historical_visit(history, days_ago(90), "50000")  # the same day: one paid visit day
    historical_payment(history, days_ago(30), "150000")
    paid = PatientFactory(home_branch=world.branch_a, given_name="Paid")
    historical_payment(paid, days_ago(10), "90000")
    nothing = PatientFactory(home_branch=world.branch_a, given_name="Nothing")
    return {"both": both, "history": history, "paid": paid, "nothing": nothing}


NUMBERS = (
    "visit_count", "first_visit_on", "last_visit_on", "usual_interval_days",
    "paid_visit_count", "window_paid_visits", "spend_total", "spend_365d", "window_spend",
    "no_show_rate",
)  # fmt: skip


def numbers(patient: Patient) -> tuple[Any, ...]:
    profile = PatientProfile.objects.get(patient=patient)
    return tuple(getattr(profile, name) for name in NUMBERS)


def test_history_adds_to_the_book_and_the_invoices(patients: dict[str, Patient]) -> None:
    refresh_profiles([p.pk for p in patients.values()], now=NOW)

    assert numbers(patients["both"]) == (
        5, days_ago(1000), days_ago(100), 225,  # 900 days over 4 gaps
        2, 1,  # the invoice's day and the paid historical visit; only the invoice in 24 months
        Decimal("1800000"), Decimal("1300000"), Decimal("1300000"),
        33,  # the book's own: 1 no-show of 2 visits and 1 no-show
    )  # fmt: skip
    assert numbers(patients["history"]) == (
        3, days_ago(90), days_ago(30), 30, 2, 2,
        Decimal("150000"), Decimal("150000"), Decimal("150000"), None,
    )  # fmt: skip
    assert numbers(patients["paid"]) == (
        0, None, None, None, 0, 0, Decimal("90000"), Decimal("90000"), Decimal("90000"), None,
    )  # fmt: skip
    assert numbers(patients["nothing"]) == (
        0, None, None, None, 0, 0, Decimal("0"), Decimal("0"), Decimal("0"), None,
    )  # fmt: skip


def test_history_decides_groups(patients: dict[str, Patient]) -> None:
    refresh_profiles([p.pk for p in patients.values()], now=NOW)
    profile = PatientProfile.objects.get(patient=patients["history"])
    assert (profile.group, profile.r_score > 0) == ("potential", True)
    assert PatientProfile.objects.get(patient=patients["paid"]).group_rule == "potential.new"


def _snapshot() -> dict[int, dict[str, Any]]:
    return {p.patient_id: model_to_dict(p) for p in PatientProfile.objects.all()}


def test_recomputation_and_refresh_give_the_same_numbers_with_history(
    world: World, patients: dict[str, Patient], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = recompute_organization(world.acme, now=NOW)
    full = _snapshot()
    assert result.patients == 4
    assert full[patients["both"].pk]["visit_count"] == 5

    for patient in patients.values():
        refresh_profiles([patient.pk], now=NOW)
    assert _snapshot() == full
    refresh_profiles([p.pk for p in patients.values()], now=NOW)
    assert _snapshot() == full
    # The large-run paths (batched reads, COPY and one upsert on PostgreSQL).
    PatientProfile.objects.all().delete()
    monkeypatch.setattr(compute, "READ_CHUNK", 2)
    monkeypatch.setattr(compute, "COPY_FROM_ROWS", 1)
    recompute_organization(world.acme, now=NOW)
    assert _snapshot() == full


def test_history_costs_one_aggregate_per_table(world: World, patients: dict[str, Patient]) -> None:
    """The nightly run over a million patients pays one query per history table, never
    one per patient; so does a refresh of many."""
    for run in (
        lambda: recompute_organization(world.acme, now=NOW),
        lambda: refresh_profiles([p.pk for p in patients.values()], now=NOW),
    ):
        with CaptureQueriesContext(connection) as captured:
            run()
        tables = [
            table
            for query in captured.captured_queries
            for table in ("crm_historicalvisit", "crm_historicalpayment")
            if table in query["sql"]
        ]
        assert tables == ["crm_historicalvisit", "crm_historicalpayment"]


# --- merge -----------------------------------------------------------------------------------
@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    yield


def test_a_merge_carries_the_history_to_the_survivor(
    world: World, persona: Any, clock: None
) -> None:
    survivor = PatientFactory(home_branch=world.branch_a)
    merged = PatientFactory(home_branch=world.branch_a)
    kept = historical_visit(survivor, days_ago(300), "100000")
    moved_visits = [
        historical_visit(merged, days_ago(200), "200000").pk,
        historical_visit(merged, days_ago(100)).pk,
    ]
    moved_payment = historical_payment(merged, days_ago(200), "200000").pk
    historical_payment(survivor, days_ago(300), "100000")

    merge = merge_patients(
        actor=persona(Role.OWNER), survivor=survivor, merged=merged, reason="Same person"
    )

    assert merge.moved["crm.historicalvisit.patient"] == moved_visits
    assert merge.moved["crm.historicalpayment.patient"] == [moved_payment]
    assert sorted(
        HistoricalVisit.objects.filter(patient=survivor).values_list("pk", flat=True)
    ) == sorted([kept.pk, *moved_visits])
    assert HistoricalPayment.objects.filter(patient=merged).count() == 0
    profile = PatientProfile.objects.get(patient=survivor)
    assert (profile.visit_count, profile.last_visit_on, profile.spend_total) == (
        3, days_ago(100), Decimal("300000"),
    )  # fmt: skip
    assert not PatientProfile.objects.filter(patient=merged).exists()
