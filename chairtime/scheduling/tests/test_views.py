"""The appointment book pages: the day and week calendars, the day sheet, and the dialogs
that book, move, cancel and step an appointment through the visit.

The clinic: branch A of acme (Ho Chi Minh City, UTC+7), open Monday to Saturday 08:00 to
20:00, two chairs, two doctors (An Trần and Bình Lê) working those hours, a 30-minute
filling. The pages run on the real clock, so "the day" is a Tuesday one to two weeks
ahead: inside the booking horizon, never in the past.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.clinical.models import Procedure
from chairtime.core.errors import InvalidInput
from chairtime.patients.models import MedicalAlert, Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.forms import slot_value
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.services import complete_appointment, mark_no_show
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role
from conftest import World
from tests.factories import (
    AppointmentFactory,
    BranchFactory,
    ChairFactory,
    MembershipFactory,
    OpeningHoursFactory,
    PatientFactory,
    ProcedureFactory,
    TagFactory,
    UserFactory,
    make_doctor,
    open_branch,
)

S = AppointmentStatus
HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")
MADRID = ZoneInfo("Europe/Madrid")
HTMX = {"HTTP_HX_REQUEST": "true"}


def booking_day() -> date:
    """A Tuesday 7 to 13 days from today in Ho Chi Minh City."""
    soon = timezone.localdate(timezone=HO_CHI_MINH) + timedelta(days=7)
    return soon + timedelta(days=(1 - soon.weekday()) % 7)


@dataclass
class Clinic:
    branch: Branch
    day: date
    doctor: User  # An Trần
    other_doctor: User  # Bình Lê
    chair: Chair  # Chair 1
    other_chair: Chair  # Chair 2
    filling: Procedure
    patient: Patient
    other_patient: Patient

    def at(self, hour: int, minute: int = 0, *, days: int = 0) -> datetime:
        """The day (or `days` after it) at this wall-clock time in Ho Chi Minh City."""
        return datetime.combine(self.day + timedelta(days=days), time(hour, minute), HO_CHI_MINH)

    def existing(self, starts_at: datetime, minutes: int = 30, **fields: Any) -> Appointment:
        """An appointment already in the book, written straight to the table (the other
        patient with Bình Lê in Chair 2 unless told otherwise)."""
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
def clinic(world: World) -> Clinic:
    branch = world.branch_a
    open_branch(branch)
    return Clinic(
        branch=branch,
        day=booking_day(),
        doctor=make_doctor(branch, first_name="An", last_name="Trần"),
        other_doctor=make_doctor(branch, first_name="Bình", last_name="Lê"),
        chair=ChairFactory(branch=branch, name="Chair 1", sort_order=1),
        other_chair=ChairFactory(branch=branch, name="Chair 2", sort_order=2),
        filling=ProcedureFactory(
            organization=world.acme, code="FIL", name="Filling", category="restorative"
        ),
        patient=PatientFactory(home_branch=branch, family_name="Nguyễn", given_name="Thị Ánh"),
        other_patient=PatientFactory(home_branch=branch, family_name="Trần", given_name="Văn Bình"),
    )


@pytest.fixture
def desk(persona, logged_in) -> Client:
    """The receptionist of branch A, logged in: may see and change the book."""
    return logged_in(persona(Role.RECEPTIONIST))


def day_url(day: date, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"date": day.isoformat(), **params}.items())
    return f"{reverse('scheduling:day_view')}?{query}"


BLOCK = re.compile(
    r'<article class="(?P<classes>[^"]*)" id="appointment-(?P<id>\d+)" '
    r'data-row="(?P<row>\d+)" data-span="(?P<span>\d+)" data-lane="(?P<lane>\d+)"'
)
COLUMN = re.compile(r'<section class="book-column" aria-label="([^"]*)">')
TIME_LABEL = re.compile(r'<div class="time(?: hour)?">([^<]*)</div>')


def placements(html: str) -> dict[int, tuple[int, int, int]]:
    """Appointment id -> (first row, rows, lane) as the day or week grid places them."""
    return {
        int(m["id"]): (int(m["row"]), int(m["span"]), int(m["lane"])) for m in BLOCK.finditer(html)
    }


def column_of(html: str, appointment: Appointment) -> str:
    """The label of the column the appointment's block sits in."""
    position = html.index(f'id="appointment-{appointment.pk}"')
    return list(COLUMN.finditer(html[:position]))[-1].group(1)


def openings_in(html: str) -> list[str]:
    return re.findall(r'name="slot" value="([^"]+)"', html)


