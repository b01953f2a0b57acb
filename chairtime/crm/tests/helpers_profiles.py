"""Rows for the profiles tests, written straight to the tables (no services, no signals'
callbacks run unless a test captures them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import count

from chairtime.billing.models import Invoice, InvoiceStatus, Promotion
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
from chairtime.scheduling.models import Appointment
from tests.factories import AppointmentFactory, ProcedureFactory, UserFactory

NOW = datetime(2030, 3, 1, 5, 0, tzinfo=UTC)  # noon in Ho Chi Minh City
TODAY = date(2030, 3, 1)
_numbers = count(1)


def visit(
    patient: Patient, days_ago: float, status: str = "completed", **fields: object
) -> Appointment:
    """An appointment of the patient in their home branch, `days_ago` before NOW."""
    starts_at = NOW - timedelta(days=days_ago)
    appointment: Appointment = AppointmentFactory(
        branch=patient.home_branch, patient=patient, starts_at=starts_at, status=status, **fields
    )
    return appointment


def invoice(
    patient: Patient,
    days_ago: int,
    total: str = "1000000",
    *,
    balance: str = "0",
    status: str = InvoiceStatus.PAID,
    promotion: Promotion | None = None,
    currency: str = "",
) -> Invoice:
    issued_on = TODAY - timedelta(days=days_ago)
    return Invoice.objects.create(
        branch=patient.home_branch, patient=patient, number=f"INV-{next(_numbers)}",
        currency=currency or patient.home_branch.currency,
        issued_at=datetime.combine(issued_on, datetime.min.time(), tzinfo=UTC),
        issued_on=issued_on, due_on=issued_on, status=status, total=Decimal(total),
        subtotal=Decimal(total), balance=Decimal(balance), promotion=promotion,
    )  # fmt: skip


def promotion(patient: Patient) -> Promotion:
    return Promotion.objects.create(
        organization=patient.organization, code=f"PROMO{next(_numbers)}", name="Spring",
        kind=Promotion.Kind.PERCENT, value=Decimal("10"), valid_from=date(2029, 1, 1),
        valid_until=date(2031, 1, 1),
    )  # fmt: skip


def plan(
    patient: Patient,
    *,
    status: str = PlanStatus.PROPOSED,
    option_status: str = OptionStatus.OPEN,
    items: tuple[str, ...] = (ItemStatus.PLANNED,),
    procedure: Procedure | None = None,
) -> TreatmentPlan:
    procedure = procedure or ProcedureFactory(organization=patient.organization)
    made = TreatmentPlan.objects.create(
        branch=patient.home_branch, patient=patient, title="Plan", doctor=UserFactory(),
        status=status, presented_at=NOW - timedelta(days=30), expires_on=TODAY,
    )  # fmt: skip
    option = TreatmentOption.objects.create(plan=made, label="A", status=option_status)
    for position, item_status in enumerate(items, 1):
        TreatmentItem.objects.create(
            option=option, position=position, procedure=procedure, unit_price=Decimal("100"),
            amount=Decimal("100"), status=item_status,
        )  # fmt: skip
    return made
