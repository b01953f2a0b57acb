"""The clinic the treatment tests work in, and small helpers to make plans and visits.

Branch A of acme (Ho Chi Minh City, UTC+7, VND, plans valid 90 days), open Monday to
Saturday 08:00-20:00, with doctor An Trần, nurse Hoa, a consultant, Chair 1, and four
priced procedures: a check-up (experience, 200,000), a filling (regular, 500,000), a crown
(flagship, 5,000,000) and an implant (brand, 20,000,000). Time is Monday 2030-01-07 09:00.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.clinical.models import (
    AcceptanceMethod,
    LadderStep,
    PerformedProcedure,
    Procedure,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.clinical.services import ItemInput, accept_option, create_plan
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment, Chair
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    ProcedureFactory,
    ProcedurePriceFactory,
    make_doctor,
    make_nurse,
    open_branch,
)

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 40).decode()


def local(day: int, hour: int, minute: int = 0, *, month: int = 1, year: int = 2030) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HO_CHI_MINH)


NOW = local(7, 9)


@dataclass
class Clinic:
    branch: Branch
    doctor: User
    nurse: User
    consultant: User
    receptionist: User
    chair: Chair
    patient: Patient
    other_patient: Patient
    checkup: Procedure
    filling: Procedure
    crown: Procedure
    implant: Procedure

    def plan(
        self,
        options: list[tuple[str, list[ItemInput]]] | None = None,
        *,
        patient: Patient | None = None,
        now: datetime = NOW,
        **fields: Any,
    ) -> TreatmentPlan:
        """A proposed plan: by default one option "Fillings" with fillings on 16 and 17."""
        return create_plan(
            actor=self.consultant, branch=self.branch, patient=patient or self.patient,
            title=fields.pop("title", "Fillings"), doctor=fields.pop("doctor", self.doctor),
            consultant=self.consultant, now=now,
            options=options if options is not None else [("Fillings", self.fillings())],
            **fields,
        )  # fmt: skip

    def fillings(self, *teeth: int) -> list[ItemInput]:
        return [ItemInput(self.filling.pk, teeth=(t,)) for t in (teeth or (16, 17))]

    def accepted(self, plan: TreatmentPlan | None = None, now: datetime = NOW) -> TreatmentPlan:
        """The plan (or a new default one) with its first option accepted, verbally."""
        plan = plan or self.plan(now=now)
        return accept_option(
            actor=self.consultant, option=plan.options.get(position=1),
            method=AcceptanceMethod.VERBAL, witness=self.nurse, now=now,
        )  # fmt: skip

    def seated(self, starts_at: datetime, **fields: Any) -> Appointment:
        """An appointment in Chair 1 with An Trần, seated at its start (30 minutes)."""
        values = {
            "patient": self.patient, "procedure": self.filling, "doctor": self.doctor,
            "chair": self.chair, "status": AppointmentStatus.SEATED, "seated_at": starts_at,
            **fields,
        }  # fmt: skip
        return AppointmentFactory(branch=self.branch, starts_at=starts_at, **values)


def items_of(plan: TreatmentPlan) -> list[TreatmentItem]:
    return list(TreatmentItem.objects.filter(option__plan=plan).order_by("option__position", "pk"))


def counts() -> dict[str, int]:
    """Rows of everything the treatment services write."""
    return {
        "plans": TreatmentPlan.objects.count(),
        "options": TreatmentOption.objects.count(),
        "items": TreatmentItem.objects.count(),
        "performed": PerformedProcedure.objects.count(),
        "ladder": LadderStep.objects.count(),
        "appointments": Appointment.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def make_clinic(world: World, persona: Callable[[Role], User]) -> Clinic:
    branch = world.branch_a
    open_branch(branch)

    def procedure(code: str, category: str, tier: str, price: str) -> Procedure:
        made = ProcedureFactory(
            organization=world.acme, code=code, name=code.title(), category=category,
            ladder_tier=tier, default_duration_minutes=30,
        )  # fmt: skip
        ProcedurePriceFactory(branch=branch, procedure=made, price=Decimal(price))
        return made

    return Clinic(
        branch=branch,
        doctor=make_doctor(branch, first_name="An", last_name="Trần"),
        nurse=make_nurse(branch, first_name="Hoa", last_name="Lê"),
        consultant=persona(Role.CONSULTANT),
        receptionist=persona(Role.RECEPTIONIST),
        chair=ChairFactory(branch=branch, name="Chair 1", sort_order=1),
        patient=PatientFactory(
            home_branch=branch, family_name="Nguyễn", given_name="Văn An", number="P000001"
        ),
        other_patient=PatientFactory(home_branch=branch, number="P000002"),
        checkup=procedure("CHECK", "hygiene", "experience", "200000"),
        filling=procedure("FILL", "restorative", "regular", "500000"),
        crown=procedure("CROWN", "restorative", "flagship", "5000000"),
        implant=procedure("IMPL", "implant", "brand", "20000000"),
    )
