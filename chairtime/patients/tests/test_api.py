"""The patient API at /api/v1/patients: authentication, tenancy, validation, audit."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.accounts.services import create_api_token
from chairtime.audit.models import AuditEvent
from chairtime.patients.models import Consent, Patient
from chairtime.patients.services import PatientData, PhoneData, create_patient
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory

LIST_URL = "/api/v1/patients"
NOT_FOUND = {"detail": "Not found."}


def detail_url(patient_id: int) -> str:
    return f"/api/v1/patients/{patient_id}"


@pytest.fixture
def receptionist(persona: Callable[[Role], User]) -> User:
    """Works in branch A only."""
    return persona(Role.RECEPTIONIST)


@pytest.fixture
def api(receptionist: User) -> Client:
    """A script calling the API with the receptionist's bearer token."""
    _, secret = create_api_token(actor=receptionist, name="Import script")
    return Client(headers={"Authorization": f"Bearer {secret}"})


@pytest.fixture
def patient(world: World, receptionist: User) -> Patient:
    return create_patient(
        actor=receptionist,
        data=PatientData(
            family_name="Nguyễn", given_name="Văn An", name_order="family_first",
            home_branch=world.branch_a, email="an@example.com", notes="Nervous",
            phones=[PhoneData("+84912345678")],
        ),
    )  # fmt: skip


def counts() -> tuple[int, int]:
    return Patient.objects.count(), AuditEvent.objects.count()