# --- who may open what -------------------------------------------------------------------

CALENDAR_PAGES = ["scheduling:day_view", "scheduling:week_view", "scheduling:day_sheet"]


@pytest.mark.parametrize("url_name", CALENDAR_PAGES)
@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_calendar_pages_open_exactly_for_roles_that_may_see_the_book(
    role, url_name, clinic, persona, logged_in
):
    response = logged_in(persona(role)).get(reverse(url_name))

    expected = 200 if Capability.SCHEDULE_VIEW in ROLE_CAPABILITIES[role] else 404
    assert response.status_code == expected


def test_viewer_without_booking_rights_sees_the_book_but_no_way_to_change_it(
    clinic, persona, logged_in
):
    booked = clinic.existing(clinic.at(9))
    nurse = logged_in(persona(Role.NURSE))

    day = nurse.get(day_url(clinic.day)).content.decode()
    panel = nurse.get(reverse("scheduling:appointment_detail", args=[booked.pk])).content.decode()
    posted = nurse.post(
        reverse("scheduling:appointment_status", args=[booked.pk, "confirm"]), **HTMX
    )

    assert booked.pk in placements(day)
    assert reverse("scheduling:appointment_create") not in day
    assert "Confirm" not in panel and "Cancel appointment" not in panel
    assert posted.status_code == 404
    assert Appointment.objects.get(pk=booked.pk).status == S.BOOKED


def test_appointment_of_another_branch_is_not_found(world, clinic, desk):
    elsewhere = AppointmentFactory(branch=world.branch_b)

    for url in (
        reverse("scheduling:appointment_detail", args=[elsewhere.pk]),
        reverse("scheduling:appointment_move", args=[elsewhere.pk]),
    ):
        assert desk.get(url).status_code == 404
    cancel = desk.post(
        reverse("scheduling:appointment_cancel", args=[elsewhere.pk]),
        {"cancelled_by": "clinic", "reason": "Closed"},
    )
    assert cancel.status_code == 404
    assert Appointment.objects.get(pk=elsewhere.pk).status == S.BOOKED


def test_outsider_gets_not_found_for_an_acme_appointment(clinic, outsider, logged_in):
    booked = clinic.existing(clinic.at(9))

    response = logged_in(outsider).get(reverse("scheduling:appointment_detail", args=[booked.pk]))

    assert response.status_code == 404
    assert clinic.other_patient.display_name not in response.content.decode()


# --- the day view ------------------------------------------------------------------------


def test_day_view_has_a_column_per_chair_and_a_row_every_quarter_hour_of_opening(clinic, desk):
    html = desk.get(day_url(clinic.day)).content.decode()

    assert COLUMN.findall(html) == ["Chair 1", "Chair 2"]
    assert html.count('<a class="cell') == 2 * 12 * 4  # 08:00-20:00, two chairs
    labels = [label for label in TIME_LABEL.findall(html) if label]
    assert labels[0] == "8 a.m." and labels[-1] == "7 p.m." and len(labels) == 12


def test_day_view_places_each_appointment_on_its_rows_in_its_chair(clinic, desk):
    nine = clinic.existing(clinic.at(9))  # Chair 2, 09:00-09:30
    late = clinic.existing(
        clinic.at(14, 10), minutes=60, chair=clinic.chair, patient=clinic.patient
    )
    other_day = clinic.existing(clinic.at(9, days=1))

    html = desk.get(day_url(clinic.day)).content.decode()

    assert placements(html) == {nine.pk: (5, 2, 0), late.pk: (25, 5, 0)}
    assert column_of(html, nine) == "Chair 2"
    assert column_of(html, late) == "Chair 1"
    assert other_day.pk not in placements(html)


def test_day_view_by_doctor_has_a_column_per_doctor_working_that_day(world, clinic, desk):
    make_doctor(clinic.branch, first_name="Mon", last_name="Only", weekdays=range(0, 1))
    booked = clinic.existing(clinic.at(10))

    html = desk.get(day_url(clinic.day, by="doctor")).content.decode()

    assert COLUMN.findall(html) == ["Bình Lê", "An Trần"]  # by last name
    assert column_of(html, booked) == "Bình Lê"
    assert placements(html) == {booked.pk: (9, 2, 0)}
    assert f"doctor={clinic.doctor.pk}&amp;at=" in html  # a click books with that doctor


