"""Booking, moving, cancelling and each step of a visit, through the services.

The clinic: branch A of acme (Ho Chi Minh City, UTC+7), open Monday to Saturday 08:00 to
20:00, with two chairs, two doctors and a nurse working those hours. "Now" is Monday
2030-01-07 07:00 local; most bookings are on Tuesday the 8th. A filling takes 30 minutes
plus a 10-minute cleaning buffer unless a test says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.forms.models import model_to_dict

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.clinical.models import CleaningBuffer, Procedure
from chairtime.core.errors import Conflict, InvalidInput
from chairtime.patients.models import Patient
from chairtime.scheduling import services
from chairtime.scheduling.choices import AppointmentStatus, CancelledBy
from chairtime.scheduling.models import (
    Appointment,
    AppointmentSeries,
    Chair,
    DoctorProcedureDuration,
)
from chairtime.scheduling.services import (
    ALLOWED_FROM,
    BookingRequest,
    arrive_appointment,
    book_appointment,
    book_series,
    book_walk_in,
    cancel_appointment,
    complete_appointment,
    confirm_appointment,
    mark_no_show,
    reschedule_appointment,
    seat_appointment,
)
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    ChairFactory,
    EquipmentFactory,
    MembershipFactory,
    PatientFactory,
    ProcedureFactory,
    TimeOffFactory,
    UserFactory,
    make_doctor,
    make_nurse,
    open_branch,
)

S = AppointmentStatus
HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")
MADRID = ZoneInfo("Europe/Madrid")


def local(day: int, hour: int, minute: int = 0, *, month: int = 1) -> datetime:
    """An instant in January 2030 (or `month`), wall clock in Ho Chi Minh City."""
    return datetime(2030, month, day, hour, minute, tzinfo=HO_CHI_MINH)


NOW = local(7, 7)  # Monday 07:00


@dataclass
class Clinic:
    branch: Branch
    receptionist: User
    doctor: User  # An Trần
    other_doctor: User  # Bình Lê
    nurse: User  # Chi Phạm
    chair: Chair  # Chair 1
    other_chair: Chair  # Chair 2
    patient: Patient
    other_patient: Patient
    filling: Procedure  # restorative, 30 minutes

    def request(self, **changes: Any) -> BookingRequest:
        """A filling for the patient with An Trần in Chair 1 on Tuesday at 09:00."""
        request = BookingRequest(
            patient=self.patient, procedure=self.filling, doctor=self.doctor, chair=self.chair,
            starts_at=local(8, 9),
        )  # fmt: skip
        return replace(request, **changes)

    def book(self, **changes: Any) -> Appointment:
        """Book through the service, as the receptionist, now."""
        can_overbook = changes.pop("can_overbook", False)
        now = changes.pop("now", NOW)
        return book_appointment(
            actor=self.receptionist, branch=self.branch, request=self.request(**changes),
            can_overbook=can_overbook, now=now,
        )  # fmt: skip

    def existing(self, starts_at: datetime, minutes: int = 30, **fields: Any) -> Appointment:
        """Someone else's appointment already in the book (other patient, doctor, chair
        unless told otherwise), written straight to the table."""
        ends_at = starts_at + timedelta(minutes=minutes)
        values = {
            "patient": self.other_patient, "doctor": self.other_doctor,
            "chair": self.other_chair, "procedure": self.filling, **fields,
        }  # fmt: skip
        return AppointmentFactory(
            branch=self.branch, starts_at=starts_at, ends_at=ends_at,
            blocked_until=ends_at + timedelta(minutes=10), **values,
        )  # fmt: skip


@pytest.fixture
def clinic(world: World, persona: Callable[[Role], User]) -> Clinic:
    branch = world.branch_a
    open_branch(branch)
    return Clinic(
        branch=branch,
        receptionist=persona(Role.RECEPTIONIST),
        doctor=make_doctor(branch, first_name="An", last_name="Trần"),
        other_doctor=make_doctor(branch, first_name="Bình", last_name="Lê"),
        nurse=make_nurse(branch, first_name="Chi", last_name="Phạm"),
        chair=ChairFactory(branch=branch, name="Chair 1", sort_order=1),
        other_chair=ChairFactory(branch=branch, name="Chair 2", sort_order=2),
        patient=PatientFactory(home_branch=branch),
        other_patient=PatientFactory(home_branch=branch),
        filling=ProcedureFactory(
            organization=world.acme,
            code="FILL",
            category="restorative",
            default_duration_minutes=30,
        ),
    )


def appointment_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="scheduling.appointment"))


def refused_with(error: type[InvalidInput], clinic: Clinic, **changes: Any) -> dict[str, list[str]]:
    """Book, expect the refusal, check nothing was written, and give its errors."""
    rows, events = list(Appointment.objects.values()), appointment_events()
    with pytest.raises(error) as refusal:
        clinic.book(**changes)
    assert type(refusal.value) is error
    assert list(Appointment.objects.values()) == rows
    assert appointment_events() == events
    return refusal.value.errors


# --- booking ----------------------------------------------------------------------------


def test_books_with_the_doctors_own_duration_and_the_category_buffer(
    world: World, clinic: Clinic
) -> None:
    DoctorProcedureDuration.objects.create(
        doctor=clinic.doctor, procedure=clinic.filling, minutes=45
    )
    CleaningBuffer.objects.create(organization=world.acme, category="restorative", minutes=20)

    appointment = clinic.book(notes="Upper left molar")

    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at, appointment.blocked_until) == (
        local(8, 9), local(8, 9, 45), local(8, 10, 5),
    )  # fmt: skip
    assert appointment.status == S.BOOKED
    assert (appointment.is_overbooked, appointment.is_walk_in) == (False, False)
    assert (appointment.branch, appointment.patient, appointment.doctor, appointment.chair) == (
        clinic.branch, clinic.patient, clinic.doctor, clinic.chair,
    )  # fmt: skip
    assert (appointment.booked_by, appointment.notes) == (clinic.receptionist, "Upper left molar")
    assert list(appointment.equipment.all()) == []


def test_uses_the_catalogue_duration_and_default_buffer_when_nothing_is_set(
    clinic: Clinic,
) -> None:
    appointment = clinic.book()
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at, appointment.blocked_until) == (
        local(8, 9), local(8, 9, 30), local(8, 9, 40),
    )  # fmt: skip


def test_gives_surgery_a_fifteen_minute_buffer_by_default(world: World, clinic: Clinic) -> None:
    extraction = ProcedureFactory(
        organization=world.acme, category="implant", default_duration_minutes=60
    )
    appointment = clinic.book(procedure=extraction)
    assert (appointment.ends_at, appointment.blocked_until) == (local(8, 10), local(8, 10, 15))


def test_records_the_booking_in_the_audit_trail(world: World, clinic: Clinic) -> None:
    appointment = clinic.book()
    [event] = appointment_events()
    assert (event.actor, event.action, event.object_id) == (
        clinic.receptionist, "create", str(appointment.pk),
    )  # fmt: skip
    assert (event.organization_id, event.branch_id, event.patient_id) == (
        world.acme.pk, clinic.branch.pk, clinic.patient.pk,
    )  # fmt: skip
    assert event.summary == "2030-01-08 09:00 FILL · Chair 1"
    assert set(event.changes) == {"starts_at", "status", "overbooked"}
    assert datetime.fromisoformat(event.changes["starts_at"][1]) == local(8, 9)
    assert event.changes["status"] == [None, "booked"]
    assert event.changes["overbooked"] == [None, False]


def test_attaches_the_equipment_the_procedure_needs(world: World, clinic: Clinic) -> None:
    scanner = EquipmentFactory(branch=clinic.branch, code="cbct", name="CBCT scanner")
    EquipmentFactory(branch=clinic.branch, code="motor", name="Implant motor")
    EquipmentFactory(branch=world.branch_b, code="cbct", name="CBCT scanner")
    scan = ProcedureFactory(organization=world.acme, equipment_codes=["cbct"])
    appointment = clinic.book(procedure=scan)
    assert list(appointment.equipment.all()) == [scanner]


def test_books_with_an_assistant(clinic: Clinic) -> None:
    appointment = clinic.book(assistant=clinic.nurse)
    appointment.refresh_from_db()
    assert appointment.assistant == clinic.nurse


# --- bad input: a clear reason, nothing written ------------------------------------------


def test_refuses_a_time_in_the_past(clinic: Clinic) -> None:
    errors = refused_with(InvalidInput, clinic, starts_at=local(8, 9), now=local(8, 9, 1))
    assert errors == {"starts_at": ["The time is in the past."]}


def test_refuses_a_doctor_not_qualified_for_the_procedure(world: World, clinic: Clinic) -> None:
    surgery = ProcedureFactory(organization=world.acme, category="surgery")
    errors = refused_with(InvalidInput, clinic, procedure=surgery)
    assert errors == {"doctor": ["This doctor is not qualified for this procedure."]}


def test_refuses_a_doctor_of_another_branch(world: World, clinic: Clinic) -> None:
    elsewhere = make_doctor(world.branch_b)
    errors = refused_with(InvalidInput, clinic, doctor=elsewhere)
    assert errors == {"doctor": ["This doctor does not work in this branch."]}


def test_refuses_a_chair_in_another_branch(world: World, clinic: Clinic) -> None:
    chair_in_b = ChairFactory(branch=world.branch_b, name="Chair 1")
    errors = refused_with(InvalidInput, clinic, chair=chair_in_b)
    assert errors == {"chair": ["This chair is not in this branch."]}


def test_refuses_a_chair_taken_out_of_service(clinic: Clinic) -> None:
    clinic.chair.is_active = False
    clinic.chair.save()
    errors = refused_with(InvalidInput, clinic)
    assert errors == {"chair": ["This chair is not in this branch."]}


def test_refuses_another_organisations_patient_as_unknown(world: World, clinic: Clinic) -> None:
    stranger = PatientFactory(home_branch=world.rival_branch)
    errors = refused_with(InvalidInput, clinic, patient=stranger)
    assert errors == {"patient": ["No such patient."]}


def test_refuses_another_organisations_procedure_as_unknown(world: World, clinic: Clinic) -> None:
    theirs = ProcedureFactory(organization=world.rival)
    errors = refused_with(InvalidInput, clinic, procedure=theirs)
    assert errors == {"procedure": ["No such procedure."]}


def test_refuses_a_procedure_needing_an_assistant_without_one(world: World, clinic: Clinic) -> None:
    implant = ProcedureFactory(organization=world.acme, category="implant", needs_assistant=True)
    errors = refused_with(InvalidInput, clinic, procedure=implant)
    assert errors == {"assistant": ["This procedure needs an assistant."]}


def test_refuses_an_assistant_who_does_not_work_here(world: World, clinic: Clinic) -> None:
    nurse_in_b = make_nurse(world.branch_b)
    errors = refused_with(InvalidInput, clinic, assistant=nurse_in_b)
    assert errors == {"assistant": ["This assistant does not work in this branch."]}


def test_refuses_a_procedure_needing_equipment_the_branch_does_not_have(
    world: World, clinic: Clinic
) -> None:
    EquipmentFactory(branch=world.branch_b, code="cbct")
    scan = ProcedureFactory(organization=world.acme, equipment_codes=["cbct"])
    errors = refused_with(InvalidInput, clinic, procedure=scan)
    assert errors == {"procedure": ["This branch has no cbct for this procedure."]}


def test_refuses_a_date_beyond_the_booking_horizon(clinic: Clinic) -> None:
    clinic.branch.booking_horizon_days = 30
    clinic.branch.save()
    # Now + 30 days is Wednesday 6 February, 07:00.
    errors = refused_with(InvalidInput, clinic, starts_at=local(6, 9, month=2))
    assert errors == {"starts_at": ["The date is beyond the branch's booking horizon."]}


def test_books_up_to_the_end_of_the_booking_horizon(clinic: Clinic) -> None:
    clinic.branch.booking_horizon_days = 30
    clinic.branch.save()
    appointment = clinic.book(starts_at=local(5, 19, month=2))  # Tuesday, cleaned by 19:40
    assert appointment.starts_at == local(5, 19, month=2)


def test_refuses_a_time_outside_the_doctors_working_hours(world: World, clinic: Clinic) -> None:
    weekdays_only = make_doctor(clinic.branch, weekdays=range(5), first_name="Dung", last_name="Võ")
    errors = refused_with(InvalidInput, clinic, doctor=weekdays_only, starts_at=local(12, 9))
    assert errors == {"starts_at": ["Dung Võ is not working at that time."]}


def test_refuses_a_time_on_the_doctors_leave(clinic: Clinic) -> None:
    TimeOffFactory(
        branch=clinic.branch, staff=clinic.doctor, kind="leave",
        starts_at=local(8, 8), ends_at=local(8, 12),
    )  # fmt: skip
    errors = refused_with(InvalidInput, clinic)
    assert errors == {"starts_at": ["An Trần is on leave or the branch is closed then."]}


def test_books_another_doctor_on_a_colleagues_leave(clinic: Clinic) -> None:
    TimeOffFactory(
        branch=clinic.branch, staff=clinic.doctor, kind="leave",
        starts_at=local(8, 8), ends_at=local(8, 12),
    )  # fmt: skip
    appointment = clinic.book(doctor=clinic.other_doctor)
    assert appointment.doctor == clinic.other_doctor


def test_refuses_a_time_on_a_branch_holiday(clinic: Clinic) -> None:
    TimeOffFactory(branch=clinic.branch, starts_at=local(8, 0), ends_at=local(9, 0))
    errors = refused_with(InvalidInput, clinic)
    assert errors == {
        "starts_at": [
            "Chair 1 is on leave or the branch is closed then.",
            "An Trần is on leave or the branch is closed then.",
        ]
    }


def test_refuses_a_naive_datetime(clinic: Clinic) -> None:
    errors = refused_with(InvalidInput, clinic, starts_at=datetime(2030, 1, 8, 9))  # noqa: DTZ001
    assert errors == {"starts_at": ["Give the time with its time zone."]}


def test_reports_every_bad_reference_at_once(world: World, clinic: Clinic) -> None:
    errors = refused_with(
        InvalidInput, clinic,
        patient=PatientFactory(home_branch=world.rival_branch),
        chair=ChairFactory(branch=world.branch_b),
        starts_at=datetime(2030, 1, 8, 9),  # noqa: DTZ001
    )  # fmt: skip
    assert errors == {
        "patient": ["No such patient."],
        "chair": ["This chair is not in this branch."],
        "starts_at": ["Give the time with its time zone."],
    }


# --- conflicts: 409, naming what is taken and by which appointment -------------------------


def test_refuses_the_same_chair_at_an_overlapping_time(clinic: Clinic) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair)
    errors = refused_with(Conflict, clinic, starts_at=local(8, 9, 15))
    assert errors == {
        "starts_at": ["Chair 1 is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.)."]
    }


def test_refuses_the_same_doctor_at_an_overlapping_time(clinic: Clinic) -> None:
    clinic.existing(local(8, 8, 45), doctor=clinic.doctor)
    errors = refused_with(Conflict, clinic)
    assert errors == {
        "starts_at": ["An Trần is taken by another appointment (01/08/2030 8:45 a.m.–9:15 a.m.)."]
    }


def test_refuses_the_same_assistant_at_an_overlapping_time(clinic: Clinic) -> None:
    clinic.existing(local(8, 9), assistant=clinic.nurse)
    errors = refused_with(Conflict, clinic, assistant=clinic.nurse)
    assert errors == {
        "starts_at": ["Chi Phạm is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.)."]
    }


def test_refuses_the_same_patient_at_an_overlapping_time(clinic: Clinic) -> None:
    clinic.existing(local(8, 9, 20), patient=clinic.patient)
    errors = refused_with(Conflict, clinic)
    assert errors == {
        "starts_at": [
            "The patient is taken by another appointment (01/08/2030 9:20 a.m.–9:50 a.m.)."
        ]
    }


def test_names_every_resource_that_is_taken(clinic: Clinic) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair, doctor=clinic.doctor)
    errors = refused_with(Conflict, clinic)
    assert errors == {
        "starts_at": [
            "Chair 1 is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.).",
            "An Trần is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.).",
        ]
    }


def test_refuses_a_start_inside_another_appointments_cleaning_buffer(clinic: Clinic) -> None:
    clinic.existing(local(8, 8, 30), chair=clinic.chair)  # procedure to 09:00, cleaning to 09:10
    errors = refused_with(Conflict, clinic, starts_at=local(8, 9, 5))
    assert errors == {
        "starts_at": [
            "Chair 1 needs its cleaning time around another appointment "
            "(01/08/2030 8:30 a.m.–9 a.m.)."
        ]
    }


def test_refuses_a_booking_whose_own_cleaning_buffer_meets_the_next(clinic: Clinic) -> None:
    clinic.existing(local(8, 9, 35), chair=clinic.chair)  # ours: procedure to 09:30, clean to 09:40
    errors = refused_with(Conflict, clinic)
    assert errors == {
        "starts_at": [
            "Chair 1 needs its cleaning time around another appointment "
            "(01/08/2030 9:35 a.m.–10:05 a.m.)."
        ]
    }


def test_books_right_after_another_appointments_cleaning_buffer(clinic: Clinic) -> None:
    clinic.existing(local(8, 8, 20), chair=clinic.chair, doctor=clinic.doctor)  # clean to 09:00
    clinic.existing(local(8, 9, 40), chair=clinic.chair, doctor=clinic.doctor)
    appointment = clinic.book()
    assert (appointment.starts_at, appointment.blocked_until) == (local(8, 9), local(8, 9, 40))


def test_lets_the_patient_leave_while_the_chair_is_cleaned(clinic: Clinic) -> None:
    """The patient is held for the procedure only; the next one may start elsewhere."""
    clinic.existing(local(8, 8, 30), patient=clinic.patient)  # procedure to 09:00
    appointment = clinic.book()
    assert appointment.starts_at == local(8, 9)


def test_refuses_equipment_whose_only_unit_is_in_use(world: World, clinic: Clinic) -> None:
    scanner = EquipmentFactory(branch=clinic.branch, code="cbct", name="CBCT scanner")
    scan = ProcedureFactory(organization=world.acme, equipment_codes=["cbct"])
    clinic.existing(local(8, 9), procedure=scan).equipment.add(scanner)
    errors = refused_with(Conflict, clinic, procedure=scan, starts_at=local(8, 9, 15))
    assert errors == {
        "starts_at": ["CBCT scanner is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.)."]
    }


def test_books_the_second_of_two_units_and_refuses_a_third_booking(
    world: World, clinic: Clinic
) -> None:
    motors = EquipmentFactory(branch=clinic.branch, code="motor", name="Implant motor", capacity=2)
    implant = ProcedureFactory(
        organization=world.acme, category="implant", equipment_codes=["motor"]
    )
    third_chair = ChairFactory(branch=clinic.branch, name="Chair 3")
    clinic.existing(local(8, 9), procedure=implant).equipment.add(motors)

    second = clinic.book(procedure=implant)
    assert list(second.equipment.all()) == [motors]

    third_patient = PatientFactory(home_branch=clinic.branch)
    third_doctor = make_doctor(clinic.branch)
    errors = refused_with(
        Conflict, clinic, procedure=implant, patient=third_patient, doctor=third_doctor,
        chair=third_chair, starts_at=local(8, 9, 15),
    )  # fmt: skip
    assert errors == {"starts_at": ["Every Implant motor is in use then."]}


def test_reports_a_race_past_the_check_as_a_conflict(
    clinic: Clinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a check ever missed a booking (a bug, a race), the database still refuses the
    row, and the receptionist gets a conflict, not a server error."""
    clinic.existing(local(8, 9), chair=clinic.chair)
    monkeypatch.setattr(services, "check_proposal", lambda *args, **kwargs: [])
    errors = refused_with(Conflict, clinic)
    assert errors == {"starts_at": ["This time was just taken by another booking."]}


