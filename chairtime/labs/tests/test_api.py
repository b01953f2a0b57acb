"""The lab API: the same capabilities, services and messages as the pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chairtime.labs.models import LabCase
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory

from .helpers import appointment, local, make_case, make_lab, plan_item

pytestmark = pytest.mark.django_db
URL = "/api/v1/labs"


@pytest.fixture
def api(logged_in, world):
    def call(user, method, path, body=None, **params):
        client = logged_in(user)
        headers = {"X-Branch": str(world.branch_a.pk)}
        send = getattr(client, method)
        if body is None:
            return send(URL + path, params or None, headers=headers)
        return send(
            URL + path, data=json.dumps(body), content_type="application/json", headers=headers
        )

    return call


@pytest.fixture
def lab(world):
    return make_lab(world.acme, "Smile Lab")


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [(Role.OWNER, 200, 201), (Role.RECEPTIONIST, 200, 201), (Role.NURSE, 200, 201),
     (Role.ANALYST, 200, 404), (Role.MARKETER, 404, 404)],
)  # fmt: skip
def test_capability_matrix(api, persona, world, lab, role, read, write):
    user = persona(role)
    patient = PatientFactory(home_branch=world.branch_a)
    case = make_case(world.branch_a, patient, lab)

    got = (
        api(user, "get", "/cases").status_code,
        api(user, "get", f"/cases/{case.pk}").status_code,
        api(user, "get", "/overdue").status_code,
        api(
            user, "post", "/cases", {"patient_id": patient.pk, "lab_id": lab.pk, "kind": "crown"}
        ).status_code,
    )

    assert got == (read, read, read, write)


def test_order_step_and_list(api, persona, world, lab):
    owner = persona(Role.OWNER)
    patient = PatientFactory(home_branch=world.branch_a)
    visit = appointment(world.branch_a, patient, local(timezone.localdate() + timedelta(days=9), 9))

    made = api(owner, "post", "/cases", {
        "patient_id": patient.pk, "lab_id": lab.pk, "kind": "crown", "teeth": [36],
        "appointment_id": visit.pk,
    })  # fmt: skip
    case_id = made.json()["id"]
    never_sent = api(owner, "post", f"/cases/{case_id}/steps", {"step": "receive"})
    sent = api(owner, "post", f"/cases/{case_id}/steps", {"step": "send"})
    listed = api(owner, "get", "/cases", status="sent", appointment=visit.pk)

    assert made.status_code == 201
    assert (made.json()["status"], made.json()["teeth"], made.json()["appointment_id"]) == (
        "ordered",
        [36],
        visit.pk,
    )
    assert never_sent.status_code == 422
    assert never_sent.json()["errors"] == {
        "step": ["This case was never sent: mark it sent to the lab before receiving it."]
    }
    assert (sent.status_code, sent.json()["status"]) == (200, "sent")
    assert [row["id"] for row in listed.json()] == [case_id]


def test_refuses_an_appointment_of_another_branch_naming_the_field(api, persona, world, lab):
    owner = persona(Role.OWNER)
    patient = PatientFactory(home_branch=world.branch_a)
    elsewhere = appointment(world.branch_b, patient, local(timezone.localdate(), 9))

    response = api(owner, "post", "/cases", {
        "patient_id": patient.pk, "lab_id": lab.pk, "kind": "crown", "appointment_id": elsewhere.pk,
    })  # fmt: skip

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "appointment_id": [
            f"This appointment is in another branch ({world.branch_b.name}): order the case there."
        ]
    }
    assert LabCase.objects.count() == 0


def test_errors_name_the_payload_fields(api, persona, world, lab):
    receptionist = persona(Role.RECEPTIONIST)  # branch A only: branch B's book is not theirs
    patient = PatientFactory(home_branch=world.branch_a)
    elsewhere = appointment(world.branch_b, patient, local(timezone.localdate(), 9))
    other_item = plan_item(world.branch_a, PatientFactory(home_branch=world.branch_a))
    inactive = make_lab(world.acme, "Old Lab", is_active=False)
    today = timezone.localdate(timezone=world.branch_a.zone).isoformat()

    response = api(receptionist, "post", "/cases", {
        "patient_id": patient.pk, "lab_id": inactive.pk, "kind": "crown",
        "appointment_id": elsewhere.pk, "plan_item_id": other_item.pk, "due_on": "2000-01-01",
    })  # fmt: skip

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "lab_id": ["Old Lab is no longer active: choose another lab."],
        "due_on": [f"The due date cannot be before {today}, when the case was ordered."],
        "appointment_id": ["No such appointment."],
        "plan_item_id": ["This plan item is in another patient's plan."],
    }
    assert LabCase.objects.count() == 0


def test_another_branchs_or_organisations_case_is_not_found(api, persona, world, lab):
    receptionist = persona(Role.RECEPTIONIST)
    ours_elsewhere = make_case(world.branch_b, PatientFactory(home_branch=world.branch_b), lab)
    rival = make_case(
        world.rival_branch, PatientFactory(home_branch=world.rival_branch),
        make_lab(world.rival, "Rival Lab"),
    )  # fmt: skip

    got = [
        (
            api(receptionist, "get", f"/cases/{case.pk}").status_code,
            api(receptionist, "post", f"/cases/{case.pk}/steps", {"step": "receive"}).status_code,
        )
        for case in (ours_elsewhere, rival)
    ]

    assert got == [(404, 404), (404, 404)]
    assert set(LabCase.objects.values_list("status", flat=True)) == {"sent"}


def test_overdue_per_lab_and_labs_list(api, persona, world, lab):
    owner = persona(Role.OWNER)
    patient = PatientFactory(home_branch=world.branch_a)
    today = timezone.localdate(timezone=world.branch_a.zone)
    late = make_case(world.branch_a, patient, lab, status="sent", due_on=today - timedelta(days=1))

    overdue = api(owner, "get", "/overdue").json()
    labs = api(owner, "get", "/labs").json()

    assert [(r["lab_name"], r["count"], [c["id"] for c in r["cases"]]) for r in overdue] == [
        ("Smile Lab", 1, [late.pk])
    ]
    assert overdue[0]["cases"][0]["is_overdue"] is True
    assert [(r["name"], r["default_turnaround_days"]) for r in labs] == [("Smile Lab", 7)]
