"""Complaints: recording, every transition, bad input that changes nothing, the audit
trail, and branch/organisation scope on the pages and the API (forbidden == 404)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.core.errors import InvalidInput
from chairtime.crm.feedback.selectors import list_complaints
from chairtime.crm.feedback.services import record_complaint, update_complaint
from chairtime.crm.models import Complaint
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import Role
from tests.factories import MembershipFactory, PatientFactory, UserFactory


@pytest.fixture
def patient(world: Any) -> Patient:
    return PatientFactory(home_branch=world.branch_a, family_name="Lê", given_name="Thị Hoa")


@pytest.fixture
def owner(persona: Callable[[Role], User]) -> User:
    return persona(Role.OWNER)


def _record(world: Any, actor: User, patient: Patient, **extra: Any) -> Complaint:
    fields: dict[str, Any] = {
        "category": "waiting", "severity": "medium", "description": "Waited 50 minutes",
    }  # fmt: skip
    fields.update(extra)
    return record_complaint(actor=actor, branch=world.branch_a, patient=patient, **fields)


def test_recorded_complaint_is_open_with_its_owner_and_audited(world, owner, patient):
    manager = UserFactory()
    MembershipFactory(user=manager, branch=world.branch_a, role=Role.BRANCH_MANAGER)

    complaint = _record(world, owner, patient, owner=manager)

    assert (complaint.status, complaint.owner, complaint.recorded_by) == ("open", manager, owner)
    assert complaint.organization_id == world.acme.pk
    event = AuditEvent.objects.get(object_type="crm.complaint", object_id=str(complaint.pk))
    assert (event.action, event.patient_id, event.branch_id) == (
        "create", patient.pk, world.branch_a.pk,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("field", "extra"),
    [
        ("category", {"category": "rudeness"}),
        ("severity", {"severity": "apocalyptic"}),
        ("description", {"description": "   "}),
        ("received_at", {"received_at": "future"}),
    ],
)
def test_bad_complaint_input_names_the_field_and_records_nothing(
    world, owner, patient, field, extra
):
    if extra.get("received_at") == "future":
        extra = {"received_at": timezone.now() + timedelta(days=2)}

    with pytest.raises(InvalidInput) as error:
        _record(world, owner, patient, **extra)

    assert list(error.value.errors) == [field]
    assert Complaint.objects.count() == 0
    assert AuditEvent.objects.filter(object_type="crm.complaint").count() == 0


def test_owner_from_another_organisation_is_refused(world, owner, patient, outsider):
    with pytest.raises(InvalidInput) as error:
        _record(world, owner, patient, owner=outsider)

    assert error.value.errors == {"owner": ["Choose a staff member of this organisation."]}
    assert Complaint.objects.count() == 0


def test_patient_of_another_organisation_is_refused(world, owner):
    stranger = PatientFactory(home_branch=world.rival_branch)

    with pytest.raises(InvalidInput) as error:
        _record(world, owner, stranger)

    assert list(error.value.errors) == ["patient"]


@pytest.mark.parametrize(
    ("path", "final"),
    [
        (["in_progress"], "in_progress"),
        (["resolved"], "resolved"),
        (["in_progress", "resolved"], "resolved"),
        (["in_progress", "open"], "open"),
        (["resolved", "open"], "open"),
        (["resolved", "open", "in_progress", "resolved"], "resolved"),
    ],
)
def test_allowed_transitions(world, owner, patient, path, final):
    complaint = _record(world, owner, patient)

    for status in path:
        complaint = update_complaint(
            actor=owner, complaint=complaint, status=status, resolution="Apologised, refunded"
        )

    complaint.refresh_from_db()
    assert complaint.status == final
    assert (complaint.resolved_at is not None) == (final == "resolved")
    assert (complaint.resolved_by == owner) == (final == "resolved")


@pytest.mark.parametrize(
    ("start", "target"), [("resolved", "in_progress"), ("resolved", "resolved_later")]
)
def test_refused_transitions_change_nothing(world, owner, patient, start, target):
    complaint = _record(world, owner, patient)
    update_complaint(actor=owner, complaint=complaint, status=start, resolution="Done")
    complaint.refresh_from_db()
    resolved_at = complaint.resolved_at
    events = AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as error:
        update_complaint(actor=owner, complaint=complaint, status=target)

    assert list(error.value.errors) == ["status"]
    complaint.refresh_from_db()
    assert (complaint.status, complaint.resolved_at) == ("resolved", resolved_at)
    assert AuditEvent.objects.count() == events


def test_resolving_without_a_resolution_is_refused(world, owner, patient):
    complaint = _record(world, owner, patient)

    with pytest.raises(InvalidInput) as error:
        update_complaint(actor=owner, complaint=complaint, status="resolved", resolution="  ")

    assert error.value.errors == {"resolution": ["Write how the complaint was resolved."]}
    complaint.refresh_from_db()
    assert (complaint.status, complaint.resolved_at) == ("open", None)


def test_update_to_an_outside_owner_is_refused(world, owner, patient, outsider):
    complaint = _record(world, owner, patient)

    with pytest.raises(InvalidInput) as error:
        update_complaint(actor=owner, complaint=complaint, status="in_progress", owner=outsider)

    assert list(error.value.errors) == ["owner"]
    complaint.refresh_from_db()
    assert (complaint.status, complaint.owner_id) == ("open", None)


def test_update_is_audited_with_the_changes(world, owner, patient):
    complaint = _record(world, owner, patient)

    update_complaint(actor=owner, complaint=complaint, status="resolved", resolution="Refund")

    event = AuditEvent.objects.get(action="update", object_type="crm.complaint")
    assert event.changes == {"status": ["open", "resolved"], "resolution": ["", "Refund"]}


def test_list_filters(world, owner, patient):
    a = _record(world, owner, patient, category="pain", severity="high")
    b = _record(world, owner, patient, category="billing", severity="high")
    update_complaint(actor=owner, complaint=b, status="resolved", resolution="Explained")
    c = _record(world, owner, patient, category="pain", severity="low", owner=owner)
    record_complaint(
        actor=owner, branch=world.branch_b, patient=patient, category="pain", severity="high",
        description="Elsewhere",
    )  # fmt: skip

    def ids(**filters: Any) -> list[int]:
        return [x.pk for x in list_complaints(branch=world.branch_a, **filters)]

    assert sorted(ids()) == sorted([a.pk, b.pk, c.pk])
    assert sorted(ids(category="pain")) == sorted([a.pk, c.pk])
    assert sorted(ids(severity="high")) == sorted([a.pk, b.pk])
    assert ids(status="resolved") == [b.pk]
    assert ids(owner_id=owner.pk) == [c.pk]


# --- pages --------------------------------------------------------------------------------
def test_receptionist_records_a_complaint_through_the_page(world, persona, logged_in, patient):
    receptionist = persona(Role.RECEPTIONIST)
    client: Client = logged_in(receptionist)
    data = {
        "patient": patient.pk, "category": "attitude", "severity": "high",
        "description": "Rude at the desk",
    }  # fmt: skip

    response = client.post(reverse("crm:complaint_create"), data)

    complaint = Complaint.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("crm:complaint_detail", args=[complaint.pk])
    assert (complaint.branch, complaint.recorded_by) == (world.branch_a, receptionist)


def test_page_refuses_an_unknown_category_and_records_nothing(persona, logged_in, patient):
    client = logged_in(persona(Role.RECEPTIONIST))
    data = {"patient": patient.pk, "category": "rudeness", "severity": "high",
            "description": "x"}  # fmt: skip

    response = client.post(reverse("crm:complaint_create"), data)

    assert response.status_code == 200
    assert "category" in response.context["form"].errors
    assert Complaint.objects.count() == 0


def test_page_refuses_another_organisations_patient(world, persona, logged_in):
    stranger = PatientFactory(home_branch=world.rival_branch)
    client = logged_in(persona(Role.RECEPTIONIST))
    data = {"patient": stranger.pk, "category": "pain", "severity": "high", "description": "x"}

    response = client.post(reverse("crm:complaint_create"), data)

    assert response.status_code == 200
    assert response.context["form"].errors["patient"] == ["No such patient."]
    assert Complaint.objects.count() == 0


def test_resolve_through_the_page(world, owner, persona, logged_in, patient):
    complaint = _record(world, owner, patient)
    client = logged_in(persona(Role.DOCTOR))
    url = reverse("crm:complaint_detail", args=[complaint.pk])

    refused = client.post(url, {"status": "resolved", "resolution": ""})
    done = client.post(url, {"status": "resolved", "resolution": "Redid the filling"})

    assert refused.status_code == 200
    assert refused.context["form"].errors["resolution"] == ["Write how the complaint was resolved."]
    assert done.status_code == 302
    complaint.refresh_from_db()
    assert (complaint.status, complaint.resolution) == ("resolved", "Redid the filling")


def test_nurse_sees_but_cannot_handle_a_complaint(world, owner, persona, logged_in, patient):
    complaint = _record(world, owner, patient)
    client = logged_in(persona(Role.NURSE))
    url = reverse("crm:complaint_detail", args=[complaint.pk])

    seen = client.get(url)
    posted = client.post(url, {"status": "in_progress"})

    assert seen.status_code == 200
    assert seen.context["form"] is None
    assert posted.status_code == 404
    complaint.refresh_from_db()
    assert complaint.status == "open"


def test_complaint_of_another_branch_is_not_found(world, owner, persona, logged_in, patient):
    elsewhere = record_complaint(
        actor=owner, branch=world.branch_b, patient=patient, category="pain",
        severity="high", description="In B",
    )  # fmt: skip
    client = logged_in(persona(Role.DOCTOR))  # works in branch A only

    assert client.get(reverse("crm:complaint_detail", args=[elsewhere.pk])).status_code == 404
    listed = client.get(reverse("crm:complaint_list"))
    assert list(listed.context["page"]) == []


def test_outsider_gets_not_found(world, owner, outsider, logged_in, patient):
    complaint = _record(world, owner, patient)

    response = logged_in(outsider).get(reverse("crm:complaint_detail", args=[complaint.pk]))

    assert response.status_code == 404
    assert "Waited 50 minutes" not in response.content.decode()


# --- API ----------------------------------------------------------------------------------
def _api(client: Client, method: str, path: str, branch: int, body: object = None) -> Any:
    send = getattr(client, method)
    headers = {"X-Branch": str(branch)}
    if body is None:
        return send("/api/v1/feedback" + path, headers=headers)
    return send(
        "/api/v1/feedback" + path, data=json.dumps(body), content_type="application/json",
        headers=headers,
    )  # fmt: skip


def test_api_records_updates_and_lists(world, persona, logged_in, patient):
    client = logged_in(persona(Role.RECEPTIONIST))
    body = {"patient": patient.pk, "category": "hygiene", "severity": "low",
            "description": "Dusty waiting room"}  # fmt: skip

    created = _api(client, "post", "/complaints", world.branch_a.pk, body)
    complaint_id = created.json()["id"]
    refused = _api(client, "patch", f"/complaints/{complaint_id}", world.branch_a.pk,
                   {"status": "resolved"})  # fmt: skip
    resolved = _api(client, "patch", f"/complaints/{complaint_id}", world.branch_a.pk,
                    {"status": "resolved", "resolution": "Cleaned"})  # fmt: skip
    listed = _api(client, "get", "/complaints?status=resolved", world.branch_a.pk)

    assert created.status_code == 201
    assert created.json()["status"] == "open"
    assert refused.status_code == 422
    assert refused.json()["errors"] == {"resolution": ["Write how the complaint was resolved."]}
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert [row["id"] for row in listed.json()] == [complaint_id]


def test_api_refuses_unknown_category_and_outside_owner(world, persona, logged_in, patient,
                                                        outsider):  # fmt: skip
    client = logged_in(persona(Role.RECEPTIONIST))
    body = {"patient": patient.pk, "category": "nope", "severity": "low", "description": "x"}

    bad_category = _api(client, "post", "/complaints", world.branch_a.pk, body)
    bad_owner = _api(client, "post", "/complaints", world.branch_a.pk,
                     {**body, "category": "other", "owner": outsider.pk})  # fmt: skip

    assert bad_category.status_code == 422
    assert list(bad_category.json()["errors"]) == ["category"]
    assert bad_owner.status_code == 422
    assert list(bad_owner.json()["errors"]) == ["owner"]
    assert Complaint.objects.count() == 0


def test_api_scope_is_not_found(world, owner, persona, logged_in, patient, outsider):
    complaint = _record(world, owner, patient)
    marketer = logged_in(persona(Role.MARKETER))  # no care.view

    assert _api(marketer, "get", "/complaints", world.branch_a.pk).status_code == 404
    other = logged_in(outsider)
    assert (
        _api(other, "get", f"/complaints/{complaint.pk}", world.rival_branch.pk).status_code == 404
    )
    assert _api(other, "get", f"/complaints/{complaint.pk}", world.branch_a.pk).status_code == 404