def test_ignores_cancelled_and_no_show_appointments(clinic: Clinic) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair, status=S.CANCELLED)
    clinic.existing(local(8, 9), doctor=clinic.doctor, status=S.NO_SHOW)
    appointment = clinic.book()
    assert appointment.starts_at == local(8, 9)


# --- overbooking --------------------------------------------------------------------------


def test_refuses_overbooking_to_a_user_without_the_capability(clinic: Clinic) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair)
    errors = refused_with(InvalidInput, clinic, overbook=True, can_overbook=False)
    assert errors == {"overbook": ["You may not overbook."]}


def test_does_not_overbook_unless_asked_even_when_allowed(clinic: Clinic) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair)
    errors = refused_with(Conflict, clinic, can_overbook=True)
    assert errors == {
        "starts_at": ["Chair 1 is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.)."]
    }


def test_overbooks_and_flags_it_when_allowed_and_asked(clinic: Clinic) -> None:
    taken = clinic.existing(local(8, 9), chair=clinic.chair, doctor=clinic.doctor)
    appointment = clinic.book(overbook=True, can_overbook=True)
    appointment.refresh_from_db()
    assert appointment.is_overbooked is True
    assert Appointment.objects.filter(is_overbooked=False).get() == taken
    [event] = appointment_events()
    assert event.changes["overbooked"] == [None, True]


