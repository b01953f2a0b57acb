"""Demo logins: one user per role in a simulated organisation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from chairtime.accounts.models import StaffProfile, User
from chairtime.clinical.models import ProcedureCategory
from chairtime.scheduling.models import WorkingHours
from chairtime.tenancy.models import Branch, Membership, OpeningHours, Organization
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
    in the first branch, and the branch manager also in the second (to try the switcher).
    The doctor and the nurse can be booked there: qualified for everything, and working
    whenever the branch is open."""
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
            if role in {Role.DOCTOR, Role.NURSE}:
                _make_bookable(user, first, is_doctor=role == Role.DOCTOR)
            logins.append(DemoLogin(username=username, role=role, where=where))
    return logins


def _make_bookable(user: User, branch: Branch, *, is_doctor: bool) -> None:
    every_category = list(ProcedureCategory.values)
    defaults: dict[str, object] = {"procedure_categories": every_category}
    if is_doctor:
        defaults |= {"title": "Dr.", "specialty": "general"}
    StaffProfile.objects.update_or_create(user=user, defaults=defaults)
    WorkingHours.objects.filter(staff=user).delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(
            branch=branch, staff=user, weekday=hours.weekday, starts_at=hours.opens_at,
            ends_at=hours.closes_at,
        )
        for hours in OpeningHours.objects.filter(branch=branch)
    )  # fmt: skip
