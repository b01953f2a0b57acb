"""The database itself refuses a double booking (migration 0003), whatever the services do.

Rows are written straight through the ORM here, bypassing the services, so these tests
prove the last line of defence alone: exclusion constraints on PostgreSQL, triggers on
SQLite. Each pair of appointments shares exactly one resource, so a refusal names it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from chairtime.accounts.models import User
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment, Chair
from chairtime.tenancy.models import Branch
from conftest import World
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, UserFactory

RESOURCES = ("doctor", "chair", "assistant", "patient")
HELD_BY_BUFFER = ("doctor", "chair", "assistant")
NINE = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2030, 1, 7, hour, minute, tzinfo=UTC)


@dataclass
class Shared:
    """One of each resource, to be shared by the two appointments of a test."""

    doctor: User
    chair: Chair
    assistant: User
    patient: object


@pytest.fixture
def shared(world: World) -> Shared:
    return Shared(
        doctor=UserFactory(),
        chair=ChairFactory(branch=world.branch_a),
        assistant=UserFactory(),
        patient=PatientFactory(home_branch=world.branch_a),
    )


@pytest.fixture
def book(world: World, shared: Shared) -> Callable[..., Appointment]:
    """Write a row that shares only the named resources; every other one is its own.

    09:00 for 30 minutes plus a 10-minute buffer unless told otherwise."""
    branch: Branch = world.branch_a

    def write(
        *sharing: str, starts_at: datetime = NINE, minutes: int = 30, buffer: int = 10,
        **fields: object,
    ) -> Appointment:  # fmt: skip
        own = {
            "doctor": UserFactory(),
            "chair": ChairFactory(branch=branch),
            "assistant": UserFactory(),
            "patient": PatientFactory(home_branch=branch),
        }
        own.update({name: getattr(shared, name) for name in sharing})
        ends_at = starts_at + timedelta(minutes=minutes)
        return AppointmentFactory(
            branch=branch, starts_at=starts_at, ends_at=ends_at,
            blocked_until=ends_at + timedelta(minutes=buffer), **own, **fields,
        )  # fmt: skip

    return write


def refused(resource: str) -> AbstractContextManager[object]:
    return pytest.raises(IntegrityError, match=f"appointment_no_{resource}_overlap")


@pytest.mark.parametrize("resource", RESOURCES)
def test_refuses_an_overlapping_row_on_the_same_resource(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9))
    with refused(resource), transaction.atomic():
        book(resource, starts_at=at(9, 15))
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("resource", RESOURCES)
def test_refuses_a_row_that_contains_another_on_the_same_resource(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9, 10), minutes=10)
    with refused(resource), transaction.atomic():
        book(resource, starts_at=at(9), minutes=60)
    assert Appointment.objects.count() == 1


def test_allows_overlapping_rows_that_share_no_resource(
    book: Callable[..., Appointment],
) -> None:
    book(starts_at=at(9))
    book(starts_at=at(9))
    assert Appointment.objects.count() == 2


@pytest.mark.parametrize("resource", HELD_BY_BUFFER)
def test_allows_a_row_starting_exactly_when_the_buffer_ends(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9))  # procedure until 09:30, buffer until 09:40
    book(resource, starts_at=at(9, 40))
    book(resource, starts_at=at(8, 20))  # its buffer ends at 09:00
    assert Appointment.objects.count() == 3


@pytest.mark.parametrize("resource", HELD_BY_BUFFER)
def test_counts_the_cleaning_buffer_for_doctor_chair_and_assistant(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9))
    with refused(resource), transaction.atomic():
        book(resource, starts_at=at(9, 35))
    assert Appointment.objects.count() == 1


def test_holds_the_patient_only_until_the_procedure_ends(
    book: Callable[..., Appointment],
) -> None:
    """The chair is cleaned after the patient has left: they may be seen elsewhere."""
    book("patient", starts_at=at(9))
    book("patient", starts_at=at(9, 30))
    assert Appointment.objects.count() == 2


def test_allows_a_patient_row_touching_another_but_not_one_overlapping(
    book: Callable[..., Appointment],
) -> None:
    book("patient", starts_at=at(9))
    with refused("patient"), transaction.atomic():
        book("patient", starts_at=at(9, 29))
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("status", [AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW])
@pytest.mark.parametrize("resource", RESOURCES)
def test_released_rows_do_not_conflict(
    book: Callable[..., Appointment], resource: str, status: str
) -> None:
    released = book(resource, starts_at=at(9), status=status)
    active = book(resource, starts_at=at(9))
    late_released = book(resource, starts_at=at(9), status=status)
    assert sorted(Appointment.objects.values_list("pk", flat=True)) == sorted(
        [released.pk, active.pk, late_released.pk]
    )


@pytest.mark.parametrize("resource", RESOURCES)
def test_overbooked_rows_do_not_conflict(book: Callable[..., Appointment], resource: str) -> None:
    book(resource, starts_at=at(9))
    book(resource, starts_at=at(9), is_overbooked=True)
    assert Appointment.objects.count() == 2


@pytest.mark.parametrize("resource", RESOURCES)
def test_an_overbooked_row_does_not_hold_its_time_against_a_new_row(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9), is_overbooked=True)
    book(resource, starts_at=at(9))
    assert Appointment.objects.count() == 2


@pytest.mark.parametrize("resource", RESOURCES)
def test_refuses_moving_a_row_into_an_overlap(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9))
    moving = book(resource, starts_at=at(11))
    moving.starts_at, moving.ends_at, moving.blocked_until = at(9, 15), at(9, 45), at(9, 55)
    with refused(resource), transaction.atomic():
        moving.save()
    moving.refresh_from_db()
    assert moving.starts_at == at(11)


@pytest.mark.parametrize("resource", RESOURCES)
def test_refuses_reactivating_a_released_row_into_an_overlap(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9))
    cancelled = book(resource, starts_at=at(9), status=AppointmentStatus.CANCELLED)
    with refused(resource), transaction.atomic():
        Appointment.objects.filter(pk=cancelled.pk).update(status=AppointmentStatus.BOOKED)
    cancelled.refresh_from_db()
    assert cancelled.status == AppointmentStatus.CANCELLED


@pytest.mark.parametrize("resource", RESOURCES)
def test_refuses_clearing_the_overbooked_flag_while_overlapping(
    book: Callable[..., Appointment], resource: str
) -> None:
    book(resource, starts_at=at(9))
    overbooked = book(resource, starts_at=at(9), is_overbooked=True)
    with refused(resource), transaction.atomic():
        Appointment.objects.filter(pk=overbooked.pk).update(is_overbooked=False)
    overbooked.refresh_from_db()
    assert overbooked.is_overbooked is True


@pytest.mark.parametrize("resource", RESOURCES)
def test_a_row_does_not_conflict_with_itself_when_changed(
    book: Callable[..., Appointment], resource: str
) -> None:
    row = book(resource, starts_at=at(9))
    book(resource, starts_at=at(9, 40))
    row.starts_at, row.ends_at, row.blocked_until = at(9, 5), at(9, 30), at(9, 40)
    row.status = AppointmentStatus.CONFIRMED
    row.save()
    row.refresh_from_db()
    assert (row.starts_at, row.status) == (at(9, 5), AppointmentStatus.CONFIRMED)


def test_rows_without_an_assistant_never_conflict_on_the_assistant(world: World) -> None:
    doctor_one, doctor_two = UserFactory(), UserFactory()
    AppointmentFactory(branch=world.branch_a, doctor=doctor_one, assistant=None)
    AppointmentFactory(branch=world.branch_a, doctor=doctor_two, assistant=None)
    assert Appointment.objects.filter(assistant__isnull=True).count() == 2
