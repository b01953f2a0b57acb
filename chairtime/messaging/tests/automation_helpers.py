"""Helpers of the automation tests: a clinic with patients and appointments at chosen
times, rules set as a test needs them, and a generation run on a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chairtime.messaging.automation.generation import Counts, generate_messages
from chairtime.messaging.automation.services import ensure_defaults
from chairtime.messaging.models import AutomationRule, Message
from chairtime.patients.models import Patient, PatientChatId
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch
from tests.factories import AppointmentFactory, PatientFactory, ProcedureFactory, UserFactory

# Monday 7 January 2030, 10:00 in Ho Chi Minh City (UTC+7).
NOW = datetime(2030, 1, 7, 3, 0, tzinfo=UTC)
MOBILES = iter(f"+8491{n:07d}" for n in range(1, 10**6))


def patient(branch: Branch, *, phone: str | None = "", **fields: Any) -> Patient:
    """A patient of the branch with a mobile phone (None: without one)."""
    if phone == "":
        phone = next(MOBILES)
    return PatientFactory(home_branch=branch, phone=phone, **fields)


def with_chat(patient: Patient, app: str, handle: str) -> Patient:
    PatientChatId.objects.create(patient=patient, app=app, handle=handle)
    return patient


def appointment(
    branch: Branch,
    who: Patient | None = None,
    *,
    starts_at: datetime,
    booked_at: datetime | None = None,
    **fields: Any,
) -> Appointment:
    """An appointment at `starts_at`, booked at `booked_at` (a week before by default)."""
    row = AppointmentFactory(
        branch=branch, patient=who or patient(branch), starts_at=starts_at,
        doctor=fields.pop("doctor", None) or UserFactory(first_name="An", last_name="Trần"),
        procedure=fields.pop("procedure", None)
        or ProcedureFactory(organization=branch.organization, name="Scaling",
                            names={"vi": "Lấy cao răng", "es": "Limpieza"}),
        **fields,
    )  # fmt: skip
    Appointment.objects.filter(pk=row.pk).update(
        created_at=booked_at or starts_at - timedelta(days=7)
    )
    row.refresh_from_db()
    return row


def only_rules(branch: Branch, *specs: dict[str, Any]) -> list[AutomationRule]:
    """Replace the organisation's rules by these (each a dict of fields; SMS by default)."""
    organization = branch.organization
    ensure_defaults(organization=organization)
    AutomationRule.objects.filter(organization=organization).delete()
    rules = []
    for spec in specs:
        values = {"name": spec.get("kind", "rule"), "channels": ["sms"], **spec}
        rules.append(AutomationRule.objects.create(organization=organization, **values))
    return rules


def reminder(value: int, unit: str = "hours", **fields: Any) -> dict[str, Any]:
    return {"kind": "reminder", "offset_value": value, "offset_unit": unit, **fields}


def run(branch: Branch, now: datetime = NOW, **options: Any) -> Counts:
    return generate_messages(organization=branch.organization, now=now, **options)


def keys(**filters: Any) -> list[str]:
    return sorted(Message.objects.filter(**filters).values_list("idempotency_key", flat=True))