def test_overbooked_appointments_sit_side_by_side(clinic, desk):
    first = clinic.existing(clinic.at(9), minutes=60)
    second = clinic.existing(
        clinic.at(9, 30), patient=clinic.patient, doctor=clinic.doctor, is_overbooked=True
    )

    html = desk.get(day_url(clinic.day)).content.decode()

    assert placements(html) == {first.pk: (5, 4, 0), second.pk: (7, 2, 1)}
    assert 'data-lanes="2"' in html


def test_day_view_shows_status_doctor_colour_vip_marker_and_link_to_the_patient(clinic, desk):
    vip = TagFactory(organization=clinic.branch.organization, name="vip")
    clinic.other_patient.tags.add(vip)
    clinic.other_doctor.staff_profile.calendar_colour = "#aa3377"
    clinic.other_doctor.staff_profile.save()
    booked = clinic.existing(clinic.at(9), status=S.CONFIRMED)
    plain = clinic.existing(clinic.at(11), patient=clinic.patient)

    html = desk.get(day_url(clinic.day)).content.decode()
    block = html[html.index(f'id="appointment-{booked.pk}"') :].split("</article>")[0]
    other = html[html.index(f'id="appointment-{plain.pk}"') :].split("</article>")[0]

    assert '<span class="badge status-confirmed">Confirmed</span>' in block
    assert 'data-colour="#aa3377"' in block
    assert 'class="vip"' in block and 'class="vip"' not in other
    assert reverse("patients:patient_detail", args=[clinic.other_patient.pk]) in block


def test_cancelled_appointments_leave_the_grid_for_the_list_below_it(clinic, desk):
    cancelled = clinic.existing(
        clinic.at(9), status=S.CANCELLED, cancelled_by="patient", cancel_reason="Has the flu"
    )

    html = desk.get(day_url(clinic.day)).content.decode()

    assert placements(html) == {}
    released = html[html.index(f'id="released-{cancelled.pk}"') :].split("</li>")[0]
    assert "Cancelled" in released and "The patient: Has the flu" in released


def test_day_view_links_to_the_previous_and_next_day_and_reads_a_date_it_is_given(clinic, desk):
    html = desk.get(day_url(clinic.day, by="doctor")).content.decode()

    before, after = clinic.day - timedelta(days=1), clinic.day + timedelta(days=1)
    assert f'href="?date={before.isoformat()}&amp;by=doctor" rel="prev"' in html
    assert f'href="?date={after.isoformat()}&amp;by=doctor" rel="next"' in html
    assert f'name="date" value="{clinic.day.isoformat()}"' in html


def test_unreadable_date_shows_today_and_says_why(clinic, desk):
    response = desk.get(reverse("scheduling:day_view") + "?date=2030-02-31")

    today = timezone.localdate(timezone=HO_CHI_MINH)
    assert response.status_code == 200
    assert "“2030-02-31” is not a date; showing today." in response.content.decode()
    assert response.context["day"] == today


def test_day_without_opening_hours_says_so_and_still_shows_its_appointments(clinic, desk):
    sunday = clinic.day + timedelta(days=5)
    booked = clinic.existing(clinic.at(7, days=5))  # 07:00, before the default 08:00

    html = desk.get(day_url(sunday)).content.decode()

    assert "The branch has no opening hours on this day." in html
    assert placements(html) == {booked.pk: (1, 2, 0)}


def test_calendar_reloads_only_its_grid_when_htmx_asks(clinic, desk):
    response = desk.get(day_url(clinic.day), HTTP_HX_TARGET="calendar", **HTMX)

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="calendar"')
    assert "<html" not in html


# --- daylight saving ---------------------------------------------------------------------


@pytest.fixture
def madrid(world: World, persona, logged_in) -> tuple[Branch, Client, Chair]:
    """A Madrid branch open on Sundays 01:00-05:00 (the hours the clocks change in) and
    09:00-12:00, with its own receptionist."""
    branch = BranchFactory(
        organization=world.acme, name="Acme Madrid", code="mad", country="ES",
        time_zone="Europe/Madrid", currency="EUR", locale="es_ES",
    )  # fmt: skip
    OpeningHoursFactory(branch=branch, weekday=6, opens_at=time(1), closes_at=time(5))
    receptionist = UserFactory()
    MembershipFactory(user=receptionist, branch=branch, role=Role.RECEPTIONIST)
    return branch, logged_in(receptionist), ChairFactory(branch=branch, name="Sillón 1")