def test_does_not_flag_an_overbooking_that_fits_anyway(clinic: Clinic) -> None:
    appointment = clinic.book(overbook=True, can_overbook=True)
    assert appointment.is_overbooked is False


def test_overbooking_does_not_get_past_working_hours(clinic: Clinic) -> None:
    TimeOffFactory(
        branch=clinic.branch, staff=clinic.doctor, kind="leave",
        starts_at=local(8, 8), ends_at=local(8, 12),
    )  # fmt: skip
    errors = refused_with(InvalidInput, clinic, overbook=True, can_overbook=True)
    assert errors == {"starts_at": ["An Trần is on leave or the branch is closed then."]}


# --- series -------------------------------------------------------------------------------


def test_books_a_weekly_series(clinic: Clinic) -> None:
    booked = book_series(
        actor=clinic.receptionist, branch=clinic.branch, request=clinic.request(),
        interval_days=7, count=4, now=NOW,
    )  # fmt: skip
    assert [a.starts_at for a in booked] == [local(8, 9), local(15, 9), local(22, 9), local(29, 9)]
    series = AppointmentSeries.objects.get()
    assert (series.interval_days, series.count) == (7, 4)
    assert all(a.series == series for a in booked)
    assert len(appointment_events()) == 4


def test_books_no_part_of_a_series_whose_third_occurrence_conflicts(clinic: Clinic) -> None:
    clinic.existing(local(22, 9), chair=clinic.chair)
    with pytest.raises(Conflict) as refusal:
        book_series(
            actor=clinic.receptionist, branch=clinic.branch, request=clinic.request(),
            interval_days=7, count=4, now=NOW,
        )  # fmt: skip
    assert refusal.value.errors == {
        "starts_at": [
            "Occurrence 3 (2030-01-22 09:00): Chair 1 is taken by another appointment "
            "(01/22/2030 9 a.m.–9:30 a.m.)."
        ]
    }
    assert Appointment.objects.count() == 1  # only the one that was there
    assert AppointmentSeries.objects.count() == 0
    assert appointment_events() == []


