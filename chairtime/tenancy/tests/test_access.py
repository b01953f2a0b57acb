"""Who may work in which branch: the access helpers and the branch switcher."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from chairtime.core.errors import NotFound
from chairtime.tenancy.access import get_branch_access, list_user_branches
from chairtime.tenancy.middleware import SESSION_KEY
from chairtime.tenancy.models import Membership
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Role
from tests.factories import BranchFactory, MembershipFactory, UserFactory

SWITCH_URL = "/branches/switch/"


def heading_of_home(client: Client) -> str:
    """The home page's heading: the active branch's name."""
    response = client.get(reverse("analytics:home"))
    assert response.status_code == 200
    content = response.content.decode()
    return content.split("<h1>", 1)[1].split("</h1>", 1)[0]


# --- list_user_branches -----------------------------------------------------------------


def test_org_wide_role_sees_every_active_branch_of_its_organisation(world, persona):
    owner = persona(Role.OWNER)

    assert list(list_user_branches(owner)) == [world.branch_b, world.branch_a]  # by name


def test_branch_role_sees_only_its_branch(world, persona):
    assert list(list_user_branches(persona(Role.RECEPTIONIST))) == [world.branch_a]


def test_inactive_branches_are_hidden(world, persona):
    receptionist = persona(Role.RECEPTIONIST)
    owner = persona(Role.OWNER)
    world.branch_a.is_active = False
    world.branch_a.save()

    assert list(list_user_branches(owner)) == [world.branch_b]
    assert list(list_user_branches(receptionist)) == []


def test_user_without_membership_has_no_branches(world):
    assert list(list_user_branches(UserFactory())) == []


def test_inactive_user_has_no_branches(world, persona):
    owner = persona(Role.OWNER)
    owner.is_active = False
    owner.save()

    assert list(list_user_branches(owner)) == []


# --- get_branch_access ------------------------------------------------------------------


def test_branch_access_carries_the_roles_capabilities(world, persona):
    access = get_branch_access(persona(Role.NURSE), world.branch_a.pk)

    assert access.branch == world.branch_a
    assert access.roles == {Role.NURSE}
    assert access.capabilities == ROLE_CAPABILITIES[Role.NURSE]


def test_non_member_is_refused_as_not_found(world, outsider):
    with pytest.raises(NotFound):
        get_branch_access(outsider, world.branch_a.pk)


def test_branch_role_is_refused_in_the_other_branch(world, persona):
    with pytest.raises(NotFound):
        get_branch_access(persona(Role.DOCTOR), world.branch_b.pk)


@pytest.mark.parametrize("branch_id", [987654321, "987654321", "abc", "", None, "1; DROP"])
def test_unknown_or_garbage_branch_id_is_not_found(world, persona, branch_id):
    with pytest.raises(NotFound):
        get_branch_access(persona(Role.OWNER), branch_id)


def test_inactive_branch_is_not_found_even_for_the_owner(world, persona):
    world.branch_b.is_active = False
    world.branch_b.save()

    with pytest.raises(NotFound):
        get_branch_access(persona(Role.OWNER), world.branch_b.pk)


def test_org_wide_and_branch_roles_add_up_in_that_branch_only(world):
    user = UserFactory()
    MembershipFactory(user=user, organization=world.acme, branch=None, role=Role.MARKETER)
    MembershipFactory(user=user, organization=world.acme, branch=world.branch_a, role=Role.NURSE)

    in_a = get_branch_access(user, world.branch_a.pk)
    in_b = get_branch_access(user, world.branch_b.pk)

    assert in_a.roles == {Role.MARKETER, Role.NURSE}
    assert in_a.capabilities == ROLE_CAPABILITIES[Role.MARKETER] | ROLE_CAPABILITIES[Role.NURSE]
    assert in_b.roles == {Role.MARKETER}
    assert in_b.capabilities == ROLE_CAPABILITIES[Role.MARKETER]


def test_roles_in_another_organisation_do_not_leak_in(world, outsider):
    MembershipFactory(user=outsider, organization=world.acme, branch=world.branch_a, role="nurse")

    access = get_branch_access(outsider, world.branch_a.pk)

    assert access.roles == {Role.NURSE}


# --- The branch switcher ----------------------------------------------------------------


def test_switcher_changes_the_active_branch(world, persona, logged_in):
    client = logged_in(persona(Role.OWNER))
    assert heading_of_home(client) == world.branch_b.name  # the first by name

    response = client.post(SWITCH_URL, {"branch": world.branch_a.pk})

    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:home")
    assert client.session[SESSION_KEY] == world.branch_a.pk
    assert heading_of_home(client) == world.branch_a.name


def test_switching_to_another_organisations_branch_is_not_found(world, persona, logged_in):
    client = logged_in(persona(Role.OWNER))
    client.post(SWITCH_URL, {"branch": world.branch_a.pk})

    response = client.post(SWITCH_URL, {"branch": world.rival_branch.pk})

    assert response.status_code == 404
    assert client.session[SESSION_KEY] == world.branch_a.pk
    assert heading_of_home(client) == world.branch_a.name


def test_branch_role_cannot_switch_to_a_sibling_branch(world, persona, logged_in):
    client = logged_in(persona(Role.DOCTOR))

    response = client.post(SWITCH_URL, {"branch": world.branch_b.pk})

    assert response.status_code == 404
    assert SESSION_KEY not in client.session
    assert heading_of_home(client) == world.branch_a.name


def test_switcher_refuses_get(world, persona, logged_in):
    client = logged_in(persona(Role.OWNER))

    response = client.get(SWITCH_URL, {"branch": world.branch_a.pk})

    assert response.status_code == 405
    assert SESSION_KEY not in client.session


def test_switcher_sends_anonymous_visitor_to_login(world, client):
    response = client.post(SWITCH_URL, {"branch": world.branch_a.pk})

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={SWITCH_URL}"


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/patients/?q=an", "/patients/?q=an"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("http://testserver.evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_switcher_follows_next_only_within_the_site(world, persona, logged_in, next_url, expected):
    client = logged_in(persona(Role.OWNER))

    response = client.post(SWITCH_URL, {"branch": world.branch_a.pk, "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == expected


def test_branch_no_longer_allowed_falls_back_to_the_first_allowed(world, logged_in):
    user = UserFactory()
    MembershipFactory(user=user, organization=world.acme, branch=world.branch_a, role="doctor")
    MembershipFactory(user=user, organization=world.acme, branch=world.branch_b, role="doctor")
    client = logged_in(user)
    client.post(SWITCH_URL, {"branch": world.branch_a.pk})
    assert heading_of_home(client) == world.branch_a.name

    Membership.objects.filter(user=user, branch=world.branch_a).delete()

    assert heading_of_home(client) == world.branch_b.name
    assert SESSION_KEY not in client.session


def test_deactivated_branch_falls_back_to_the_first_allowed(world, persona, logged_in):
    client = logged_in(persona(Role.OWNER))
    client.post(SWITCH_URL, {"branch": world.branch_a.pk})
    extra = BranchFactory(organization=world.acme, name="Acme Đà Nẵng", code="c")
    client.post(SWITCH_URL, {"branch": extra.pk})
    assert heading_of_home(client) == extra.name

    extra.is_active = False
    extra.save()

    assert heading_of_home(client) == world.branch_b.name


def test_user_whose_last_membership_ended_sees_nothing(world, persona, logged_in):
    nurse = persona(Role.NURSE)
    client = logged_in(nurse)
    client.post(SWITCH_URL, {"branch": world.branch_a.pk})

    Membership.objects.filter(user=nurse).delete()

    assert client.get(reverse("analytics:home")).status_code == 404
    assert SESSION_KEY not in client.session