def test_spring_forward_day_has_no_rows_for_the_missing_hour(madrid):
    branch, client, chair = madrid
    sunday = date(2025, 3, 30)  # 02:00 becomes 03:00
    booked = AppointmentFactory(
        branch=branch, chair=chair,
        starts_at=datetime(2025, 3, 30, 3, 0, tzinfo=MADRID),  # 01:00 UTC
        ends_at=datetime(2025, 3, 30, 3, 30, tzinfo=MADRID),
        blocked_until=datetime(2025, 3, 30, 3, 40, tzinfo=MADRID),
    )  # fmt: skip

    html = client.get(day_url(sunday)).content.decode()

    labels = TIME_LABEL.findall(html)
    assert len(labels) == 3 * 4  # 01:00-05:00 is three real hours
    assert [label for label in labels if label] == ["1 a.m.", "3 a.m.", "4 a.m."]
    assert placements(html) == {booked.pk: (5, 2, 0)}  # right after 01:45


def test_fall_back_day_has_rows_for_the_repeated_hour_twice(madrid):
    branch, client, chair = madrid
    sunday = date(2025, 10, 26)  # 03:00 becomes 02:00
    second_two = datetime(2025, 10, 26, 1, 0, tzinfo=UTC)  # 02:00 local, the second time
    booked = AppointmentFactory(
        branch=branch, chair=chair, starts_at=second_two,
        ends_at=second_two + timedelta(minutes=30),
        blocked_until=second_two + timedelta(minutes=40),
    )  # fmt: skip

    html = client.get(day_url(sunday)).content.decode()

    labels = TIME_LABEL.findall(html)
    assert len(labels) == 5 * 4  # 01:00-05:00 is five real hours
    assert [label for label in labels if label] == [
        "1 a.m.",
        "2 a.m.",
        "2 a.m.",
        "3 a.m.",
        "4 a.m.",
    ]
    assert placements(html) == {booked.pk: (9, 2, 0)}  # the second 02:00


# --- booking from the dialog -------------------------------------------------------------


