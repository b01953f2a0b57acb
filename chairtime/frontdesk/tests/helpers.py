"""Rows for the front desk's tests, written straight to the tables, at a fixed "now".

NOW is Tuesday 5 March 2030, 10:00 in Saigon (branch A's zone, 03:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chairtime.accounts.models import User
from chairtime.clinical.models import (
    ItemStatus,
    OptionStatus,
    PlanStatus,
    Procedure,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment, Chair
from chairtime.tenancy.models import Branch
from tests.factories import AppointmentFactory

SAIGON = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2030, 3, 5, 3, 0, tzinfo=UTC)
TODAY = date(2030, 3, 5)


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A Saigon wall-clock time as an aware instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=SAIGON)


def appointment(
    branch: Branch, patient: Patient, procedure: Procedure, doctor: User, chair: Chair,
    starts_at: datetime, *, minutes: int = 30, booked_at: datetime | None = None,
    **fields: Any,
) -> Appointment:  # fmt: skip
    """An appointment written straight to the table; `booked_at` sets its creation time
    (the lead time the risk reads), a day before it starts unless told."""
    row: Appointment = AppointmentFactory(
        branch=branch, patient=patient, procedure=procedure, doctor=doctor, chair=chair,
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes), **fields,
    )  # fmt: skip
    Appointment.objects.filter(pk=row.pk).update(
        created_at=booked_at or starts_at - timedelta(days=1)
    )
    row.refresh_from_db()
    return row


def accepted_item(
    branch: Branch, patient: Patient, procedure: Procedure, doctor: User, amount: str,
    *, appointment: Appointment | None = None, accepted_at: datetime = NOW,
) -> TreatmentItem:  # fmt: skip
    """An accepted plan of one item (planned, or scheduled on `appointment`)."""
    plan = TreatmentPlan.objects.create(
        branch=branch, patient=patient, title="Plan", doctor=doctor, presented_at=accepted_at,
        expires_on=accepted_at.date() + timedelta(days=90), status=PlanStatus.ACCEPTED,
        accepted_at=accepted_at,
    )  # fmt: skip
    option = TreatmentOption.objects.create(plan=plan, label="A", status=OptionStatus.ACCEPTED)
    return TreatmentItem.objects.create(
        option=option, procedure=procedure, unit_price=Decimal(amount), amount=Decimal(amount),
        status=ItemStatus.SCHEDULED if appointment else ItemStatus.PLANNED,
        appointment=appointment,
    )  # fmt: skip
