"""The treatment API at /api/v1/treatment: who may do what (every role, another branch,
another organisation), the answers, and bad input named by its field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from chairtime.accounts.services import create_api_token
from chairtime.clinical.models import ItemStatus, PerformedProcedure, PlanStatus, TreatmentPlan
from chairtime.clinical.services import ItemInput, create_plan
from chairtime.clinical.tests.clinic_world import (
    NOW,
    PNG,
    Clinic,
    counts,
    items_of,
    local,
    make_clinic,
)
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.tenancy.roles import Role
from tests.factories import make_doctor

URL = "/api/v1/treatment"
NOT_FOUND = {"detail": "Not found."}
INVALID = "The input is not valid."
VIEWERS = {Role.OWNER, Role.BRANCH_MANAGER, Role.DOCTOR, Role.NURSE, Role.CONSULTANT,
           Role.ANALYST}  # fmt: skip
EDITORS = {Role.OWNER, Role.BRANCH_MANAGER, Role.DOCTOR, Role.CONSULTANT}
BOOKERS = {Role.OWNER, Role.BRANCH_MANAGER, Role.DOCTOR, Role.RECEPTIONIST, Role.CONSULTANT}
LADDER_READERS = VIEWERS | {Role.MARKETER}


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    yield


@pytest.fixture
def clinic(world, persona) -> Clinic:
    return make_clinic(world, persona)


def client_for(user, branch=None) -> Client:
    _, secret = create_api_token(actor=user, name="Script")
    headers = {"Authorization": f"Bearer {secret}"}
    if branch is not None:
        headers["X-Branch"] = str(branch.pk)
    return Client(headers=headers)


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def refused(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 422, response.content
    assert response.json()["detail"] == INVALID
    errors: dict[str, list[str]] = response.json()["errors"]
    return errors


def plan_body(clinic: Clinic, **changes: Any) -> dict[str, Any]:
    body = {
        "title": "Fillings", "doctor": clinic.doctor.pk, "consultant": clinic.consultant.pk,
        "options": [{"label": "Fillings", "items": [
            {"procedure_id": clinic.filling.pk, "teeth": [16], "surfaces": "MO"},
            {"procedure_id": clinic.filling.pk, "teeth": [17], "discount": "100000",
             "discount_reason": "Second tooth"},
        ]}],
    }  # fmt: skip
    return {**body, **changes}


# --- authorization -------------------------------------------------------------------------
@pytest.mark.parametrize("role", list(Role))
def test_who_may_read_and_propose_plans(clinic, persona, role):
    plan = clinic.plan()
    api = client_for(persona(role), clinic.branch)
    reads = [
        api.get(f"{URL}/plans/{plan.pk}"),
        api.get(f"{URL}/patients/{clinic.patient.pk}/plans"),
        api.get(f"{URL}/unscheduled"),
        api.get(f"{URL}/patients/{clinic.patient.pk}/ladder"),
    ]
    assert [r.status_code for r in reads] == [200 if role in VIEWERS else 404] * 4
    ladder = api.get(f"{URL}/ladder?start=2030-01-01&end=2030-01-31")
    assert ladder.status_code == (200 if role in LADDER_READERS else 404)

    before = counts()
    created = post(api, f"{URL}/patients/{clinic.patient.pk}/plans", plan_body(clinic))
    assert created.status_code == (201 if role in EDITORS else 404)
    if role not in EDITORS:
        assert created.json() == NOT_FOUND
        assert counts() == before


@pytest.mark.parametrize("role", list(Role))
def test_who_may_change_accept_and_decline(clinic, persona, role):
    api = client_for(persona(role), clinic.branch)
    plan = clinic.plan()
    option = plan.options.get()
    item = items_of(plan)[0]
    allowed = role in EDITORS
    statuses = [
        post(api, f"{URL}/plans/{plan.pk}/options", {"label": "More"}).status_code,
        post(api, f"{URL}/plans/{plan.pk}/options/{option.pk}/items",
             {"procedure_id": clinic.crown.pk}).status_code,
        api.delete(f"{URL}/plans/{plan.pk}/items/{item.pk}").status_code,
        post(api, f"{URL}/plans/{plan.pk}/accept",
             {"option": option.pk, "method": "verbal", "witness": clinic.nurse.pk}).status_code,
        post(api, f"{URL}/plans/{plan.pk}/items/{items_of(plan)[1].pk}/cancel",
             {"reason": "No"}).status_code,
        post(api, f"{URL}/plans/{clinic.plan().pk}/decline", {"reason": "No"}).status_code,
    ]  # fmt: skip
    assert statuses == ([201, 201, 200, 200, 200, 200] if allowed else [404] * 6)


@pytest.mark.parametrize("role", list(Role))
def test_who_may_book_a_plan_item(clinic, persona, role):
    plan = clinic.accepted()
    item = items_of(plan)[0]
    api = client_for(persona(role), clinic.branch)
    response = post(
        api, f"{URL}/plans/{plan.pk}/items/{item.pk}/book",
        {"doctor": clinic.doctor.pk, "chair": clinic.chair.pk, "starts_at": "2030-01-08T09:00:00+07:00"},
    )  # fmt: skip
    assert response.status_code == (201 if role in BOOKERS else 404)
    item.refresh_from_db()
    assert item.status == (ItemStatus.SCHEDULED if role in BOOKERS else ItemStatus.PLANNED)


def test_another_branchs_plan_looks_missing(clinic, world, persona):
    doctor_b = make_doctor(world.branch_b)
    theirs = create_plan(
        actor=doctor_b, branch=world.branch_b, patient=clinic.patient, title="In B",
        doctor=doctor_b, options=[("One", [ItemInput(clinic.filling.pk, unit_price=Decimal("1"))])],
        now=NOW,
    )  # fmt: skip
    item = items_of(theirs)[0]
    doctor_a = client_for(clinic.doctor, clinic.branch)
    before = counts()
    responses = [
        doctor_a.get(f"{URL}/plans/{theirs.pk}"),
        post(doctor_a, f"{URL}/plans/{theirs.pk}/decline", {"reason": "No"}),
        doctor_a.delete(f"{URL}/plans/{theirs.pk}/items/{item.pk}"),
        post(doctor_a, f"{URL}/plans/{theirs.pk}/options", {"label": "More"}),
    ]
    assert [(r.status_code, r.json()) for r in responses] == [(404, NOT_FOUND)] * 4
    assert counts() == before
    assert (
        client_for(clinic.doctor, world.branch_b).get(f"{URL}/plans/{theirs.pk}").status_code == 404
    )
    # The owner, working in branch B, sees it; in branch A the same plan does not exist.
    owner = persona(Role.OWNER)
    assert client_for(owner, world.branch_b).get(f"{URL}/plans/{theirs.pk}").status_code == 200
    assert client_for(owner, clinic.branch).get(f"{URL}/plans/{theirs.pk}").status_code == 404
    # An item of one plan asked for through another plan is not found either.
    mine = clinic.plan()
    assert doctor_a.delete(f"{URL}/plans/{mine.pk}/items/{item.pk}").status_code == 404


def test_another_organisation_sees_nothing(clinic, outsider, world):
    plan = clinic.plan()
    for branch in (None, clinic.branch, world.rival_branch):
        rival = client_for(outsider, branch)
        assert rival.get(f"{URL}/plans/{plan.pk}").status_code == 404
        assert rival.get(f"{URL}/patients/{clinic.patient.pk}/plans").status_code == 404
        response = post(rival, f"{URL}/plans/{plan.pk}/decline", {"reason": "No"})
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert client_for(outsider, world.rival_branch).get(f"{URL}/unscheduled").json()["count"] == 0
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED


def test_refuses_without_credentials(clinic):
    plan = clinic.plan()
    assert Client().get(f"{URL}/plans/{plan.pk}").status_code == 401


# --- answers -----------------------------------------------------------------------------------
def test_proposes_and_shows_a_plan(clinic):
    api = client_for(clinic.consultant, clinic.branch)
    response = post(api, f"{URL}/patients/{clinic.patient.pk}/plans", plan_body(clinic))
    assert response.status_code == 201, response.content
    body = response.json()
    plan = TreatmentPlan.objects.get()
    first, second = items_of(plan)
    assert body == api.get(f"{URL}/plans/{plan.pk}").json()
    assert {k: body[k] for k in ("id", "status", "currency", "presented_at", "expires_on",
                                 "patient_name", "doctor_name")} == {
        "id": plan.pk, "status": "proposed", "currency": "VND",
        "presented_at": "2030-01-07T09:00:00+07:00", "expires_on": "2030-04-07",
        "patient_name": "Nguyễn Văn An", "doctor_name": "An Trần",
    }  # fmt: skip
    [option] = body["options"]
    assert {k: option[k] for k in ("label", "status", "subtotal", "discount", "total",
                                   "scheduled_value", "completed_value", "unscheduled_value")} == {
        "label": "Fillings", "status": "open", "subtotal": "1000000", "discount": "100000",
        "total": "900000", "scheduled_value": "0", "completed_value": "0",
        "unscheduled_value": "900000",
    }  # fmt: skip
    assert option["phases"] == [{
        "phase": 1, "total": "900000", "items": [
            {"id": first.pk, "phase": 1, "position": 1, "procedure_id": clinic.filling.pk,
             "procedure_code": "FILL", "procedure_name": "Fill", "teeth": [16], "surfaces": "MO",
             "quantity": 1, "unit_price": "500000", "discount": "0",
             "discount_reason": "", "amount": "500000", "status": "planned",
             "appointment_id": None},
            {"id": second.pk, "phase": 1, "position": 2, "procedure_id": clinic.filling.pk,
             "procedure_code": "FILL", "procedure_name": "Fill", "teeth": [17], "surfaces": "",
             "quantity": 1, "unit_price": "500000", "discount": "100000",
             "discount_reason": "Second tooth", "amount": "400000", "status": "planned",
             "appointment_id": None},
        ],
    }]  # fmt: skip
    listed = api.get(f"{URL}/patients/{clinic.patient.pk}/plans").json()
    assert [p["id"] for p in listed] == [plan.pk]


def test_accepts_with_a_signature(clinic):
    plan = clinic.plan([("A", clinic.fillings(16)), ("B", clinic.fillings(26))])
    b = plan.options.get(label="B")
    api = client_for(clinic.consultant, clinic.branch)
    response = post(api, f"{URL}/plans/{plan.pk}/accept",
                    {"option": b.pk, "method": "signature", "signature": PNG, "signed_name": "An"})  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["acceptance_method"], body["signed_name"]) == (
        "accepted", "signature", "An",
    )  # fmt: skip
    assert [(o["label"], o["status"]) for o in body["options"]] == [
        ("A", "declined"), ("B", "accepted"),
    ]  # fmt: skip


def test_books_an_item_answering_the_appointment(clinic):
    plan = clinic.accepted()
    item = items_of(plan)[0]
    api = client_for(clinic.receptionist, clinic.branch)
    response = post(
        api, f"{URL}/plans/{plan.pk}/items/{item.pk}/book",
        {"doctor": clinic.doctor.pk, "chair": clinic.chair.pk, "starts_at": "2030-01-08T09:00:00+07:00"},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["starts_at"], body["procedure_code"], body["patient_id"], body["status"]) == (
        "2030-01-08T09:00:00+07:00", "FILL", clinic.patient.pk, "booked",
    )  # fmt: skip
    again = post(
        api, f"{URL}/plans/{plan.pk}/items/{items_of(plan)[1].pk}/book",
        {"doctor": clinic.doctor.pk, "chair": clinic.chair.pk, "starts_at": "2030-01-08T09:00:00+07:00"},
    )  # fmt: skip
    assert again.status_code == 409


def test_lists_unscheduled_treatment(clinic):
    plan = clinic.accepted()
    api = client_for(clinic.doctor, clinic.branch)
    body = api.get(f"{URL}/unscheduled?min_value=1000000").json()
    assert (body["count"], body["total_value"], body["currency"]) == (1, "1000000", "VND")
    [row] = body["rows"]
    assert (row["plan_id"], row["patient_name"], row["value"], row["age_days"]) == (
        plan.pk, "Nguyễn Văn An", "1000000", 0,
    )  # fmt: skip
    assert [i["teeth"] for i in row["items"]] == [[16], [17]]
    assert api.get(f"{URL}/unscheduled?min_value=1000001").json()["count"] == 0
    assert refused(api.get(f"{URL}/unscheduled?min_age_days=-1")).keys() == {"min_age_days"}


def test_completes_a_visit_with_what_was_done(clinic):
    plan = clinic.accepted()
    first = items_of(plan)[0]
    visit = clinic.seated(local(7, 8, 30))
    api = client_for(clinic.doctor, clinic.branch)
    response = post(api, f"{URL}/visits/{visit.pk}/complete", {"performed": [
        {"procedure_id": clinic.filling.pk, "plan_item_id": first.pk},
        {"procedure_id": clinic.checkup.pk, "unit_price": "0", "chair_minutes": 5},
    ]})  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["appointment_id"], body["status"]) == (visit.pk, "completed")
    assert [(p["procedure_code"], p["plan_item_id"], p["teeth"], p["amount"], p["chair_minutes"],
             p["performed_at"]) for p in body["performed"]] == [
        ("FILL", first.pk, [16], "500000", 30, "2030-01-07T09:00:00+07:00"),
        ("CHECK", None, [], "0", 5, "2030-01-07T09:00:00+07:00"),
    ]  # fmt: skip
    ladder = api.get(f"{URL}/patients/{clinic.patient.pk}/ladder").json()
    assert (ladder["highest"]["tier"], [s["tier"] for s in ladder["steps"]]) == (
        "regular", ["regular"],
    )  # fmt: skip
    report = api.get(f"{URL}/ladder?start=2030-01-01&end=2030-01-31").json()
    assert (report["total_moves"], report["moves"]) == (
        1, [{"month": "2030-01-01", "from_tier": "", "to_tier": "regular", "patients": 1}],
    )  # fmt: skip


def test_the_appointment_books_complete_endpoint_records_production(clinic):
    visit = clinic.seated(local(7, 8, 30))
    api = client_for(clinic.receptionist, clinic.branch)
    response = post(api, f"/api/v1/appointments/{visit.pk}/complete")
    assert (response.status_code, response.json()["status"]) == (200, "completed")
    row = PerformedProcedure.objects.get()
    assert (row.appointment_id, row.procedure, row.amount, row.chair_minutes) == (
        visit.pk, clinic.filling, Decimal("500000"), 30,
    )  # fmt: skip


# --- bad input --------------------------------------------------------------------------------
def test_names_each_bad_field_of_a_new_plan(clinic):
    api = client_for(clinic.doctor, clinic.branch)
    body = plan_body(clinic, title="", options=[{"label": "A", "items": [
        {"procedure_id": clinic.filling.pk, "teeth": [19]},
        {"procedure_id": clinic.filling.pk, "discount": "600000", "discount_reason": "Friend"},
        {"procedure_id": clinic.filling.pk, "unit_price": "1.5"},
    ]}])  # fmt: skip
    before = counts()
    assert refused(post(api, f"{URL}/patients/{clinic.patient.pk}/plans", body)) == {
        "title": ["Give the plan a title."],
        "options.0.items.0.teeth": ["19 is not a tooth in FDI notation."],
        "options.0.items.1.discount": ["The discount (600000) is more than the price (500000)."],
        "options.0.items.2.unit_price": ["VND has no minor unit: give a whole amount."],
    }
    assert counts() == before


def test_names_staff_who_do_not_work_here_and_bad_shapes(clinic, world):
    api = client_for(clinic.doctor, clinic.branch)
    elsewhere = make_doctor(world.rival_branch)
    url = f"{URL}/patients/{clinic.patient.pk}/plans"
    assert refused(post(api, url, plan_body(clinic, doctor=elsewhere.pk))) == {
        "doctor": ["This person does not work in this branch."]
    }
    assert refused(post(api, url, plan_body(clinic, doctor=clinic.nurse.pk))) == {
        "doctor": ["This doctor does not work in this branch."]
    }
    shaped = refused(post(api, url, plan_body(clinic, options="many")))
    assert list(shaped) == ["options"]


def test_names_what_an_acceptance_lacks(clinic):
    plan = clinic.plan()
    option = plan.options.get()
    api = client_for(clinic.consultant, clinic.branch)
    url = f"{URL}/plans/{plan.pk}/accept"
    assert refused(
        post(api, url, {"option": option.pk, "method": "signature", "signature": PNG})
    ) == {"signed_name": ["Give the name of who signed."]}
    assert refused(post(api, url, {"option": 999999, "method": "verbal"})) == {
        "option": ["No such option in this plan."]
    }
    assert refused(post(api, f"{URL}/plans/{plan.pk}/decline", {"reason": ""})) == {
        "reason": ["Give the reason."]
    }
    plan.refresh_from_db()
    assert plan.status == PlanStatus.PROPOSED


def test_names_bad_performed_values_and_leaves_the_visit_seated(clinic):
    visit = clinic.seated(local(7, 8, 30))
    api = client_for(clinic.doctor, clinic.branch)
    response = post(api, f"{URL}/visits/{visit.pk}/complete", {"performed": [
        {"procedure_id": clinic.filling.pk, "teeth": [11, 19], "discount": "1"},
    ]})  # fmt: skip
    assert refused(response) == {"performed.0.teeth": ["19 is not a tooth in FDI notation."]}
    visit.refresh_from_db()
    assert (visit.status, PerformedProcedure.objects.count()) == (AppointmentStatus.SEATED, 0)


def test_refuses_a_ladder_period_that_ends_before_it_starts(clinic):
    api = client_for(clinic.doctor, clinic.branch)
    assert refused(api.get(f"{URL}/ladder?start=2030-02-01&end=2030-01-31")) == {
        "end": ["The end is before the start."]
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [("start=2030-01-01&end=9999-12-31", "end"), ("start=0001-01-01&end=2030-01-01", "start")],
)
def test_refuses_ladder_dates_out_of_reach_naming_them(clinic, query, field):
    api = client_for(clinic.doctor, clinic.branch)
    assert refused(api.get(f"{URL}/ladder?{query}")) == {
        field: ["Give a date between 1900 and 2999."]
    }


def test_refuses_a_plan_item_discount_without_its_reason_as_the_page_does(clinic):
    plan = clinic.plan()
    option = plan.options.get()
    api = client_for(clinic.consultant, clinic.branch)
    before = counts()
    response = post(api, f"{URL}/plans/{plan.pk}/options/{option.pk}/items", {
        "procedure_id": clinic.filling.pk, "teeth": [15], "discount": "100000",
    })  # fmt: skip
    assert refused(response) == {"discount_reason": ["Say why the discount is given."]}
    assert counts() == before


def test_another_branchs_plan_item_is_refused_like_a_missing_one(clinic, world):
    plan = clinic.accepted()
    item = items_of(plan)[0]
    # The same (organisation-wide) patient's plan, made in branch B.
    TreatmentPlan.objects.filter(pk=plan.pk).update(branch=world.branch_b)
    visit = clinic.seated(local(7, 8, 30))
    api = client_for(clinic.doctor, clinic.branch)

    def complete(plan_item_id: int) -> Any:
        return post(api, f"{URL}/visits/{visit.pk}/complete", {"performed": [
            {"procedure_id": clinic.filling.pk, "plan_item_id": plan_item_id},
        ]})  # fmt: skip

    elsewhere, missing = refused(complete(item.pk)), refused(complete(999_999))
    assert (
        elsewhere
        == missing
        == {"performed.0.plan_item_id": ["No such plan item for this patient."]}
    )
    assert PerformedProcedure.objects.count() == 0


def test_the_front_desk_completes_a_visit_only_at_the_agreed_price(clinic):
    visit = clinic.seated(local(7, 8, 30))
    api = client_for(clinic.receptionist, clinic.branch)
    url = f"{URL}/visits/{visit.pk}/complete"

    response = post(api, url, {"performed": [
        {"procedure_id": clinic.filling.pk, "unit_price": "1"},
        {"procedure_id": clinic.checkup.pk, "discount": "200000"},
    ]})  # fmt: skip

    assert refused(response) == {
        "performed.0.unit_price": ["You may not change the price of a procedure: leave it empty."],
        "performed.1.discount": ["You may not give or change a discount: leave it empty."],
    }
    visit.refresh_from_db()
    assert (visit.status, PerformedProcedure.objects.count()) == (AppointmentStatus.SEATED, 0)
    agreed = post(api, url, {"performed": [
        {"procedure_id": clinic.filling.pk, "unit_price": "500000", "discount": "0"},
    ]})  # fmt: skip
    assert (agreed.status_code, agreed.json()["performed"][0]["amount"]) == (200, "500000")


def test_an_expired_plan_cannot_be_accepted_through_the_api(clinic, world):
    plan = clinic.plan(now=local(1, 9, month=10, year=2029))  # expired on 30 Dec 2029
    option = plan.options.get()
    api = client_for(clinic.consultant, clinic.branch)
    response = post(
        api, f"{URL}/plans/{plan.pk}/accept",
        {"option": option.pk, "method": "verbal", "witness": clinic.nurse.pk},
    )  # fmt: skip
    assert refused(response) == {"status": ["This plan expired on 2029-12-30."]}


def test_amounts_are_strings_never_json_numbers(clinic):
    """A JSON number passes through a float (500000.0000000000001 reads as 500000): refused,
    as billing's API refuses it; a string that is not a number is named too."""
    api = client_for(clinic.doctor, clinic.branch)
    url = f"{URL}/patients/{clinic.patient.pk}/plans"
    before = counts()
    as_number = plan_body(clinic, options=[{"label": "A", "items": [
        {"procedure_id": clinic.filling.pk, "unit_price": 500000.0000000000001},
    ]}])  # fmt: skip
    assert list(refused(post(api, url, as_number))) == ["options.0.items.0.unit_price"]
    as_words = plan_body(clinic, options=[{"label": "A", "items": [
        {"procedure_id": clinic.filling.pk, "unit_price": "five hundred"},
    ]}])  # fmt: skip
    assert refused(post(api, url, as_words)) == {
        "options.0.items.0.unit_price": ["Give the amount as a number, e.g. 150000 or 12.50."]
    }
    assert counts() == before
