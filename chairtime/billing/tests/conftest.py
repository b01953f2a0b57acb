"""The money clinic: acme's branch A (Ho Chi Minh City, VND, no minor unit) and a US
branch of acme (New York, USD with cents), a patient of each, and the staff who take and
adjust money. Services get `now` passed in: Friday 2030-03-15, 10:00 in Ho Chi Minh City.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from chairtime.accounts.models import User
from chairtime.clinical.models import PerformedProcedure, Procedure
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import (
    BranchFactory,
    MembershipFactory,
    PatientFactory,
    PerformedProcedureFactory,
    ProcedureFactory,
)

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2030, 3, 15, 10, 0, tzinfo=HO_CHI_MINH)


@dataclass
class Money:
    world: World
    branch: Branch  # VND
    usd_branch: Branch
    patient: Patient
    usd_patient: Patient
    filling: Procedure
    cleaning: Procedure
    owner: User
    manager: User
    receptionist: User
    usd_receptionist: User
    doctor: User

    def perform(
        self,
        price: str | int = 500000,
        *,
        patient: Patient | None = None,
        branch: Branch | None = None,
        procedure: Procedure | None = None,
        quantity: int = 1,
        discount: str | int = 0,
    ) -> PerformedProcedure:
        """A procedure done on the patient (the clinical services' job, written directly)."""
        branch = branch or self.branch
        return PerformedProcedureFactory(
            branch=branch,
            patient=patient or (self.usd_patient if branch == self.usd_branch else self.patient),
            procedure=procedure or self.filling,
            doctor=self.doctor,
            unit_price=Decimal(price),
            quantity=quantity,
            discount=Decimal(discount),
        )


@pytest.fixture
def money(world: World, persona: Callable[[Role], User]) -> Money:
    usd_branch = BranchFactory(
        organization=world.acme, name="Acme Brooklyn", code="ny", country="US",
        time_zone="America/New_York", currency="USD", locale="en_US",
    )  # fmt: skip
    usd_receptionist = MembershipFactory(
        branch=usd_branch, organization=world.acme, role=Role.RECEPTIONIST
    ).user
    doctor = MembershipFactory(branch=world.branch_a, organization=world.acme, role=Role.DOCTOR)
    return Money(
        world=world,
        branch=world.branch_a,
        usd_branch=usd_branch,
        patient=PatientFactory(home_branch=world.branch_a),
        usd_patient=PatientFactory(home_branch=usd_branch),
        filling=ProcedureFactory(organization=world.acme, code="FILL", name="Filling"),
        cleaning=ProcedureFactory(
            organization=world.acme, code="CLEAN", name="Cleaning", category="hygiene"
        ),
        owner=persona(Role.OWNER),
        manager=persona(Role.BRANCH_MANAGER),
        receptionist=persona(Role.RECEPTIONIST),
        usd_receptionist=usd_receptionist,
        doctor=doctor.user,
    )