def test_refuses_a_series_whose_occurrence_falls_on_a_closed_day(clinic: Clinic) -> None:
    with pytest.raises(InvalidInput) as refusal:
        book_series(
            actor=clinic.receptionist, branch=clinic.branch,
            request=clinic.request(starts_at=local(11, 9)),  # Friday; the next is Sunday
            interval_days=2, count=3, now=NOW,
        )  # fmt: skip
    assert type(refusal.value) is InvalidInput
    assert refusal.value.errors == {
        "starts_at": [
            "Occurrence 2 (2030-01-13 09:00): Chair 1 is not working at that time.",
            "Occurrence 2 (2030-01-13 09:00): An Trần is not working at that time.",
        ]
    }
    assert Appointment.objects.count() == 0


@pytest.mark.parametrize(
    ("interval_days", "count", "field", "message"),
    [
        (0, 4, "interval_days", "Give an interval between 1 and 366 days."),
        (367, 4, "interval_days", "Give an interval between 1 and 366 days."),
        (7, 1, "count", "Give between 2 and 52 occurrences."),
        (7, 53, "count", "Give between 2 and 52 occurrences."),
    ],
)
def test_refuses_a_series_of_bad_shape(
    clinic: Clinic, interval_days: int, count: int, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as refusal:
        book_series(
            actor=clinic.receptionist, branch=clinic.branch, request=clinic.request(),
            interval_days=interval_days, count=count, now=NOW,
        )  # fmt: skip
    assert refusal.value.errors == {field: [message]}
    assert (Appointment.objects.count(), AppointmentSeries.objects.count()) == (0, 0)


def test_refuses_a_series_given_a_naive_datetime(clinic: Clinic) -> None:
    with pytest.raises(InvalidInput) as refusal:
        book_series(
            actor=clinic.receptionist, branch=clinic.branch,
            request=clinic.request(starts_at=datetime(2030, 1, 8, 9)),  # noqa: DTZ001
            interval_days=7, count=4, now=NOW,
        )  # fmt: skip
    assert refusal.value.errors == {"starts_at": ["Give the time with its time zone."]}
    assert (Appointment.objects.count(), AppointmentSeries.objects.count()) == (0, 0)


def test_keeps_a_monthly_series_at_the_same_wall_clock_time_across_daylight_saving(
    world: World, receptionist_of: Callable[[Branch], User]
) -> None:
    """Madrid moves its clocks forward on Sunday 31 March 2030: 10:00 stays 10:00."""
    madrid = BranchFactory(
        organization=world.acme, time_zone="Europe/Madrid", country="ES", currency="EUR",
        locale="es_ES",
    )  # fmt: skip
    open_branch(madrid)
    request = BookingRequest(
        patient=PatientFactory(home_branch=madrid),
        procedure=ProcedureFactory(organization=world.acme, category="orthodontic"),
        doctor=make_doctor(madrid), chair=ChairFactory(branch=madrid),
        starts_at=datetime(2030, 3, 4, 10, tzinfo=MADRID),  # a Monday, winter time
    )  # fmt: skip
    booked = book_series(
        actor=receptionist_of(madrid), branch=madrid, request=request, interval_days=28,
        count=3, now=NOW,
    )  # fmt: skip
    assert [a.starts_at.astimezone(MADRID).strftime("%a %d %b %H:%M") for a in booked] == [
        "Mon 04 Mar 10:00", "Mon 01 Apr 10:00", "Mon 29 Apr 10:00",
    ]  # fmt: skip
    assert [a.starts_at.astimezone(UTC).hour for a in booked] == [9, 8, 8]


@pytest.fixture
def receptionist_of(world: World) -> Callable[[Branch], User]:
    def make(branch: Branch) -> User:
        user = UserFactory()
        MembershipFactory(user=user, branch=branch, role=Role.RECEPTIONIST)
        return user

    return make


# --- rescheduling -------------------------------------------------------------------------


def test_moves_an_appointment_over_its_own_old_time(clinic: Clinic) -> None:
    appointment = clinic.book()
    moved = reschedule_appointment(
        actor=clinic.receptionist, appointment=appointment, starts_at=local(8, 9, 15), now=NOW
    )
    moved.refresh_from_db()
    assert (moved.starts_at, moved.ends_at, moved.blocked_until) == (
        local(8, 9, 15), local(8, 9, 45), local(8, 9, 55),
    )  # fmt: skip
    assert moved.rescheduled_count == 1


def test_moves_to_another_chair_and_needs_confirming_again(clinic: Clinic) -> None:
    appointment = confirm_appointment(actor=clinic.receptionist, appointment=clinic.book(), now=NOW)
    moved = reschedule_appointment(
        actor=clinic.receptionist, appointment=appointment, starts_at=local(9, 14),
        chair=clinic.other_chair, now=NOW,
    )  # fmt: skip
    moved.refresh_from_db()
    assert (moved.starts_at, moved.chair, moved.doctor) == (
        local(9, 14), clinic.other_chair, clinic.doctor,
    )  # fmt: skip
    assert (moved.status, moved.confirmed_at, moved.rescheduled_count) == (S.BOOKED, None, 1)


def test_records_what_a_move_changed(clinic: Clinic) -> None:
    appointment = clinic.book()
    reschedule_appointment(
        actor=clinic.receptionist, appointment=appointment, starts_at=local(9, 14),
        chair=clinic.other_chair, doctor=clinic.other_doctor, now=NOW,
    )  # fmt: skip
    event = AuditEvent.objects.filter(action="update").get()
    assert event.object_id == str(appointment.pk)
    assert set(event.changes) == {"starts_at", "chair", "doctor", "status"}
    before, after = (datetime.fromisoformat(v) for v in event.changes["starts_at"])
    assert (before, after) == (local(8, 9), local(9, 14))
    assert event.changes["chair"] == [clinic.chair.pk, clinic.other_chair.pk]
    assert event.changes["doctor"] == [clinic.doctor.pk, clinic.other_doctor.pk]
    assert event.changes["status"] == ["booked", "booked"]
    assert event.summary == "2030-01-09 14:00 FILL · Chair 2"


def test_refuses_to_move_onto_a_taken_chair_and_leaves_the_appointment(clinic: Clinic) -> None:
    appointment = clinic.book()
    clinic.existing(local(8, 11), chair=clinic.chair)
    with pytest.raises(Conflict) as refusal:
        reschedule_appointment(
            actor=clinic.receptionist, appointment=appointment, starts_at=local(8, 11), now=NOW
        )
    assert refusal.value.errors == {
        "starts_at": ["Chair 1 is taken by another appointment (01/08/2030 11 a.m.–11:30 a.m.)."]
    }
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.rescheduled_count) == (local(8, 9), 0)
    assert AuditEvent.objects.filter(action="update").count() == 0


