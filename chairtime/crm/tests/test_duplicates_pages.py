"""Duplicate pages and API: who may see and merge (forbidden looks like missing), the
merge from the side-by-side page, and merged records gone from lists and searches."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.crm.duplicates.services import merge_patients
from chairtime.crm.models import PatientMerge
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from conftest import World
from tests.factories import AppointmentFactory, PatientFactory

API = "/api/v1/duplicates"
NOT_FOUND = {"detail": "Not found."}
Login = Callable[[User], Client]


@pytest.fixture
def twins(world: World) -> tuple[Patient, Patient]:
    born = date(1990, 5, 17)
    first = PatientFactory(
        home_branch=world.branch_a, family_name="Nguyễn", given_name="Văn An",
        birth_date=born, phone="+84912345678",
    )  # fmt: skip
    second = PatientFactory(
        home_branch=world.branch_a, family_name="NGUYEN", given_name="van an", birth_date=born
    )
    return first, second


def _merge(
    world: World, persona: Callable[[Role], User], keep: Patient, lose: Patient
) -> PatientMerge:
    return merge_patients(actor=persona(Role.OWNER), survivor=keep, merged=lose, reason="Same")


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_pages_and_api_open_exactly_for_patient_merge(
    role: Role, world: World, persona: Callable[[Role], User], logged_in: Login,
    twins: tuple[Patient, Patient],
) -> None:  # fmt: skip
    merge = _merge(world, persona, *twins)
    client = logged_in(persona(role))
    allowed = Capability.PATIENT_MERGE in ROLE_CAPABILITIES[role]
    expected = 200 if allowed else 404

    urls = [
        reverse("crm:duplicate_list"),
        reverse("crm:merge_confirm") + f"?a={twins[0].pk}&b={twins[1].pk}",
        reverse("crm:merge_detail", kwargs={"merge_id": merge.pk}),
        f"{API}/candidates",
        f"{API}/merges/{merge.pk}",
    ]
    assert [client.get(url).status_code for url in urls] == [expected] * len(urls)


def test_duplicate_list_shows_the_pair_and_why(
    world: World, persona: Callable[[Role], User], logged_in: Login, twins: tuple[Patient, Patient]
) -> None:
    html = (
        logged_in(persona(Role.BRANCH_MANAGER)).get(reverse("crm:duplicate_list")).content.decode()
    )

    assert "Same name and birth date" in html
    assert f"?a={twins[0].pk}&amp;b={twins[1].pk}" in html


def test_merge_from_the_page_then_explain_it(
    world: World, persona: Callable[[Role], User], logged_in: Login, twins: tuple[Patient, Patient]
) -> None:
    first, second = twins
    AppointmentFactory(branch=world.branch_a, patient=first)
    client = logged_in(persona(Role.OWNER))
    page = client.get(reverse("crm:merge_confirm") + f"?a={first.pk}&b={second.pk}")
    assert "+84912345678" in page.content.decode()

    response = client.post(
        reverse("crm:merge_confirm"),
        {"a": first.pk, "b": second.pk, "survivor": second.pk, "reason": "Registered twice"},
    )

    merge = PatientMerge.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:merge_detail", kwargs={"merge_id": merge.pk})
    assert (merge.survivor_id, merge.merged_id, merge.reason) == (
        second.pk,
        first.pk,
        "Registered twice",
    )
    html = client.get(response["Location"]).content.decode()
    assert "1 appointment moved to the surviving record." in html
    assert "1 patient phone moved to the surviving record." in html


def test_merge_page_refuses_a_missing_reason_and_changes_nothing(
    world: World, persona: Callable[[Role], User], logged_in: Login, twins: tuple[Patient, Patient]
) -> None:
    first, second = twins
    response = logged_in(persona(Role.OWNER)).post(
        reverse("crm:merge_confirm"),
        {"a": first.pk, "b": second.pk, "survivor": first.pk, "reason": ""},
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert PatientMerge.objects.count() == 0
    assert set(Patient.objects.values_list("status", flat=True)) == {PatientStatus.ACTIVE}


def test_another_organisations_patient_or_merge_is_not_found(
    world: World, persona: Callable[[Role], User], logged_in: Login, outsider: User,
    twins: tuple[Patient, Patient],
) -> None:  # fmt: skip
    first, second = twins
    theirs = PatientFactory(home_branch=world.rival_branch)
    merge = _merge(world, persona, first, second)
    owner = logged_in(persona(Role.OWNER))

    assert (
        owner.get(reverse("crm:merge_confirm") + f"?a={first.pk}&b={theirs.pk}").status_code == 404
    )
    response = owner.post(
        reverse("crm:merge_confirm"),
        {"a": first.pk, "b": theirs.pk, "survivor": first.pk, "reason": "x"},
    )
    assert response.status_code == 404
    api = owner.post(
        f"{API}/merges", data=json.dumps({"survivor_id": first.pk, "merged_id": theirs.pk, "reason": "x"}),
        content_type="application/json",
    )  # fmt: skip
    assert (api.status_code, api.json()) == (404, NOT_FOUND)
    assert PatientMerge.objects.count() == 1
    rival = logged_in(outsider)
    assert rival.get(reverse("crm:merge_detail", kwargs={"merge_id": merge.pk})).status_code == 404
    assert rival.get(f"{API}/merges/{merge.pk}").json() == NOT_FOUND
    assert rival.get(f"{API}/candidates").json() == []


def test_api_lists_candidates_merges_and_explains(
    world: World, persona: Callable[[Role], User], logged_in: Login, twins: tuple[Patient, Patient]
) -> None:
    first, second = twins
    client = logged_in(persona(Role.BRANCH_MANAGER))

    candidates = client.get(f"{API}/candidates").json()
    assert [(c["a"]["id"], c["b"]["id"], c["reasons"]) for c in candidates] == [
        (first.pk, second.pk, ["name_birth_date"])
    ]
    created = client.post(
        f"{API}/merges", data=json.dumps({"survivor_id": second.pk, "merged_id": first.pk, "reason": "Twice"}),
        content_type="application/json",
    )  # fmt: skip
    assert created.status_code == 201
    body = created.json()
    phone = second.phones.get()
    assert (body["survivor_id"], body["merged_id"], body["reason"]) == (
        second.pk,
        first.pk,
        "Twice",
    )
    assert body["moved"] == {"patients.patientphone.patient": [phone.pk]}
    assert body["dropped"] == {}
    assert body["explanation"] == ["1 patient phone moved to the surviving record."]
    assert client.get(f"{API}/merges/{body['id']}").json() == body
    assert client.get(f"{API}/candidates").json() == []


def test_api_refuses_a_bad_merge_with_422_naming_the_field(
    world: World, persona: Callable[[Role], User], logged_in: Login, twins: tuple[Patient, Patient]
) -> None:
    first, _second = twins
    response = logged_in(persona(Role.OWNER)).post(
        f"{API}/merges", data=json.dumps({"survivor_id": first.pk, "merged_id": first.pk, "reason": "x"}),
        content_type="application/json",
    )  # fmt: skip

    assert response.status_code == 422
    assert response.json()["errors"] == {"merged": ["A patient cannot be merged with itself."]}
    assert PatientMerge.objects.count() == 0


def test_merged_patients_leave_the_list_the_search_and_the_booking_search(
    world: World, persona: Callable[[Role], User], logged_in: Login, twins: tuple[Patient, Patient]
) -> None:
    first, second = twins
    _merge(world, persona, second, first)
    client = logged_in(persona(Role.OWNER))

    def ids(html: str) -> set[int]:
        return {int(pk) for pk in re.findall(r"/patients/(\d+)/", html)}

    listed = client.get(reverse("patients:patient_list") + "?q=nguyen van an&scope=all")
    booking = client.get(reverse("scheduling:booking_patient_search") + "?q=nguyen van an")
    api = client.get("/api/v1/patients?q=nguyen&scope=all").json()

    assert ids(listed.content.decode()) == {second.pk}
    assert re.findall(r'name="patient" value="(\d+)"', booking.content.decode()) == [str(second.pk)]
    assert [row["id"] for row in api["items"]] == [second.pk]


def test_a_merged_patients_page_links_to_the_survivor(
    world: World, persona: Callable[[Role], User], logged_in: Login, twins: tuple[Patient, Patient]
) -> None:
    first, second = twins
    _merge(world, persona, second, first)
    client = logged_in(persona(Role.RECEPTIONIST))

    merged_page = client.get(reverse("patients:patient_detail", kwargs={"patient_id": first.pk}))
    survivor_page = client.get(reverse("patients:patient_detail", kwargs={"patient_id": second.pk}))

    survivor_url = reverse("patients:patient_detail", kwargs={"patient_id": second.pk})
    assert 'id="merged-banner"' in merged_page.content.decode()
    assert f'href="{survivor_url}"' in merged_page.content.decode()
    assert 'id="merged-banner"' not in survivor_page.content.decode()
