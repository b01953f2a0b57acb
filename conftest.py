"""Shared fixtures: two organisations and a persona for every role.

`acme` has branches A and B; `rival` is another organisation whose staff must never see
anything of acme's (and the other way round).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import translation

from chairtime.accounts.models import User
from chairtime.tenancy.models import Branch, Organization
from chairtime.tenancy.roles import Role
from tests.factories import BranchFactory, MembershipFactory, OrganizationFactory, UserFactory

ORG_WIDE_ROLES = {Role.OWNER, Role.MARKETER, Role.ANALYST}


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """Each test starts in the default language: a test-client request leaves the language
    it was served in active in the thread, which would leak into the next test."""
    translation.deactivate()
    yield
    translation.deactivate()


@dataclass
class World:
    acme: Organization
    branch_a: Branch
    branch_b: Branch
    rival: Organization
    rival_branch: Branch


@pytest.fixture
def world(db: None) -> World:
    acme = OrganizationFactory(name="Acme Dental", slug="acme")
    rival = OrganizationFactory(name="Rival Dental", slug="rival")
    return World(
        acme=acme,
        branch_a=BranchFactory(organization=acme, name="Acme Quận 1", code="a"),
        branch_b=BranchFactory(organization=acme, name="Acme Hà Nội", code="b"),
        rival=rival,
        rival_branch=BranchFactory(organization=rival, name="Rival Center", code="r"),
    )


@pytest.fixture
def persona(world: World) -> Callable[[Role], User]:
    """A user holding one role in acme: organisation-wide roles everywhere, the rest in A."""
    made: dict[Role, User] = {}

    def make(role: Role) -> User:
        if role not in made:
            user = UserFactory(username=f"{role.value}-persona")
            branch = None if role in ORG_WIDE_ROLES else world.branch_a
            MembershipFactory(user=user, organization=world.acme, branch=branch, role=role)
            made[role] = user
        return made[role]

    return make


@pytest.fixture
def outsider(world: World) -> User:
    """Owner of the rival organisation: sees everything there, nothing of acme's."""
    user = UserFactory(username="outsider")
    MembershipFactory(user=user, organization=world.rival, branch=None, role=Role.OWNER)
    return user


@pytest.fixture
def logged_in(client: Client) -> Callable[[User], Client]:
    def login(user: User) -> Client:
        client.force_login(user)
        return client

    return login