def test_refuses_to_move_an_appointment_into_the_past(clinic: Clinic) -> None:
    appointment = clinic.book()
    with pytest.raises(InvalidInput) as refusal:
        reschedule_appointment(
            actor=clinic.receptionist, appointment=appointment, starts_at=local(8, 9),
            now=local(8, 9, 30),
        )  # fmt: skip
    assert type(refusal.value) is InvalidInput
    assert refusal.value.errors == {"starts_at": ["The time is in the past."]}
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.rescheduled_count) == (local(8, 9), 0)


def test_refuses_to_move_to_a_doctor_not_qualified(world: World, clinic: Clinic) -> None:
    hygienist = make_doctor(clinic.branch, categories=("hygiene",))
    appointment = clinic.book()
    with pytest.raises(InvalidInput) as refusal:
        reschedule_appointment(
            actor=clinic.receptionist, appointment=appointment, starts_at=local(8, 10),
            doctor=hygienist, now=NOW,
        )  # fmt: skip
    assert refusal.value.errors == {"doctor": ["This doctor is not qualified for this procedure."]}
    appointment.refresh_from_db()
    assert (appointment.doctor, appointment.starts_at) == (clinic.doctor, local(8, 9))


# --- the visit, step by step: every transition from every status ---------------------------

STATUS_LABELS = {
    S.BOOKED: "Booked", S.CONFIRMED: "Confirmed", S.ARRIVED: "Arrived", S.SEATED: "In the chair",
    S.COMPLETED: "Completed", S.CANCELLED: "Cancelled", S.NO_SHOW: "No-show",
}  # fmt: skip
# transition: (resulting status, timestamp it sets, words in the refusal)
TRANSITIONS: dict[str, tuple[str, str | None, str]] = {
    "confirm": (S.CONFIRMED, "confirmed_at", "confirmed"),
    "arrive": (S.ARRIVED, "arrived_at", "marked arrived"),
    "seat": (S.SEATED, "seated_at", "seated"),
    "complete": (S.COMPLETED, "completed_at", "completed"),
    "no_show": (S.NO_SHOW, "no_show_at", "marked as a no-show"),
    "cancel": (S.CANCELLED, "cancelled_at", "cancelled"),
    "reschedule": (S.BOOKED, None, "moved"),
}
STARTS_AT = local(8, 9)
DURING = local(8, 9, 10)  # a no-show is only known once the time has come


