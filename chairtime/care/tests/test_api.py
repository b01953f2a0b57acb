"""The care API: the same capabilities, validators and messages as the pages."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chairtime.audit.models import AuditEvent
from chairtime.care.choices import TaskStatus
from chairtime.care.models import CareRule, CareTask, TaskAttempt
from chairtime.care.rules import add_months
from chairtime.tenancy.roles import Role
from tests.factories import MembershipFactory, PatientFactory, UserFactory, make_doctor

from .helpers import done_on, make_task, procedure, profile

pytestmark = pytest.mark.django_db
URL = "/api/v1/care"


@pytest.fixture
def api(logged_in, world):
    def call(user, method, path, body=None, branch=None, **params):
        client = logged_in(user)
        headers = {"X-Branch": str(branch or world.branch_a.pk)}
        send = getattr(client, method)
        if body is None:
            return send(URL + path, params or None, headers=headers)
        return send(
            URL + path, data=json.dumps(body), content_type="application/json", headers=headers
        )

    return call


@pytest.fixture
def task(world):
    patient = PatientFactory(home_branch=world.branch_a, given_name="Api")
    return make_task(world.branch_a, patient, due_at=timezone.now() - timedelta(days=3))


@pytest.mark.parametrize(
    ("role", "read", "write", "configure"),
    [
        (Role.OWNER, 200, 201, 200),
        (Role.RECEPTIONIST, 200, 201, 404),
        (Role.NURSE, 200, 404, 404),
        (Role.MARKETER, 404, 404, 404),
    ],
)
def test_capability_matrix(api, persona, task, role, read, write, configure):
    user = persona(role)

    got = (
        api(user, "get", "/tasks").status_code,
        api(user, "get", f"/tasks/{task.pk}").status_code,
        api(user, "get", "/recall").status_code,
        api(user, "get", "/overdue").status_code,
        api(user, "get", "/rules").status_code,
        api(user, "patch", "/rules/birthday", {"max_attempts": 2}).status_code,
        api(user, "post", f"/tasks/{task.pk}/attempts", {"outcome": "reached"}).status_code,
    )

    assert got == (read, read, read, read, configure, configure, write)
    assert CareTask.objects.get(pk=task.pk).attempts == (1 if write == 201 else 0)


def test_another_branch_or_organisation_is_not_found(api, world, task, outsider):
    b_only = UserFactory()
    MembershipFactory(user=b_only, branch=world.branch_b, role=Role.RECEPTIONIST)

    assert api(b_only, "get", f"/tasks/{task.pk}", branch=world.branch_b.pk).status_code == 404
    assert api(b_only, "get", "/tasks", branch=world.branch_a.pk).status_code == 404
    assert (
        api(outsider, "get", f"/tasks/{task.pk}", branch=world.rival_branch.pk).status_code == 404
    )
    response = api(b_only, "post", f"/tasks/{task.pk}/attempts", {"outcome": "reached"},
                   branch=world.branch_b.pk)  # fmt: skip
    assert response.status_code == 404
    assert CareTask.objects.get(pk=task.pk).attempts == 0


def test_list_detail_and_a_call(api, persona, task):
    receptionist = persona(Role.RECEPTIONIST)

    listed = api(receptionist, "get", "/tasks", overdue="true").json()
    made = api(receptionist, "post", f"/tasks/{task.pk}/attempts",
               {"outcome": "no_answer", "note": "Voicemail.", "expected_attempts": 0})  # fmt: skip

    assert [(t["id"], t["is_overdue"], t["patient_name"]) for t in listed] == [
        (task.pk, True, "Nguyễn Api")
    ]
    body = made.json()
    assert made.status_code == 201
    assert (body["status"], body["attempts"], body["outcome"]) == ("open", 1, "no_answer")
    assert [(c["number"], c["outcome"], c["note"], c["by_id"]) for c in body["calls"]] == [
        (1, "no_answer", "Voicemail.", receptionist.pk)
    ]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"outcome": "maybe"}, {"outcome": ["Choose one of the listed outcomes."]}),
        ({"outcome": "reached", "note": "x" * 501},
         {"note": ["Keep the note under 500 characters (it has 501)."]}),
        ({}, {"outcome": ["Field required"]}),
    ],
)  # fmt: skip
def test_bad_calls_are_refused_naming_the_field(api, persona, task, body, errors):
    response = api(persona(Role.RECEPTIONIST), "post", f"/tasks/{task.pk}/attempts", body)

    assert (response.status_code, response.json()["errors"]) == (422, errors)
    assert not TaskAttempt.objects.exists()
    assert not AuditEvent.objects.filter(object_type="care.caretask").exists()


def test_a_call_on_a_closed_task_and_a_stale_count(api, persona, task):
    user = persona(Role.RECEPTIONIST)
    api(user, "post", f"/tasks/{task.pk}/attempts", {"outcome": "no_answer"})

    stale = api(user, "post", f"/tasks/{task.pk}/attempts",
                {"outcome": "reached", "expected_attempts": 0})  # fmt: skip
    api(user, "post", f"/tasks/{task.pk}/attempts", {"outcome": "reached"})
    closed = api(user, "post", f"/tasks/{task.pk}/attempts", {"outcome": "booked"})

    assert (stale.status_code, stale.json()["errors"]) == (409, {"task": [
        "Someone recorded a call on this task meanwhile; look at it again first."]})  # fmt: skip
    assert (closed.status_code, closed.json()["errors"]) == (422, {"task": [
        "This task is already closed (Done): no call can be added."]})  # fmt: skip
    fresh = CareTask.objects.get(pk=task.pk)
    assert (fresh.status, fresh.attempts, fresh.outcome) == (TaskStatus.DONE, 2, "reached")


def test_task_filters_use_the_pages_validator(api, persona, task):
    response = api(persona(Role.RECEPTIONIST), "get", "/tasks", kind="horoscope")

    assert response.status_code == 422
    assert response.json()["errors"] == {
        "kind": ["Select a valid choice. horoscope is not one of the available choices."]
    }


def test_recall_list_with_filters_and_bad_dates(api, persona, world):
    doctor = make_doctor(world.branch_a)
    scale = procedure(world.acme, "SCALE", "hygiene", recall=6)
    patient = PatientFactory(home_branch=world.branch_a, given_name="Recall")
    last = timezone.localdate(timezone.now(), world.branch_a.zone) - timedelta(days=170)
    done_on(world.branch_a, patient, doctor, last, scale)
    profile(patient, recall_due_on=add_months(last, 6), last_visit_on=last)
    user = persona(Role.RECEPTIONIST)

    found = api(user, "get", "/recall").json()
    by_other_doctor = api(user, "get", "/recall", doctor=make_doctor(world.branch_a).pk).json()
    bad = api(user, "get", "/recall", due_from="2030-13-01")
    elsewhere = api(user, "get", "/recall", branch=world.branch_b.pk)

    assert (found["count"], [r["patient_id"] for r in found["rows"]]) == (1, [patient.pk])
    row = found["rows"][0]
    assert (row["due_on"], row["procedure_code"], row["doctor_id"], row["attempts"]) == (
        add_months(last, 6).isoformat(), "SCALE", doctor.pk, 0,
    )  # fmt: skip
    assert row["book_url"] == (
        f"/scheduling/book/?patient={patient.pk}&procedure={scale.pk}&doctor={doctor.pk}"
    )
    assert by_other_doctor["count"] == 0
    assert (bad.status_code, bad.json()["errors"]) == (422, {"due_from": ["Enter a valid date."]})
    assert elsewhere.status_code == 404


def test_rules_read_and_change_with_the_services_checks(api, persona, world):
    owner = persona(Role.OWNER)

    rules = api(owner, "get", "/rules").json()
    changed = api(owner, "patch", "/rules/post_treatment_day7",
                  {"categories": ["implant", "surgery"], "cool_off_days": 4})  # fmt: skip
    refused = api(owner, "patch", "/rules/birthday",
                  {"categories": ["implant"], "offset": 400, "assign_role": "pilot"})  # fmt: skip
    unknown = api(owner, "patch", "/rules/horoscope", {"max_attempts": 2})

    assert [r["kind"] for r in rules][:2] == ["post_treatment_day1", "post_treatment_day7"]
    assert (changed.status_code, changed.json()["categories"], changed.json()["cool_off_days"]) == (
        200, ["implant", "surgery"], 4,
    )  # fmt: skip
    assert (refused.status_code, refused.json()["errors"]) == (422, {
        "categories": ["This kind of task applies to every patient, not to categories."],
        "offset": ["Enter a number from 0 to 365."],
        "assign_role": ["Choose one of the listed roles."],
    })  # fmt: skip
    assert unknown.status_code == 404
    assert CareRule.objects.get(organization=world.acme, kind="birthday").max_attempts == 1
