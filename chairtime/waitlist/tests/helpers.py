"""A small clinic for the waitlist's tests: branch A open Mon-Sat 08-20, one chair, a
doctor, a filling (30 min), and a booked appointment on Tuesday 8 January 2030 10:00
(Ho Chi Minh) whose release frees the gap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from chairtime.accounts.models import User
from chairtime.clinical.models import Procedure
from chairtime.crm.choices import CustomerGroup
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment, Chair
from chairtime.tenancy.models import Branch
from chairtime.waitlist.models import WaitlistEntry
from chairtime.waitlist.services import EntryData, add_entry
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    PatientProfileFactory,
    ProcedureFactory,
    make_doctor,
    open_branch,
)

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2030, 1, 7, 8, tzinfo=ZONE)  # Monday 08:00
SLOT = datetime(2030, 1, 8, 10, tzinfo=ZONE)  # Tuesday 10:00


@dataclass
class Clinic:
    branch: Branch
    doctor: User
    chair: Chair
    filling: Procedure
    booked: Appointment  # the appointment whose release frees the gap
    counter: int = 0

    def patient(
        self, *, group: str | None = None, phone: str | None = None, **fields: object
    ) -> Patient:
        self.counter += 1
        patient = PatientFactory(
            home_branch=self.branch, phone=phone or f"+8491200{self.counter:04d}", **fields
        )
        if group is not None:
            PatientProfileFactory(patient=patient, group=group)
        return patient

    def wait(
        self, patient: Patient, *, actor: User, days_ago: int = 1, procedure: Procedure | None = None,
        **preferences: object,
    ) -> WaitlistEntry:  # fmt: skip
        data = EntryData(patient=patient, procedure=procedure or self.filling, **preferences)  # type: ignore[arg-type]
        return add_entry(actor=actor, branch=self.branch, data=data,
                         now=NOW - timedelta(days=days_ago))  # fmt: skip


def make_clinic(branch: Branch, *, slot: datetime = SLOT) -> Clinic:
    open_branch(branch)
    doctor = make_doctor(branch, first_name="An", last_name="Trần")
    chair = ChairFactory(branch=branch, name="Chair 1", sort_order=1)
    filling = ProcedureFactory(
        organization=branch.organization, code=f"FIL-{branch.code}", name="Filling"
    )
    booked = AppointmentFactory(
        branch=branch, doctor=doctor, chair=chair, procedure=filling, starts_at=slot,
        patient=PatientFactory(home_branch=branch, family_name="Lê", given_name="Cancels"),
    )  # fmt: skip
    return Clinic(branch, doctor, chair, filling, booked)


VIP, POTENTIAL, LOW = CustomerGroup.LOYAL, CustomerGroup.POTENTIAL, CustomerGroup.LOW_VALUE