def run_transition(transition: str, clinic: Clinic, appointment: Appointment) -> Appointment:
    actor = clinic.receptionist
    match transition:
        case "confirm":
            return confirm_appointment(actor=actor, appointment=appointment, now=DURING)
        case "arrive":
            return arrive_appointment(actor=actor, appointment=appointment, now=DURING)
        case "seat":
            return seat_appointment(actor=actor, appointment=appointment, now=DURING)
        case "complete":
            return complete_appointment(actor=actor, appointment=appointment, now=DURING)
        case "no_show":
            return mark_no_show(actor=actor, appointment=appointment, now=DURING)
        case "cancel":
            return cancel_appointment(
                actor=actor, appointment=appointment, cancelled_by=CancelledBy.CLINIC,
                reason="Doctor ill", now=DURING,
            )  # fmt: skip
        case "reschedule":
            return reschedule_appointment(
                actor=actor, appointment=appointment, starts_at=local(8, 11), now=DURING
            )
    raise AssertionError(transition)


def test_the_table_covers_every_transition() -> None:
    assert set(TRANSITIONS) == set(ALLOWED_FROM)
    assert set(STATUS_LABELS) == set(S)


CASES = [
    pytest.param(transition, status, id=f"{transition}-from-{status}")
    for transition in ALLOWED_FROM
    for status in S
]