def test_clicking_an_empty_cell_opens_the_dialog_with_the_cell_as_the_earliest_time(clinic, desk):
    at = clinic.at(9, 15).astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")

    response = desk.get(
        f"{reverse('scheduling:appointment_create')}?chair={clinic.chair.pk}&at={at}", **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # the dialog's content only
    assert f'value="{clinic.day.isoformat()}T09:15"' in html
    assert f'name="chair" value="{clinic.chair.pk}"' in html
    assert "Choose a procedure to see the next openings." in html


def test_patient_search_lists_patients_to_choose_from(clinic, desk):
    response = desk.get(reverse("scheduling:booking_patient_search") + "?q=nguyen thi", **HTMX)

    html = response.content.decode()
    assert re.findall(r'name="patient" value="(\d+)"', html) == [str(clinic.patient.pk)]
    assert "Nguyễn Thị Ánh" in html


def test_slot_finder_offers_one_opening_per_time_in_the_clicked_chair_when_free(clinic, desk):
    clinic.existing(clinic.at(9, 30), chair=clinic.other_chair)  # Chair 2 held 09:30-10:10
    earliest = f"{clinic.day.isoformat()}T09:00"
    params = (
        f"procedure={clinic.filling.pk}&doctor={clinic.doctor.pk}&chair={clinic.other_chair.pk}"
        f"&earliest={earliest}&patient={clinic.patient.pk}"
    )

    html = desk.get(f"{reverse('scheduling:booking_slot_list')}?{params}", **HTMX).content.decode()

    chair_1, chair_2, an = clinic.chair.pk, clinic.other_chair.pk, clinic.doctor.pk
    assert openings_in(html) == [
        slot_value(clinic.at(9), chair_1, an, None),  # 09:00 + 40 minutes would reach 09:30
        slot_value(clinic.at(9, 15), chair_1, an, None),
        slot_value(clinic.at(9, 30), chair_1, an, None),
        slot_value(clinic.at(9, 45), chair_1, an, None),
        slot_value(clinic.at(10), chair_1, an, None),
        slot_value(clinic.at(10, 15), chair_2, an, None),  # Chair 2 free again
        slot_value(clinic.at(10, 30), chair_2, an, None),
        slot_value(clinic.at(10, 45), chair_2, an, None),
    ]


def test_slot_finder_waits_for_a_procedure(clinic, desk):
    html = desk.get(reverse("scheduling:booking_slot_list"), **HTMX).content.decode()

    assert "Choose a procedure to see the next openings." in html
    assert openings_in(html) == []


def book(client: Client, clinic: Clinic, starts_at: datetime, chair: Chair, **extra: str):
    data = {
        "patient": clinic.patient.pk, "procedure": clinic.filling.pk, "notes": "First visit",
        "slot": slot_value(starts_at, chair.pk, clinic.doctor.pk, None), **extra,
    }  # fmt: skip
    return client.post(reverse("scheduling:appointment_create"), data, **HTMX)


def test_booking_from_the_dialog_creates_the_appointment_and_reloads_the_calendar(
    clinic, desk, persona
):
    response = book(desk, clinic, clinic.at(9, 15), clinic.chair)

    booked = Appointment.objects.get()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "appointments-changed"
    assert "Booked." in response.content.decode()
    assert (booked.patient, booked.doctor, booked.chair, booked.procedure) == (
        clinic.patient, clinic.doctor, clinic.chair, clinic.filling,
    )  # fmt: skip
    assert booked.starts_at == clinic.at(9, 15)
    assert booked.ends_at == clinic.at(9, 45)
    assert (booked.status, booked.notes, booked.is_overbooked) == (S.BOOKED, "First visit", False)
    assert booked.booked_by == persona(Role.RECEPTIONIST)
    assert (
        AuditEvent.objects.filter(
            object_type="scheduling.appointment", object_id=str(booked.pk), action="create"
        ).count()
        == 1
    )


def test_booking_a_taken_time_shows_why_beside_the_opening_and_books_nothing(clinic, desk):
    taken = clinic.existing(clinic.at(9), chair=clinic.chair)

    response = book(desk, clinic, clinic.at(9, 15), clinic.chair)

    html = response.content.decode()
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    assert "Nothing was saved. Please correct:" in html
    assert "Chair 1 is taken by another appointment" in html
    assert Appointment.objects.get() == taken
    assert f'name="patient" value="{clinic.patient.pk}" checked' in html  # still chosen
    assert openings_in(html)  # other openings to pick instead


def test_booking_without_a_patient_or_opening_names_both_fields(clinic, desk):
    response = desk.post(
        reverse("scheduling:appointment_create"), {"procedure": clinic.filling.pk}, **HTMX
    )

    html = response.content.decode()
    assert 'href="#id_patient">Patient</a>: Search for the patient and choose them.' in html
    assert 'href="#id_slot">Opening</a>: Choose one of the openings.' in html
    assert not Appointment.objects.exists()


def test_only_staff_who_may_overbook_are_offered_it(clinic, desk, persona):
    clinic.existing(clinic.at(9), chair=clinic.chair)
    manager = Client()
    manager.force_login(persona(Role.BRANCH_MANAGER))

    form = manager.get(reverse("scheduling:appointment_create"), **HTMX).content.decode()
    refused = book(desk, clinic, clinic.at(9), clinic.chair, overbook="on")
    overbooked = book(manager, clinic, clinic.at(9), clinic.chair, overbook="on")

    assert 'name="overbook"' in form
    assert 'name="overbook"' not in refused.content.decode()
    assert overbooked["HX-Trigger"] == "appointments-changed"
    assert Appointment.objects.filter(is_overbooked=True).count() == 1


def test_booking_without_htmx_goes_back_to_the_day(clinic, desk):
    data = {
        "patient": clinic.patient.pk, "procedure": clinic.filling.pk,
        "slot": slot_value(clinic.at(10), clinic.chair.pk, clinic.doctor.pk, None),
    }  # fmt: skip

    response = desk.post(reverse("scheduling:appointment_create"), data)

    assert response.status_code == 302
    assert response["Location"] == day_url(clinic.day)
    assert Appointment.objects.count() == 1


def test_a_forged_opening_in_another_branch_is_refused(world, clinic, desk):
    foreign_chair = ChairFactory(branch=world.branch_b)

    response = book(desk, clinic, clinic.at(9), foreign_chair)

    assert "Choose one of the openings." in response.content.decode()
    assert not Appointment.objects.exists()


# --- the visit, one click at a time ------------------------------------------------------


def step(client: Client, appointment: Appointment, transition: str):
    url = reverse("scheduling:appointment_status", args=[appointment.pk, transition])
    return client.post(url, **HTMX)


def services_reason(service, appointment: Appointment) -> str:
    """What the service itself says when refusing this step (asked directly)."""
    with pytest.raises(InvalidInput) as refusal:
        service(actor=UserFactory(), appointment=appointment)
    return refusal.value.errors["status"][0]


def test_status_buttons_walk_an_appointment_through_the_visit(clinic, desk):
    booked = clinic.existing(clinic.at(9))
    seen = []

    for transition in ["confirm", "arrive", "seat", "complete"]:
        response = step(desk, booked, transition)
        booked.refresh_from_db()
        seen.append((response.status_code, response["HX-Trigger"], booked.status))
        assert f"Now: {booked.get_status_display()}." in response.content.decode()

    assert seen == [
        (200, "appointments-changed", status)
        for status in (S.CONFIRMED, S.ARRIVED, S.SEATED, S.COMPLETED)
    ]
    assert booked.confirmed_at and booked.arrived_at and booked.seated_at and booked.completed_at


def test_panel_offers_only_the_steps_the_status_allows(clinic, desk):
    arrived = clinic.existing(clinic.at(9), status=S.ARRIVED)

    html = desk.get(reverse("scheduling:appointment_detail", args=[arrived.pk]), **HTMX)

    buttons = re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', html.content.decode())
    assert buttons == ["Seated", "Cancel appointment"]


def test_an_illegal_step_shows_the_services_reason_and_changes_nothing(clinic, desk):
    booked = clinic.existing(clinic.at(9))

    response = step(desk, booked, "complete")

    assert response.status_code == 200
    assert "HX-Trigger" not in response
    assert escape(services_reason(complete_appointment, booked)) in response.content.decode()
    booked.refresh_from_db()
    assert (booked.status, booked.completed_at) == (S.BOOKED, None)


def test_no_show_only_once_the_time_has_come(clinic, desk):
    future = clinic.existing(clinic.at(9))
    past = clinic.existing(
        timezone.now().replace(second=0, microsecond=0) - timedelta(days=1),
        patient=clinic.patient, doctor=clinic.doctor, chair=clinic.chair,
    )  # fmt: skip

    refused = step(desk, future, "no_show")
    marked = step(desk, past, "no_show")

    assert escape(services_reason(mark_no_show, future)) in refused.content.decode()
    assert Appointment.objects.get(pk=future.pk).status == S.BOOKED
    assert marked["HX-Trigger"] == "appointments-changed"
    assert Appointment.objects.get(pk=past.pk).status == S.NO_SHOW


def test_an_unknown_step_is_not_found(clinic, desk):
    booked = clinic.existing(clinic.at(9))

    assert step(desk, booked, "teleport").status_code == 404


def test_cancelling_records_who_and_why(clinic, desk):
    booked = clinic.existing(clinic.at(9))

    response = desk.post(
        reverse("scheduling:appointment_cancel", args=[booked.pk]),
        {"cancelled_by": "patient", "reason": "Has the flu"}, **HTMX,
    )  # fmt: skip

    booked.refresh_from_db()
    assert response["HX-Trigger"] == "appointments-changed"
    assert "Cancelled." in response.content.decode()
    assert (booked.status, booked.cancelled_by, booked.cancel_reason) == (
        S.CANCELLED, "patient", "Has the flu",
    )  # fmt: skip
    assert booked.is_late_cancellation is False  # a week ahead


def test_cancelling_without_a_reason_names_the_field_and_changes_nothing(clinic, desk):
    booked = clinic.existing(clinic.at(9))

    response = desk.post(
        reverse("scheduling:appointment_cancel", args=[booked.pk]),
        {"cancelled_by": "clinic", "reason": ""}, **HTMX,
    )  # fmt: skip

    html = response.content.decode()
    reason = html[html.index('for="id_reason"') :].split("</div>")[0]
    assert '<p class="error">This field is required.</p>' in reason
    assert "HX-Trigger" not in response
    assert Appointment.objects.get(pk=booked.pk).status == S.BOOKED


# --- moving ------------------------------------------------------------------------------


def test_moving_to_a_typed_time_and_chair_reschedules(clinic, desk):
    booked = clinic.existing(clinic.at(9), patient=clinic.patient, doctor=clinic.doctor)
    url = reverse("scheduling:appointment_move", args=[booked.pk])

    form = desk.get(url, **HTMX).content.decode()
    response = desk.post(
        url,
        {"starts_at": f"{clinic.day.isoformat()}T11:30", "chair": clinic.chair.pk,
         "doctor": clinic.doctor.pk},
        **HTMX,
    )  # fmt: skip

    booked.refresh_from_db()
    assert f'value="{clinic.day.isoformat()}T09:00"' in form
    assert response["HX-Trigger"] == "appointments-changed"
    assert "Moved." in response.content.decode()
    assert (booked.starts_at, booked.chair, booked.rescheduled_count) == (
        clinic.at(11, 30), clinic.chair, 1,
    )  # fmt: skip


def test_moving_to_one_of_the_openings_takes_its_time_chair_and_doctor(clinic, desk):
    booked = clinic.existing(clinic.at(9), patient=clinic.patient)
    opening = slot_value(clinic.at(15), clinic.chair.pk, clinic.doctor.pk, None)

    desk.post(reverse("scheduling:appointment_move", args=[booked.pk]), {"slot": opening}, **HTMX)

    booked.refresh_from_db()
    assert (booked.starts_at, booked.chair, booked.doctor) == (
        clinic.at(15), clinic.chair, clinic.doctor,
    )  # fmt: skip


def test_moving_onto_a_taken_time_shows_why_and_keeps_the_old_time(clinic, desk):
    booked = clinic.existing(clinic.at(9), patient=clinic.patient, doctor=clinic.doctor)
    clinic.existing(clinic.at(12), chair=clinic.chair)

    response = desk.post(
        reverse("scheduling:appointment_move", args=[booked.pk]),
        {"starts_at": f"{clinic.day.isoformat()}T12:00", "chair": clinic.chair.pk,
         "doctor": clinic.doctor.pk},
        **HTMX,
    )  # fmt: skip

    assert "Chair 1 is taken by another appointment" in response.content.decode()
    booked.refresh_from_db()
    assert (booked.starts_at, booked.chair, booked.rescheduled_count) == (
        clinic.at(9), clinic.other_chair, 0,
    )  # fmt: skip


def test_moving_without_a_time_names_the_field(clinic, desk):
    booked = clinic.existing(clinic.at(9))

    response = desk.post(
        reverse("scheduling:appointment_move", args=[booked.pk]),
        {"chair": clinic.chair.pk, "doctor": clinic.other_doctor.pk}, **HTMX,
    )  # fmt: skip

    assert 'href="#id_starts_at">New time</a>: Give the new date and time.' in (
        response.content.decode()
    )


# --- the week and the day sheet ----------------------------------------------------------


def test_week_view_shows_one_doctors_week_in_seven_columns(clinic, desk):
    tuesday = clinic.existing(clinic.at(9), doctor=clinic.doctor)
    friday = clinic.existing(clinic.at(16, 30, days=3), doctor=clinic.doctor)
    someone_else = clinic.existing(clinic.at(10))

    html = desk.get(
        f"{reverse('scheduling:week_view')}?doctor={clinic.doctor.pk}&date={clinic.day}"
    ).content.decode()

    columns = COLUMN.findall(html)
    assert columns == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert placements(html) == {tuesday.pk: (5, 2, 0), friday.pk: (35, 2, 0)}
    assert column_of(html, tuesday) == "Tuesday" and column_of(html, friday) == "Friday"
    assert someone_else.pk not in placements(html)


def test_week_view_of_a_doctor_of_another_branch_is_not_found(world, clinic, desk):
    stranger = make_doctor(world.branch_b)

    response = desk.get(f"{reverse('scheduling:week_view')}?doctor={stranger.pk}")

    assert response.status_code == 404


def test_day_sheet_lists_each_chairs_day_in_order_with_phone_and_alerts(clinic, persona, logged_in):
    phoned = PatientFactory(home_branch=clinic.branch, phone="+84912345678")
    MedicalAlert.objects.create(
        patient=phoned, kind="allergy", description="Latex", severity="critical"
    )
    later = clinic.existing(clinic.at(14), patient=phoned, chair=clinic.chair, notes="Bring X-ray")
    earlier = clinic.existing(clinic.at(9), chair=clinic.chair, patient=clinic.patient)
    clinic.existing(clinic.at(10), status=S.CANCELLED)

    doctor_view = logged_in(persona(Role.DOCTOR)).get(
        f"{reverse('scheduling:day_sheet')}?date={clinic.day}"
    )
    chairs = doctor_view.context["chairs"]

    assert [(row.chair.name, row.appointments) for row in chairs] == [
        ("Chair 1", [earlier, later]), ("Chair 2", []),
    ]  # fmt: skip
    html = doctor_view.content.decode()
    assert "+84912345678" in html and "Bring X-ray" in html
    assert '<td class="num"><strong>1</strong></td>' in html


def test_day_sheet_hides_alert_counts_from_staff_without_medical_access(clinic, desk):
    clinic.existing(clinic.at(9))

    html = desk.get(f"{reverse('scheduling:day_sheet')}?date={clinic.day}").content.decode()

    assert "Alerts" not in html


# --- a busy day on a big branch ----------------------------------------------------------


def fill_big_branch(clinic: Clinic, per_chair: int) -> None:
    """20 chairs and 10 doctors; each chair booked `per_chair` times back to back."""
    chairs = [clinic.chair, clinic.other_chair] + [
        ChairFactory(branch=clinic.branch, name=f"Chair {n}", sort_order=n) for n in range(3, 21)
    ]
    doctors = [clinic.doctor, clinic.other_doctor] + [
        make_doctor(clinic.branch, last_name=f"Doctor {n}") for n in range(3, 11)
    ]
    tag = TagFactory(organization=clinic.branch.organization, name="VIP")
    for index, chair in enumerate(chairs):
        for slot in range(per_chair):
            patient = PatientFactory(home_branch=clinic.branch)
            if slot % 5 == 0:
                patient.tags.add(tag)
            AppointmentFactory(
                branch=clinic.branch, chair=chair, patient=patient, procedure=clinic.filling,
                doctor=doctors[index % 10],
                starts_at=clinic.at(8) + timedelta(minutes=40 * slot) + timedelta(hours=index // 10 * 6),
                ends_at=clinic.at(8, 30) + timedelta(minutes=40 * slot) + timedelta(hours=index // 10 * 6),
                blocked_until=clinic.at(8, 40) + timedelta(minutes=40 * slot) + timedelta(hours=index // 10 * 6),
                status=S.CONFIRMED if slot % 2 else S.BOOKED,
            )  # fmt: skip


@pytest.mark.parametrize("by", ["chair", "doctor"])
def test_a_busy_day_on_twenty_chairs_takes_a_fixed_handful_of_queries(
    clinic, desk, by, django_assert_max_num_queries
):
    fill_big_branch(clinic, per_chair=8)  # 160 appointments
    desk.get(day_url(clinic.day, by=by))  # warm the session

    # 12, plus one for the lab flags of the whole day (chairtime/labs, ADR 12), plus one for
    # the book's version the page polls (chairtime/frontdesk, ADR 14).
    with django_assert_max_num_queries(14):
        response = desk.get(day_url(clinic.day, by=by))

    assert response.status_code == 200
    assert len(placements(response.content.decode())) == 160


def test_the_day_sheet_of_a_busy_day_takes_a_fixed_handful_of_queries(
    clinic, desk, django_assert_max_num_queries
):
    fill_big_branch(clinic, per_chair=8)

    with django_assert_max_num_queries(12):
        response = desk.get(f"{reverse('scheduling:day_sheet')}?date={clinic.day}")

    assert sum(len(row.appointments) for row in response.context["chairs"]) == 160


# --- input at the edges of the calendar --------------------------------------------------


@pytest.mark.parametrize(
    "url_name", ["scheduling:day_view", "scheduling:week_view", "scheduling:day_sheet"]
)
@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "yesterday"])
def test_a_date_out_of_reach_shows_today_and_says_why(clinic, desk, url_name, raw):
    response = desk.get(f"{reverse(url_name)}?date={raw}")

    assert response.status_code == 200
    assert f"“{raw}” is not a date; showing today." in response.content.decode()


def test_times_out_of_reach_are_refused_naming_the_field(clinic, desk):
    booked = clinic.existing(clinic.at(9))
    far = slot_value(
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC), clinic.chair.pk, clinic.doctor.pk, None
    )

    dialog = desk.get(f"{reverse('scheduling:appointment_create')}?at=0001-01-01T00:00Z", **HTMX)
    openings = desk.get(
        f"{reverse('scheduling:booking_slot_list')}?procedure={clinic.filling.pk}"
        "&earliest=9999-12-31T23:00", **HTMX,
    )  # fmt: skip
    booking = book(desk, clinic, clinic.at(9), clinic.chair, slot=far)
    move = desk.post(
        reverse("scheduling:appointment_move", args=[booked.pk]),
        {"starts_at": "9999-12-31T23:30", "chair": clinic.chair.pk, "doctor": clinic.doctor.pk},
        **HTMX,
    )  # fmt: skip

    assert dialog.status_code == 200
    assert "Choose a procedure to see the next openings." in openings.content.decode()
    assert "Choose one of the openings." in booking.content.decode()
    assert "New time</a>: Give a date between 1900 and 2999." in move.content.decode()
    assert Appointment.objects.get().starts_at == clinic.at(9)
