"""Referrals: the tree around a patient (up the chain, down the levels, loops, merged
records left out, revenue of non-void invoices) and the branch report (by referrer kind,
top referrers, doctors per month), with their pages and API."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from chairtime.crm.referrals.selectors import ReferralNode, referral_report, referral_tree
from chairtime.crm.tests.helpers_feedback import invoice, referred
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import Role
from tests.factories import MembershipFactory, UserFactory


def _shape(node: ReferralNode) -> dict[str, Any]:
    return {node.patient.given_name: [_shape(child) for child in node.children]}


@pytest.fixture
def family(world: Any) -> dict[str, Patient]:
    a = world.branch_a
    people: dict[str, Patient] = {}
    people["gg"] = referred(a, "GG")
    people["g"] = referred(a, "G", referred_by_patient=people["gg"])
    people["r"] = referred(a, "R", referred_by_patient=people["g"])
    people["a1"] = referred(a, "A1", referred_by_patient=people["r"])
    people["a2"] = referred(a, "A2", referred_by_patient=people["r"])
    people["b1"] = referred(world.branch_b, "B1", referred_by_patient=people["a1"])
    people["c1"] = referred(a, "C1", referred_by_patient=people["b1"])
    gone = referred(a, "Gone", referred_by_patient=people["r"], status="merged")
    people["gone"] = gone
    invoice(a, people["a1"], "500000")
    invoice(a, people["a1"], "300000", status="void")
    invoice(world.branch_b, people["b1"], "200000")
    invoice(a, people["b1"], "50000")
    return people


def test_tree_up_and_down_with_revenue(family):
    tree = referral_tree(family["a1"])

    assert [p.given_name for p in tree.ancestors] == ["R", "G", "GG"]
    assert _shape(tree.root) == {"A1": [{"B1": [{"C1": []}]}]}
    assert tree.root.revenue == {"VND": Decimal("500000")}
    b1 = tree.root.children[0]
    assert b1.revenue == {"VND": Decimal("250000")}
    assert b1.children[0].revenue == {}
    assert (tree.root.descendants, tree.is_truncated) == (2, False)


def test_merged_records_are_left_out(family):
    tree = referral_tree(family["r"])

    assert _shape(tree.root) == {"R": [{"A1": [{"B1": [{"C1": []}]}]}, {"A2": []}]}


def test_depth_limits_both_ways(family):
    tree = referral_tree(family["r"], depth=1)

    assert [p.given_name for p in tree.ancestors] == ["G"]
    assert _shape(tree.root) == {"R": [{"A1": []}, {"A2": []}]}
    assert tree.is_truncated is True


def test_a_loop_in_the_data_ends(world):
    x = referred(world.branch_a, "X")
    y = referred(world.branch_a, "Y", referred_by_patient=x)
    Patient.objects.filter(pk=x.pk).update(referred_by_patient=y)
    x.refresh_from_db()

    tree = referral_tree(x)

    assert [p.given_name for p in tree.ancestors] == ["Y"]
    assert _shape(tree.root) == {"X": []}


@pytest.fixture
def referrals(world: Any) -> dict[str, Any]:
    a, b = world.branch_a, world.branch_b
    doctor = UserFactory(first_name="Dung", last_name="Doctor")
    MembershipFactory(user=doctor, branch=a, role=Role.DOCTOR)
    nurse = UserFactory(first_name="Ngoc", last_name="Nurse")
    MembershipFactory(user=nurse, branch=a, role=Role.NURSE)
    r = referred(a, "R")
    p1 = referred(a, "P1", referred_by_patient=r)
    invoice(a, p1, "500000")
    invoice(a, p1, "100000", status="void")
    p2 = referred(a, "P2", referred_by_patient=r)
    invoice(a, p2, "250000", status="paid")
    p3 = referred(a, "P3", referred_by_staff=doctor)
    invoice(a, p3, "1000000")
    invoice(b, p3, "70000")  # another branch's money
    referred(a, "P4", referred_by_staff=nurse)
    p5 = referred(a, "P5", referrer_external="Smile Partners")
    invoice(a, p5, "40000")
    referred(b, "P6", referred_by_patient=r)  # another branch's patient
    old = referred(a, "P7", referred_by_staff=doctor)
    Patient.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=800))
    referred(a, "P8", referred_by_patient=r, status="merged")
    return {"r": r, "doctor": doctor, "nurse": nurse}


def test_report_by_kind_top_referrers_and_doctors(world, referrals):
    today = timezone.localdate(timezone.now(), world.branch_a.zone)

    report = referral_report(branch=world.branch_a, months=12, today=today)

    assert [(row.kind, row.patients, row.revenue) for row in report.by_kind] == [
        ("patient", 2, Decimal("750000")),
        ("staff", 2, Decimal("1000000")),
        ("external", 1, Decimal("40000")),
    ]
    assert (report.patients, report.revenue, report.currency) == (5, Decimal("1790000"), "VND")
    assert [(r.kind, r.referrer_id, r.patients, r.revenue) for r in report.top_referrers] == [
        ("patient", referrals["r"].pk, 2, Decimal("750000")),
        ("staff", referrals["doctor"].pk, 1, Decimal("1000000")),
        ("staff", referrals["nurse"].pk, 1, Decimal("0")),
    ]
    assert len(report.months) == 12
    assert report.months[-1] == today.replace(day=1)
    assert [(d.doctor_id, d.counts[-1], d.total) for d in report.doctors] == [
        (referrals["doctor"].pk, 1, 1)
    ]


def test_report_window_reaches_back_for_old_referrals(world, referrals):
    today = timezone.localdate(timezone.now(), world.branch_a.zone)

    report = referral_report(branch=world.branch_a, months=36, today=today)

    assert [(d.doctor_id, d.total) for d in report.doctors] == [(referrals["doctor"].pk, 2)]


# --- pages and API ------------------------------------------------------------------------
def test_tree_page_shows_revenue_only_with_money_view(family, persona, logged_in):
    url = reverse("crm:referral_tree", args=[family["a1"].pk])

    with_money = logged_in(persona(Role.RECEPTIONIST)).get(url)
    without = logged_in(persona(Role.NURSE)).get(url)

    assert (with_money.status_code, without.status_code) == (200, 200)
    assert with_money.context["shows_money"] is True
    assert "500,000" in with_money.content.decode() or "500.000" in with_money.content.decode()
    assert without.context["shows_money"] is False
    assert "500,000" not in without.content.decode() and "500.000" not in without.content.decode()


def test_outsider_sees_no_tree(family, outsider, logged_in):
    response = logged_in(outsider).get(reverse("crm:referral_tree", args=[family["a1"].pk]))

    assert response.status_code == 404


@pytest.mark.parametrize(("role", "status"), [(Role.OWNER, 200), (Role.NURSE, 404)])
def test_report_page_needs_analytics(world, referrals, persona, logged_in, role, status):
    assert logged_in(persona(role)).get(reverse("crm:referral_report")).status_code == status


def test_api_tree_and_report(world, family, persona, logged_in, outsider):
    owner = logged_in(persona(Role.OWNER))
    headers = {"X-Branch": str(world.branch_a.pk)}

    tree = owner.get(f"/api/v1/referrals/patients/{family['a1'].pk}", headers=headers).json()
    report = owner.get("/api/v1/referrals/report?months=3", headers=headers)
    hidden = logged_in(outsider).get(
        f"/api/v1/referrals/patients/{family['a1'].pk}",
        headers={"X-Branch": str(world.rival_branch.pk)},
    )

    assert [p["name"] for p in tree["ancestors"]] == [
        family["r"].display_name, family["g"].display_name, family["gg"].display_name,
    ]  # fmt: skip
    assert tree["root"]["revenue"] == {"VND": "500000"}
    assert tree["root"]["children"][0]["revenue"] == {"VND": "250000"}
    assert report.status_code == 200
    # Branch A's referred patients: G, R, A1, A2, C1 (B1 lives in B; the merged one is out).
    assert (report.json()["patients"], report.json()["revenue"]) == (5, "500000")
    assert hidden.status_code == 404