def post_json(client: Client, url: str, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def patch_json(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json")


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [("get", LIST_URL), ("get", "/api/v1/patients/1"), ("patch", "/api/v1/patients/1")],
)
def test_refuses_a_request_without_credentials(world: World, method: str, url: str) -> None:
    response = getattr(Client(), method)(url)
    assert response.status_code == 401
    assert response.json() == {"detail": "Log in or send a valid API token."}


def test_refuses_a_creation_without_credentials(world: World) -> None:
    before = counts()
    response = post_json(Client(), LIST_URL, {"family_name": "Nguyễn"})
    assert response.status_code == 401
    assert counts() == before


def test_refuses_an_unknown_bearer_token(world: World, patient: Patient) -> None:
    client = Client(headers={"Authorization": "Bearer ct_not-a-real-token"})
    response = client.get(LIST_URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "Log in or send a valid API token."}


def test_accepts_a_bearer_token(world: World, api: Client, patient: Patient) -> None:
    response = api.get(LIST_URL)
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_refuses_a_revoked_token(world: World, receptionist: User, patient: Patient) -> None:
    token, secret = create_api_token(actor=receptionist, name="Old script")
    token.revoked_at = token.created_at
    token.save(update_fields=["revoked_at"])
    response = Client(headers={"Authorization": f"Bearer {secret}"}).get(LIST_URL)
    assert response.status_code == 401


def test_session_post_without_csrf_token_is_refused(world: World, receptionist: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(receptionist)
    before = counts()
    response = post_json(browser, LIST_URL, {"family_name": "Nguyễn"})
    assert response.status_code == 403
    assert counts() == before


def test_session_post_with_csrf_token_is_accepted(world: World, receptionist: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(receptionist)
    assert browser.get(reverse("patients:patient_create")).status_code == 200  # sets the cookie
    token = browser.cookies["csrftoken"].value
    response = post_json(browser, LIST_URL, {"family_name": "Nguyễn"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201
    assert Patient.objects.get().family_name == "Nguyễn"


def test_session_get_needs_no_csrf_token(
    world: World, receptionist: User, patient: Patient
) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(receptionist)
    response = browser.get(LIST_URL)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [patient.pk]


# --- create --------------------------------------------------------------------------------


def test_creates_a_patient_and_returns_it(world: World, api: Client, receptionist: User) -> None:
    response = post_json(
        api,
        LIST_URL,
        {
            "family_name": "Nguyễn", "given_name": "Văn An", "birth_date": "1990-05-01",
            "phone": "0912 345 678", "email": "an@example.com", "zalo_id": "0912345678",
            "consent_service": ["sms"], "consent_origin": "verbal",
        },
    )  # fmt: skip

    assert response.status_code == 201
    patient = Patient.objects.get()
    consent = Consent.objects.get()
    assert response.json() == {
        "id": patient.pk,
        "number": "P000001",
        "display_name": "Nguyễn Văn An",
        "birth_date": "1990-05-01",
        "home_branch_id": world.branch_a.pk,
        "status": "active",
        "family_name": "Nguyễn",
        "given_name": "Văn An",
        "name_order": "family_first",
        "sex": "unknown",
        "email": "an@example.com",
        "phones": [{"number": "+84912345678", "kind": "mobile", "is_primary": True}],
        "chat_ids": {"zalo": "0912345678"},
        "preferred_language": "",
        "preferred_doctor_id": None,
        "preferred_times": [],
        "source_channel_id": None,
        "referred_by_patient_id": None,
        "referred_by_staff_id": None,
        "referrer_external": "",
        "tags": [],
        "notes": "",
        "consents": [
            {
                "channel": "sms",
                "purpose": "service",
                "is_granted": True,
                "origin": "verbal",
                "recorded_at": DjangoJSONEncoder().default(consent.recorded_at),
            }
        ],
    }
    assert (consent.recorded_by_id, patient.organization_id) == (receptionist.pk, world.acme.pk)
    assert list(
        AuditEvent.objects.filter(patient_id=patient.pk)
        .order_by("id")
        .values_list("action", "object_type")
    ) == [("create", "patients.patient"), ("create", "patients.consent")]


def test_refuses_a_bad_phone_with_the_field_error_and_saves_nothing(
    world: World, api: Client
) -> None:
    before = counts()
    response = post_json(api, LIST_URL, {"family_name": "Nguyễn", "phone": "12345"})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "The input is not valid.",
        "errors": {
            "phone": ["“12345” is not a valid phone number. Write it like +84 912 345 678."]
        },
    }
    assert counts() == before


def test_refuses_a_body_without_family_name(world: World, api: Client) -> None:
    before = counts()
    response = post_json(api, LIST_URL, {"given_name": "An"})
    assert response.status_code == 422
    assert list(response.json()["errors"]) == ["family_name"]
    assert counts() == before


def test_refuses_creation_to_a_role_without_the_capability(
    world: World, persona: Callable[[Role], User]
) -> None:
    _, secret = create_api_token(actor=persona(Role.NURSE), name="Nurse script")
    before = counts()
    response = post_json(
        Client(headers={"Authorization": f"Bearer {secret}"}), LIST_URL, {"family_name": "Lê"}
    )
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    assert counts() == before


# --- detail --------------------------------------------------------------------------------


def test_detail_records_a_view_event(
    world: World, api: Client, receptionist: User, patient: Patient
) -> None:
    before = AuditEvent.objects.count()
    response = api.get(detail_url(patient.pk), REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200
    assert response.json()["display_name"] == "Nguyễn Văn An"
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert (
        event.action, event.actor_id, event.patient_id, event.branch_id, event.organization_id,
        event.ip_address,
    ) == (
        "view", receptionist.pk, patient.pk, world.branch_a.pk, world.acme.pk, "198.51.100.7",
    )  # fmt: skip


def test_another_organisation_patient_looks_exactly_like_a_missing_one(
    world: World, api: Client
) -> None:
    stranger = PatientFactory(home_branch=world.rival_branch)
    missing_id = stranger.pk + 1000
    before = AuditEvent.objects.count()

    forbidden = api.get(detail_url(stranger.pk))
    missing = api.get(detail_url(missing_id))

    assert (forbidden.status_code, missing.status_code) == (404, 404)
    assert forbidden.content == missing.content
    assert forbidden.json() == NOT_FOUND
    assert AuditEvent.objects.count() == before


def test_another_organisation_patient_cannot_be_changed(world: World, api: Client) -> None:
    stranger = PatientFactory(home_branch=world.rival_branch, notes="")
    response = patch_json(api, detail_url(stranger.pk), {"notes": "Hacked"})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND
    stranger.refresh_from_db()
    assert stranger.notes == ""


@pytest.mark.parametrize("branch_name", ["branch_b", "rival_branch"])
def test_a_branch_header_for_a_branch_the_user_is_not_in_is_not_found(
    world: World, api: Client, patient: Patient, branch_name: str
) -> None:
    branch = getattr(world, branch_name)
    for response in (
        api.get(LIST_URL, headers={"X-Branch": str(branch.pk)}),
        api.get(detail_url(patient.pk), headers={"X-Branch": str(branch.pk)}),
    ):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND


def test_a_branch_header_for_the_user_branch_is_used(
    world: World, api: Client, patient: Patient
) -> None:
    response = api.get(LIST_URL, headers={"X-Branch": str(world.branch_a.pk)})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [patient.pk]


# --- update --------------------------------------------------------------------------------


def test_patch_changes_only_the_given_fields(
    world: World, api: Client, receptionist: User, patient: Patient
) -> None:
    before = api.get(detail_url(patient.pk)).json()

    response = patch_json(api, detail_url(patient.pk), {"notes": "Prefers mornings"})

    assert response.status_code == 200
    assert response.json() == {**before, "notes": "Prefers mornings"}
    event = AuditEvent.objects.get(action="update")
    assert (event.actor_id, event.patient_id) == (receptionist.pk, patient.pk)
    assert event.changes == {"notes": ["Nervous", "Prefers mornings"]}
    patient.refresh_from_db()
    assert (patient.notes, patient.email, patient.display_name) == (
        "Prefers mornings", "an@example.com", "Nguyễn Văn An",
    )  # fmt: skip
    assert list(patient.phones.values_list("number", flat=True)) == ["+84912345678"]


def test_patch_with_a_bad_phone_changes_nothing(
    world: World, api: Client, patient: Patient
) -> None:
    before = counts()
    response = patch_json(api, detail_url(patient.pk), {"phone": "abc", "notes": "New"})
    assert response.status_code == 422
    assert response.json()["errors"] == {
        "phone": ["“abc” is not a valid phone number. Write it like +84 912 345 678."]
    }
    patient.refresh_from_db()
    assert patient.notes == "Nervous"
    assert list(patient.phones.values_list("number", flat=True)) == ["+84912345678"]
    assert counts() == before


# --- list ----------------------------------------------------------------------------------


@pytest.fixture
def register(world: World) -> list[Patient]:
    """Four acme patients in branch A, one in branch B, one rival with the same name."""
    made = [
        PatientFactory(
            home_branch=world.branch_a, number=f"P00000{index}", family_name="Nguyễn",
            given_name=given, display_name=f"Nguyễn {given}",
        )
        for index, given in enumerate(["Văn An", "Thị Bình", "Văn Cường", "Thị Dung"], start=1)
    ]  # fmt: skip
    made.append(
        PatientFactory(
            home_branch=world.branch_b, number="P000005", family_name="Trần",
            given_name="Văn Em", display_name="Trần Văn Em", phone="+84912345678",
        )
    )  # fmt: skip
    made.append(PatientFactory(home_branch=world.rival_branch, family_name="Nguyễn"))
    return made


def test_list_searches_with_q_and_pages_with_limit_and_offset(
    world: World, api: Client, register: list[Patient]
) -> None:
    response = api.get(LIST_URL, {"q": "nguyen", "limit": 2, "offset": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    # In name order: Bình, Dung, An, Cường; the second page of two starts at Dung.
    assert [(item["number"], item["display_name"]) for item in body["items"]] == [
        ("P000004", "Nguyễn Thị Dung"),
        ("P000001", "Nguyễn Văn An"),
    ]
    assert body["items"][0] == {
        "id": register[3].pk,
        "number": "P000004",
        "display_name": "Nguyễn Thị Dung",
        "birth_date": None,
        "home_branch_id": world.branch_a.pk,
        "status": "active",
    }


def test_list_covers_the_organisation_with_scope_all(
    world: World, api: Client, register: list[Patient]
) -> None:
    branch_only = api.get(LIST_URL, {"q": "van"}).json()
    everywhere = api.get(LIST_URL, {"q": "van", "scope": "all"}).json()
    by_phone = api.get(LIST_URL, {"q": "0912 345 678", "scope": "all"}).json()
    assert [item["number"] for item in branch_only["items"]] == ["P000001", "P000003"]
    assert [item["number"] for item in everywhere["items"]] == ["P000001", "P000003", "P000005"]
    assert [item["number"] for item in by_phone["items"]] == ["P000005"]


# --- the document --------------------------------------------------------------------------


def test_openapi_document_lists_the_patient_paths(world: World) -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert sorted(paths["/api/v1/patients"]) == ["get", "post"]
    assert sorted(paths["/api/v1/patients/{patient_id}"]) == ["get", "patch"]
    assert paths["/api/v1/patients"]["post"]["summary"] == "Register a patient"
