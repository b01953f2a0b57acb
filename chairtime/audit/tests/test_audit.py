"""The audit trail: append-only rows, record_event's defaults, and the branch audit page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.test import Client
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.audit.services import diff, record_event
from chairtime.patients.models import Consent
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import ChairFactory, PatientFactory, TagFactory

EVENT_LIST_URL = reverse("audit:event_list")


@pytest.fixture
def event(world: World, persona: Callable[[Role], User]) -> AuditEvent:
    tag = TagFactory(organization=world.acme, name="VIP")
    return record_event(
        actor=persona(Role.OWNER), action="create", target=tag, summary="VIP",
        branch_id=world.branch_a.pk,
    )  # fmt: skip


# --- append-only -----------------------------------------------------------------------------


def test_saving_an_existing_event_raises(event: AuditEvent) -> None:
    event.summary = "Rewritten"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).summary == "VIP"


def test_deleting_an_event_raises(event: AuditEvent) -> None:
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_updating_events_through_a_queryset_raises(event: AuditEvent) -> None:
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(summary="Rewritten")
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.update(summary="Rewritten")
    assert list(AuditEvent.objects.values_list("summary", flat=True)) == ["VIP"]


def test_bulk_updating_events_raises(event: AuditEvent) -> None:
    event.summary = "Rewritten"
    # bulk_update runs in its own atomic block without a savepoint: give it one here so the
    # test's transaction stays usable after the refusal.
    with pytest.raises(TypeError, match="append-only"), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["summary"])
    assert list(AuditEvent.objects.values_list("summary", flat=True)) == ["VIP"]


def test_deleting_events_through_a_queryset_raises(event: AuditEvent) -> None:
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 1


# --- record_event ------------------------------------------------------------------------------


def test_record_event_takes_the_organisation_from_the_target(
    world: World, persona: Callable[[Role], User]
) -> None:
    owner = persona(Role.OWNER)
    tag = TagFactory(organization=world.acme)
    event = record_event(actor=owner, action="create", target=tag, summary="x" * 300)
    assert (
        event.actor_id, event.actor_label, event.action, event.organization_id, event.branch_id,
        event.patient_id, event.object_type, event.object_id, event.summary, event.ip_address,
    ) == (
        owner.pk, str(owner), "create", world.acme.pk, None, None, "patients.tag", str(tag.pk),
        "x" * 255, None,
    )  # fmt: skip


def test_record_event_takes_the_branch_from_the_target(world: World) -> None:
    chair = ChairFactory(branch=world.branch_b)
    event = record_event(actor=None, action="create", target=chair)
    assert (event.organization_id, event.branch_id, event.patient_id, event.object_type) == (
        None, world.branch_b.pk, None, "scheduling.chair",
    )  # fmt: skip


def test_record_event_takes_the_patient_from_the_target(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    consent = Consent.objects.create(
        patient=patient, channel="sms", purpose="service", is_granted=True, origin="verbal",
        recorded_at=patient.created_at,
    )  # fmt: skip
    event = record_event(actor=None, action="create", target=consent)
    assert (event.organization_id, event.branch_id, event.patient_id) == (None, None, patient.pk)


def test_record_event_prefers_the_ids_it_is_given(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    event = record_event(
        actor=None, action="view", target=patient, organization_id=world.rival.pk,
        branch_id=world.branch_b.pk, patient_id=patient.pk, ip_address="2001:db8::1",
    )  # fmt: skip
    event.refresh_from_db()
    assert (event.organization_id, event.branch_id, event.patient_id, event.ip_address) == (
        world.rival.pk, world.branch_b.pk, patient.pk, "2001:db8::1",
    )  # fmt: skip


def test_record_event_leaves_an_anonymous_actor_empty(world: World) -> None:
    event = record_event(actor=AnonymousUser(), action="login_failed", target=world.branch_a)
    assert (event.actor_id, event.actor_label) == (None, "")


def test_record_event_stores_changes_as_json(world: World) -> None:
    event = record_event(
        actor=None, action="update", target=world.branch_a,
        changes={
            "birth_date": (None, date(1990, 5, 1)),
            "home_branch": (world.branch_a, world.branch_b),
            "tags": (("a", "b"), ["c"]),
            "is_active": (True, False),
        },
    )  # fmt: skip
    event.refresh_from_db()
    assert event.changes == {
        "birth_date": [None, "1990-05-01"],
        "home_branch": [world.branch_a.pk, world.branch_b.pk],
        "tags": [["a", "b"], ["c"]],
        "is_active": [True, False],
    }


def test_diff_lists_only_the_keys_whose_values_differ() -> None:
    assert diff({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4}) == {
        "b": (2, 5),
        "c": (3, None),
        "d": (None, 4),
    }
    assert diff({"a": [1]}, {"a": [1]}) == {}


# --- the branch audit page ---------------------------------------------------------------------


def events_in(branch: Branch, summary: str) -> AuditEvent:
    return record_event(
        actor=None, action="update", target=branch, branch_id=branch.pk, summary=summary
    )


@pytest.fixture
def branch_events(world: World) -> None:
    events_in(world.branch_a, "Event in A")
    events_in(world.branch_b, "Event in B")
    events_in(world.rival_branch, "Event in Rival")


def test_branch_audit_page_lists_only_that_branch_events(
    world: World, branch_events: None, persona: Callable[[Role], User],
    logged_in: Callable[[User], Client],
) -> None:  # fmt: skip
    response = logged_in(persona(Role.BRANCH_MANAGER)).get(EVENT_LIST_URL)
    assert response.status_code == 200
    assert [(e.branch_id, e.summary) for e in response.context["page"]] == [
        (world.branch_a.pk, "Event in A")
    ]
    content = response.content.decode()
    assert "Event in A" in content
    assert "Event in B" not in content
    assert "Event in Rival" not in content


def test_branch_audit_page_follows_the_active_branch(
    world: World, branch_events: None, persona: Callable[[Role], User], client: Client
) -> None:
    client.force_login(persona(Role.OWNER))
    for branch, expected in ((world.branch_a, "Event in A"), (world.branch_b, "Event in B")):
        session = client.session
        session["active_branch_id"] = branch.pk
        session.save()
        response = client.get(EVENT_LIST_URL)
        assert [e.summary for e in response.context["page"]] == [expected]


def test_branch_audit_page_is_not_found_without_audit_access(
    world: World, branch_events: None, persona: Callable[[Role], User],
    logged_in: Callable[[User], Client],
) -> None:  # fmt: skip
    assert logged_in(persona(Role.RECEPTIONIST)).get(EVENT_LIST_URL).status_code == 404


def test_branch_audit_page_shows_the_rival_only_its_own_events(
    world: World, branch_events: None, outsider: User, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(outsider).get(EVENT_LIST_URL)
    assert [e.summary for e in response.context["page"]] == ["Event in Rival"]
