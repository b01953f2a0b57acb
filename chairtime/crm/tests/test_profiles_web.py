"""Thresholds (validated, audited), the group pages and the API: capability and scope
(forbidden looks like missing: 404)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.core.errors import InvalidInput
from chairtime.crm.models import GroupChange, GroupThresholds, PatientProfile
from chairtime.crm.profiles.compute import recompute_organization
from chairtime.crm.profiles.services import get_thresholds, update_thresholds
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory

Persona = Callable[[Role], User]
Login = Callable[[User], Client]


# --- thresholds ----------------------------------------------------------------------------
def test_thresholds_start_with_the_defaults(world: World) -> None:
    thresholds = get_thresholds(world.acme)
    assert (thresholds.loyal_paid_visits, thresholds.rfm_window_months) == (4, 24)
    assert get_thresholds(world.acme).pk == thresholds.pk


def test_update_thresholds_is_audited(world: World, persona: Persona) -> None:
    owner = persona(Role.OWNER)
    found = update_thresholds(
        actor=owner, organization=world.acme, values={"loyal_paid_visits": "6"}
    )
    assert found.loyal_paid_visits == 6
    event = AuditEvent.objects.get(object_type="crm.groupthresholds")
    assert event.organization_id == world.acme.pk
    assert event.actor_id == owner.pk
    assert event.changes == {"loyal_paid_visits": [4, 6]}


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"loyal_paid_visits": 0}, "loyal_paid_visits", "Enter a number from 1 to 100."),
        ({"loyal_monetary_score": 6}, "loyal_monetary_score", "Enter a number from 1 to 5."),
        (
            {"low_value_promo_percent": 101},
            "low_value_promo_percent",
            "Enter a number from 1 to 100.",
        ),
        ({"rfm_window_months": "twelve"}, "rfm_window_months", "Enter a whole number."),
        ({"negative_recent_days": 1.5}, "negative_recent_days", "Enter a whole number."),
        ({"late_cancel_hours": True}, "late_cancel_hours", "Enter a whole number."),
        ({"colour": 3}, "colour", "Unknown setting."),
    ],
)
def test_bad_thresholds_are_refused_naming_the_field(
    world: World, values: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        update_thresholds(
            actor=None, organization=world.acme, values={"loyal_referrals": 3, **values}
        )
    assert raised.value.errors == {field: [message]}
    assert not GroupThresholds.objects.exists()
    assert not AuditEvent.objects.exists()


# --- pages ---------------------------------------------------------------------------------
def test_overview_counts_groups_of_the_branch_and_the_organisation(
    world: World, persona: Persona, logged_in: Login
) -> None:
    PatientFactory.create_batch(2, home_branch=world.branch_a)
    PatientFactory(home_branch=world.branch_b)
    PatientFactory(home_branch=world.rival_branch)
    recompute_organization(world.acme)
    recompute_organization(world.rival)
    client = logged_in(persona(Role.DOCTOR))  # a doctor of branch A: A is the active branch
    page = client.get(reverse("crm:group_overview"))
    assert page.status_code == 200
    groups = {value: count for value, _label, count in page.context["groups"]}
    assert groups == {"loyal": 0, "potential": 2, "low_value": 0, "negative": 0}
    everything = client.get(reverse("crm:group_overview"), {"scope": "all"})
    assert everything.context["summary"].total == 3


def test_overview_shows_flows_between_groups(
    world: World, persona: Persona, logged_in: Login
) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    now = timezone.now()
    GroupChange.objects.create(organization=world.acme, patient=patient, from_group="",
                               to_group="potential", rule="potential.new", changed_at=now)  # fmt: skip
    GroupChange.objects.create(organization=world.acme, patient=patient, from_group="potential",
                               to_group="loyal", rule="loyal.visits", changed_at=now - timedelta(days=40))  # fmt: skip
    client = logged_in(persona(Role.OWNER))
    page = client.get(reverse("crm:group_overview"), {"scope": "all"})
    assert page.context["flows"] == [(30, []), (90, [("Potential", "Loyal / VIP", 1)])]
    assert "Open as a filter" in page.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.OWNER, 200),
        (Role.MARKETER, 200),
        (Role.DOCTOR, 200),
        (Role.RECEPTIONIST, 404),
        (Role.NURSE, 404),
    ],
)
def test_overview_needs_analytics(
    world: World, persona: Persona, logged_in: Login, role: Role, status: int
) -> None:
    assert logged_in(persona(role)).get(reverse("crm:group_overview")).status_code == status


@pytest.mark.parametrize(
    ("role", "status"), [(Role.OWNER, 200), (Role.BRANCH_MANAGER, 404), (Role.MARKETER, 404)]
)
def test_thresholds_page_needs_crm_configure(
    world: World, persona: Persona, logged_in: Login, role: Role, status: int
) -> None:
    assert logged_in(persona(role)).get(reverse("crm:group_thresholds")).status_code == status


def _form(**changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "rfm_window_months": 24, "loyal_paid_visits": 4, "loyal_referrals": 2,
        "loyal_monetary_score": 5, "potential_not_returned_days": 180,
        "low_value_min_paid_visits": 2, "low_value_promo_percent": 50,
        "negative_recent_days": 180, "negative_missed_count": 3, "late_cancel_hours": 24,
        "negative_absence_factor": 3, "negative_absence_min_days": 365,
    }  # fmt: skip
    return {**values, **changes}


def test_thresholds_page_saves(world: World, persona: Persona, logged_in: Login) -> None:
    client = logged_in(persona(Role.OWNER))
    response = client.post(reverse("crm:group_thresholds"), _form(loyal_paid_visits=5))
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:group_overview")
    assert GroupThresholds.objects.get(organization=world.acme).loyal_paid_visits == 5


def test_thresholds_page_refuses_bad_values(
    world: World, persona: Persona, logged_in: Login
) -> None:
    client = logged_in(persona(Role.OWNER))
    response = client.post(reverse("crm:group_thresholds"), _form(loyal_monetary_score=9))
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "loyal_monetary_score": ["Ensure this value is less than or equal to 5."]
    }
    assert GroupThresholds.objects.get(organization=world.acme).loyal_monetary_score == 5


def test_the_patient_partial_renders_with_and_without_a_profile(world: World) -> None:
    from django.template.loader import render_to_string

    patient = PatientFactory(home_branch=world.branch_a)
    assert "Not computed yet." in render_to_string(
        "crm/profiles/_patient_group.html", {"profile": None}
    )
    recompute_organization(world.acme)
    html = render_to_string(
        "crm/profiles/_patient_group.html", {"profile": PatientProfile.objects.get(patient=patient)}
    )
    assert "No visit yet." in html
    assert "Potential" in html


# --- API -----------------------------------------------------------------------------------
def test_api_thresholds_read_and_update(world: World, persona: Persona, logged_in: Login) -> None:
    client = logged_in(persona(Role.OWNER))
    assert client.get("/api/v1/groups/thresholds").json()["loyal_paid_visits"] == 4
    response = client.put("/api/v1/groups/thresholds", json.dumps({"loyal_paid_visits": 7}),
                          content_type="application/json")  # fmt: skip
    assert response.status_code == 200
    assert response.json()["loyal_paid_visits"] == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [({"loyal_paid_visits": 0}, "loyal_paid_visits"), ({"colour": 1}, "colour"),
     ({"rfm_window_months": "long"}, "rfm_window_months")],
)  # fmt: skip
def test_api_refuses_bad_thresholds_naming_the_field(
    world: World, persona: Persona, logged_in: Login, body: dict[str, object], field: str
) -> None:
    client = logged_in(persona(Role.OWNER))
    response = client.put(
        "/api/v1/groups/thresholds", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422
    assert field in json.dumps(response.json()["errors"])
    assert get_thresholds(world.acme).loyal_paid_visits == 4


def test_api_thresholds_update_needs_crm_configure(
    world: World, persona: Persona, logged_in: Login
) -> None:
    client = logged_in(persona(Role.BRANCH_MANAGER))
    assert client.get("/api/v1/groups/thresholds").status_code == 200
    response = client.put("/api/v1/groups/thresholds", json.dumps({"loyal_paid_visits": 7}),
                          content_type="application/json")  # fmt: skip
    assert response.status_code == 404
    assert logged_in(persona(Role.RECEPTIONIST)).get("/api/v1/groups/thresholds").status_code == 404


def test_api_summary(world: World, persona: Persona, logged_in: Login) -> None:
    PatientFactory.create_batch(2, home_branch=world.branch_a)
    recompute_organization(world.acme)
    client = logged_in(persona(Role.MARKETER))
    body = client.get("/api/v1/groups/summary", {"scope": "all"}).json()
    assert body["counts"] == {"loyal": 0, "potential": 2, "low_value": 0, "negative": 0}
    assert (body["scope"], body["total"], body["flows_30_days"]) == ("all", 2, [])
    assert logged_in(persona(Role.RECEPTIONIST)).get("/api/v1/groups/summary").status_code == 404


def test_api_patient_profile(
    world: World, persona: Persona, logged_in: Login, outsider: User
) -> None:
    patient = PatientFactory(home_branch=world.branch_b)
    client = logged_in(persona(Role.RECEPTIONIST))
    url = f"/api/v1/groups/patients/{patient.pk}"
    assert client.get(url).status_code == 404  # not computed yet
    recompute_organization(world.acme)
    body = client.get(url).json()
    assert (body["group"], body["rule"], body["why"]) == (
        "potential",
        "potential.new",
        "No visit yet.",
    )
    assert (body["spend_total"], body["currency"]) == ("0", "VND")
    rival = PatientFactory(home_branch=world.rival_branch)
    recompute_organization(world.rival)
    assert client.get(f"/api/v1/groups/patients/{rival.pk}").status_code == 404
    outsider_client = Client()
    outsider_client.force_login(outsider)
    assert outsider_client.get(url).status_code == 404
    assert outsider_client.get(f"/api/v1/groups/patients/{rival.pk}").status_code == 200