@pytest.mark.parametrize(("transition", "status"), CASES)
def test_allows_exactly_the_transitions_of_the_table(
    clinic: Clinic, transition: str, status: str
) -> None:
    appointment = clinic.existing(
        STARTS_AT, patient=clinic.patient, doctor=clinic.doctor, chair=clinic.chair,
        status=status,
    )  # fmt: skip
    new_status, stamp, words = TRANSITIONS[transition]
    before = model_to_dict(Appointment.objects.get(pk=appointment.pk))

    if status in ALLOWED_FROM[transition]:
        run_transition(transition, clinic, appointment)
        appointment.refresh_from_db()
        assert appointment.status == new_status
        if stamp is not None:
            assert getattr(appointment, stamp) == DURING
        else:
            assert (appointment.starts_at, appointment.rescheduled_count) == (local(8, 11), 1)
        [event] = appointment_events()
        assert event.changes["status"] == [status, new_status]
    else:
        with pytest.raises(InvalidInput) as refusal:
            run_transition(transition, clinic, appointment)
        assert refusal.value.errors == {
            "status": [f"The appointment is “{STATUS_LABELS[status]}”, so it cannot be {words}."]
        }
        assert model_to_dict(Appointment.objects.get(pk=appointment.pk)) == before
        assert appointment_events() == []


def test_walks_a_visit_from_booking_to_completion(clinic: Clinic) -> None:
    appointment = clinic.book()
    for step, at in (
        (confirm_appointment, local(7, 18)),
        (arrive_appointment, local(8, 8, 52)),
        (seat_appointment, local(8, 9, 3)),
        (complete_appointment, local(8, 9, 31)),
    ):
        appointment = step(actor=clinic.receptionist, appointment=appointment, now=at)
    appointment.refresh_from_db()
    assert appointment.status == S.COMPLETED
    assert (
        appointment.confirmed_at, appointment.arrived_at, appointment.seated_at,
        appointment.completed_at,
    ) == (local(7, 18), local(8, 8, 52), local(8, 9, 3), local(8, 9, 31))  # fmt: skip
    assert [e.changes["status"] for e in reversed(appointment_events())] == [
        [None, "booked"], ["booked", "confirmed"], ["confirmed", "arrived"],
        ["arrived", "seated"], ["seated", "completed"],
    ]  # fmt: skip


