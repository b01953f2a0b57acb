"""Demo logins: one user per role in a simulated organisation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from chairtime.accounts.models import StaffProfile, User
from chairtime.tenancy.models import Branch, Membership, Organization
from chairtime.tenancy.roles import Role

DEMO_PASSWORD = "chairtime-demo"  # noqa: S105 - printed on screen by design: a local demo


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: Role
    where: str


def create_demo_logins(
    organization: Organization, *, password: str = DEMO_PASSWORD
) -> list[DemoLogin]:
    """One login per role. Owner, marketer and analyst see every branch; the others work
    in the first branch, and the branch manager also in the second (to try the switcher)."""
    branches = list(Branch.objects.filter(organization=organization).order_by("code"))
    first = branches[0]
    logins = []
    with transaction.atomic():
        for role in Role:
            username = role.value.replace("_", "-")
            user, _ = User.objects.update_or_create(
                username=username,
                defaults={"first_name": role.label, "last_name": "Demo", "is_active": True},
            )
            user.set_password(password)
            user.save(update_fields=["password"])
            Membership.objects.filter(user=user).delete()
            if role in {Role.OWNER, Role.MARKETER, Role.ANALYST}:
                Membership.objects.create(user=user, organization=organization, role=role)
                where = organization.name
            else:
                homes = branches[:2] if role == Role.BRANCH_MANAGER else [first]
                for branch in homes:
                    Membership.objects.create(
                        user=user, organization=organization, branch=branch, role=role
                    )
                where = ", ".join(branch.name for branch in homes)
            if role == Role.DOCTOR:
                StaffProfile.objects.update_or_create(
                    user=user, defaults={"title": "Dr.", "specialty": "general"}
                )
            logins.append(DemoLogin(username=username, role=role, where=where))
    return logins
