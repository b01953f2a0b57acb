"""The lab API: the same capabilities, services and messages as the pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chairtime.labs.models import LabCase
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory

from .helpers import appointment, local, make_case, make_lab

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
    assert list(response.json()["errors"]) == ["appointment"]
    assert LabCase.objects.count() == 0


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