# --- cancelling ---------------------------------------------------------------------------


def cancel(clinic: Clinic, appointment: Appointment, by: str, at: datetime) -> Appointment:
    cancel_appointment(
        actor=clinic.receptionist, appointment=appointment, cancelled_by=by,
        reason="  Feeling unwell  ", now=at,
    )  # fmt: skip
    appointment.refresh_from_db()
    return appointment


def test_a_patient_cancelling_under_24_hours_before_is_late(clinic: Clinic) -> None:
    cancelled = cancel(clinic, clinic.book(), CancelledBy.PATIENT, local(7, 9, 1))
    assert (cancelled.status, cancelled.cancelled_at) == (S.CANCELLED, local(7, 9, 1))
    assert (cancelled.cancelled_by, cancelled.cancel_reason) == ("patient", "Feeling unwell")
    assert cancelled.is_late_cancellation is True


def test_a_patient_cancelling_24_hours_before_is_not_late(clinic: Clinic) -> None:
    cancelled = cancel(clinic, clinic.book(), CancelledBy.PATIENT, local(7, 9))
    assert cancelled.is_late_cancellation is False


def test_the_clinic_cancelling_is_never_late(clinic: Clinic) -> None:
    cancelled = cancel(clinic, clinic.book(), CancelledBy.CLINIC, local(8, 8, 55))
    assert (cancelled.cancelled_by, cancelled.is_late_cancellation) == ("clinic", False)


def test_a_cancelled_appointment_frees_its_time(clinic: Clinic) -> None:
    cancel(clinic, clinic.book(), CancelledBy.PATIENT, NOW)
    again = clinic.book(patient=clinic.other_patient)
    assert again.starts_at == local(8, 9)


@pytest.mark.parametrize("reason", ["", "   "])
def test_refuses_a_cancellation_without_a_reason(clinic: Clinic, reason: str) -> None:
    appointment = clinic.book()
    with pytest.raises(InvalidInput) as refusal:
        cancel_appointment(
            actor=clinic.receptionist, appointment=appointment, cancelled_by="patient",
            reason=reason, now=NOW,
        )  # fmt: skip
    assert refusal.value.errors == {"reason": ["Give a reason for the cancellation."]}
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_at) == (S.BOOKED, None)


def test_refuses_a_cancellation_without_saying_who_cancelled(clinic: Clinic) -> None:
    appointment = clinic.book()
    with pytest.raises(InvalidInput) as refusal:
        cancel_appointment(
            actor=clinic.receptionist, appointment=appointment, cancelled_by="doctor",
            reason="Ill", now=NOW,
        )  # fmt: skip
    assert refusal.value.errors == {
        "cancelled_by": ["Say who cancelled: the patient or the clinic."]
    }
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED


# --- no-shows and walk-ins ----------------------------------------------------------------


def test_refuses_a_no_show_before_the_appointment_starts(clinic: Clinic) -> None:
    appointment = clinic.book()
    with pytest.raises(InvalidInput) as refusal:
        mark_no_show(actor=clinic.receptionist, appointment=appointment, now=local(8, 8, 59))
    assert refusal.value.errors == {
        "status": ["A patient cannot miss an appointment that has not started."]
    }
    appointment.refresh_from_db()
    assert (appointment.status, appointment.no_show_at) == (S.BOOKED, None)


def test_marks_a_no_show_from_the_start_time(clinic: Clinic) -> None:
    appointment = mark_no_show(
        actor=clinic.receptionist, appointment=clinic.book(), now=local(8, 9)
    )
    appointment.refresh_from_db()
    assert (appointment.status, appointment.no_show_at) == (S.NO_SHOW, local(8, 9))


def test_books_a_walk_in_from_now_and_marks_it_arrived(clinic: Clinic) -> None:
    came_in = local(8, 10, 7) + timedelta(seconds=31)
    appointment = book_walk_in(
        actor=clinic.receptionist, branch=clinic.branch, request=clinic.request(), now=came_in
    )
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at) == (local(8, 10, 7), local(8, 10, 37))
    assert (appointment.status, appointment.arrived_at) == (S.ARRIVED, came_in)
    assert appointment.is_walk_in is True
    assert [e.changes["status"] for e in reversed(appointment_events())] == [
        [None, "booked"], ["booked", "arrived"],
    ]  # fmt: skip


def test_refuses_a_walk_in_when_the_chair_is_taken(clinic: Clinic) -> None:
    clinic.existing(local(8, 10), chair=clinic.chair)
    with pytest.raises(Conflict) as refusal:
        book_walk_in(
            actor=clinic.receptionist, branch=clinic.branch, request=clinic.request(),
            now=local(8, 10, 7),
        )  # fmt: skip
    assert refusal.value.errors == {
        "starts_at": ["Chair 1 is taken by another appointment (01/08/2030 10 a.m.–10:30 a.m.)."]
    }
    assert Appointment.objects.count() == 1
