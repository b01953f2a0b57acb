"""The appointment API at /api/v1/appointments and /api/v1/slots: authentication, tenancy,
capabilities, every endpoint's answer, and each bad input named by its field.

The clinic: branch A of acme (Ho Chi Minh City, UTC+7), open Monday to Saturday 08:00 to
20:00, with two chairs and two doctors working those hours. The clock is frozen at Monday
2030-01-07 07:00 local (the API has no `now` to pass in); bookings are on Tuesday the 8th.
A filling takes 30 minutes plus a 10-minute cleaning buffer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.accounts.services import create_api_token
from chairtime.audit.models import AuditEvent
from chairtime.clinical.models import Procedure
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment, Chair
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    MembershipFactory,
    PatientFactory,
    ProcedureFactory,
    make_doctor,
    open_branch,
)

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")
URL = "/api/v1/appointments"
SLOTS = "/api/v1/slots"
NOT_FOUND = {"detail": "Not found."}
UNAUTHENTICATED = {"detail": "Log in or send a valid API token."}
INVALID = "The input is not valid."
TAKEN = "Something this needs is already taken."


def local(day: int, hour: int, minute: int = 0, *, month: int = 1) -> datetime:
    """An instant in January 2030 (or `month`), wall clock in Ho Chi Minh City."""
    return datetime(2030, month, day, hour, minute, tzinfo=HO_CHI_MINH)


def iso(day: int, hour: int, minute: int = 0, *, month: int = 1) -> str:
    """How the API writes that instant: ISO 8601 with the branch's offset."""
    return local(day, hour, minute, month=month).isoformat()


NOW = local(7, 7)  # Monday 07:00


@dataclass
class Clock:
    now: datetime


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Freeze Django's clock (services, auto timestamps) at `NOW`, or where a test moves it."""
    frozen = Clock(NOW)
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    yield frozen


@dataclass
class Clinic:
    branch: Branch
    receptionist: User
    doctor: User  # An Trần
    other_doctor: User  # Bình Lê
    chair: Chair  # Chair 1
    other_chair: Chair  # Chair 2
    patient: Patient  # Nguyễn Văn An
    other_patient: Patient
    filling: Procedure  # FILL, restorative, 30 minutes

    def booking(self, **changes: Any) -> dict[str, Any]:
        """A filling for the patient with An Trần in Chair 1 on Tuesday at 09:00."""
        body = {
            "patient": self.patient.pk, "procedure": self.filling.pk, "doctor": self.doctor.pk,
            "chair": self.chair.pk, "starts_at": iso(8, 9),
        }  # fmt: skip
        return {**body, **changes}

    def existing(self, starts_at: datetime, **fields: Any) -> Appointment:
        """An appointment already in the book, written straight to the table: 30 minutes
        plus a 10-minute buffer, the other patient with the other doctor in Chair 2 unless
        told otherwise."""
        values = {
            "patient": self.other_patient, "doctor": self.other_doctor, "chair": self.other_chair,
            "procedure": self.filling, **fields,
        }  # fmt: skip
        return AppointmentFactory(
            branch=self.branch, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30),
            blocked_until=starts_at + timedelta(minutes=40), **values,
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
        chair=ChairFactory(branch=branch, name="Chair 1", sort_order=1),
        other_chair=ChairFactory(branch=branch, name="Chair 2", sort_order=2),
        patient=PatientFactory(
            home_branch=branch, family_name="Nguyễn", given_name="Văn An", number="P000001"
        ),
        other_patient=PatientFactory(home_branch=branch),
        filling=ProcedureFactory(
            organization=world.acme,
            code="FILL",
            name="Filling",
            category="restorative",
            default_duration_minutes=30,
        ),
    )


def client_for(user: User, **headers: str) -> Client:
    """A script calling the API with the user's bearer token."""
    _, secret = create_api_token(actor=user, name="Script")
    return Client(headers={"Authorization": f"Bearer {secret}", **headers})


@pytest.fixture
def api(clinic: Clinic) -> Client:
    """The receptionist: may view and book, may not overbook."""
    return client_for(clinic.receptionist)


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, json.dumps(body or {}), content_type="application/json")


def counts() -> tuple[int, int]:
    return Appointment.objects.count(), AuditEvent.objects.count()


def expected(clinic: Clinic, appointment_id: int, **changes: Any) -> dict[str, Any]:
    """The body of the standard booking (`Clinic.booking`) as the API shows it."""
    body = {
        "id": appointment_id, "branch_id": clinic.branch.pk,
        "patient_id": clinic.patient.pk, "patient_name": "Nguyễn Văn An",
        "procedure_id": clinic.filling.pk, "procedure_code": "FILL", "procedure_name": "Filling",
        "doctor_id": clinic.doctor.pk, "doctor_name": "An Trần", "assistant_id": None,
        "chair_id": clinic.chair.pk, "chair_name": "Chair 1", "equipment": [], "series_id": None,
        "starts_at": "2030-01-08T09:00:00+07:00", "ends_at": "2030-01-08T09:30:00+07:00",
        "blocked_until": "2030-01-08T09:40:00+07:00", "status": "booked",
        "is_walk_in": False, "is_overbooked": False, "confirmed_at": None, "arrived_at": None,
        "seated_at": None, "completed_at": None, "cancelled_at": None, "no_show_at": None,
        "cancelled_by": "", "cancel_reason": "", "is_late_cancellation": False,
        "rescheduled_count": 0, "notes": "",
    }  # fmt: skip
    return {**body, **changes}


def refused(response: Any, status: int = 422) -> dict[str, list[str]]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["detail"] == (TAKEN if status == 409 else INVALID)
    errors: dict[str, list[str]] = body["errors"]
    return errors


def book(api: Client, clinic: Clinic, **changes: Any) -> dict[str, Any]:
    response = post(api, URL, clinic.booking(**changes))
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


# --- authentication and tenancy --------------------------------------------------------------

ENDPOINTS = [
    ("get", URL), ("post", URL), ("get", f"{URL}/1"), ("post", f"{URL}/walk-ins"),
    ("post", f"{URL}/series"), ("post", f"{URL}/1/reschedule"), ("post", f"{URL}/1/cancel"),
    ("post", f"{URL}/1/confirm"), ("post", f"{URL}/1/arrive"), ("post", f"{URL}/1/seat"),
    ("post", f"{URL}/1/complete"), ("post", f"{URL}/1/no-show"), ("get", f"{SLOTS}?procedure=1"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_refuses_every_endpoint_without_credentials(world: World, method: str, url: str) -> None:
    before = counts()
    response = getattr(Client(), method)(url)
    assert response.status_code == 401
    assert response.json() == UNAUTHENTICATED
    assert counts() == before


# Each action with a body of the right shape (a wrong shape is a 422 before any lookup).
ACTION_BODIES: dict[str, dict[str, Any]] = {
    "reschedule": {"starts_at": iso(8, 14)},
    "cancel": {"cancelled_by": "clinic", "reason": "Doctor ill"},
    "confirm": {}, "arrive": {}, "seat": {}, "complete": {}, "no-show": {},
}  # fmt: skip
ACTIONS = list(ACTION_BODIES)


@pytest.mark.parametrize("action", ACTIONS)
def test_an_unknown_appointment_is_not_found(api: Client, action: str) -> None:
    assert api.get(f"{URL}/999999").json() == NOT_FOUND
    response = post(api, f"{URL}/999999/{action}", ACTION_BODIES[action])
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize("action", ["", *ACTIONS])
def test_another_branchs_appointment_looks_missing(
    world: World, clinic: Clinic, api: Client, action: str
) -> None:
    """The receptionist works in branch A only: branch B's book does not exist for them."""
    theirs = AppointmentFactory(branch=world.branch_b, starts_at=local(8, 9))
    before = counts()
    response = (
        post(api, f"{URL}/{theirs.pk}/{action}", ACTION_BODIES[action])
        if action
        else api.get(f"{URL}/{theirs.pk}")
    )
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert counts() == before


def test_another_organisation_sees_nothing(
    world: World, clinic: Clinic, api: Client, outsider: User
) -> None:
    mine = book(api, clinic)
    rival = client_for(outsider)
    assert rival.get(f"{URL}/{mine['id']}").status_code == 404
    assert rival.get(URL).json() == {"items": [], "count": 0}
    named = client_for(outsider, **{"X-Branch": str(clinic.branch.pk)})
    assert (named.get(URL).status_code, named.get(URL).json()) == (404, NOT_FOUND)


def test_a_user_without_the_schedule_sees_no_appointment(
    clinic: Clinic, api: Client, persona: Callable[[Role], User]
) -> None:
    mine = book(api, clinic)
    marketer = client_for(persona(Role.MARKETER))
    for url in (URL, f"{URL}/{mine['id']}", f"{SLOTS}?procedure={clinic.filling.pk}"):
        assert (marketer.get(url).status_code, marketer.get(url).json()) == (404, NOT_FOUND)


def test_a_user_who_may_only_view_cannot_book_or_change(
    clinic: Clinic, api: Client, persona: Callable[[Role], User]
) -> None:
    """A nurse sees the book but writes nothing: the writes look missing to them."""
    mine = book(api, clinic)
    nurse = client_for(persona(Role.NURSE))
    assert nurse.get(f"{URL}/{mine['id']}").json() == expected(clinic, mine["id"])
    before = counts()
    assert post(nurse, URL, clinic.booking(starts_at=iso(8, 11))).status_code == 404
    assert post(nurse, f"{URL}/{mine['id']}/confirm").status_code == 404
    assert counts() == before


# --- booking ------------------------------------------------------------------------------


def test_books_an_appointment(clinic: Clinic, api: Client) -> None:
    before = counts()
    response = post(api, URL, clinic.booking(notes="Upper left molar"))
    assert response.status_code == 201
    appointment = Appointment.objects.get()
    assert response.json() == expected(clinic, appointment.pk, notes="Upper left molar")
    assert appointment.booked_by == clinic.receptionist
    assert counts() == (before[0] + 1, before[1] + 1)


def test_accepts_any_offset_and_answers_in_the_branchs_zone(clinic: Clinic, api: Client) -> None:
    body = book(api, clinic, starts_at="2030-01-08T02:00:00Z")
    assert (body["starts_at"], body["ends_at"]) == (
        "2030-01-08T09:00:00+07:00", "2030-01-08T09:30:00+07:00",
    )  # fmt: skip
    body = book(api, clinic, starts_at="2030-01-08T04:00:00+01:00")
    assert body["starts_at"] == "2030-01-08T10:00:00+07:00"


def test_reads_one_appointment(clinic: Clinic, api: Client) -> None:
    mine = book(api, clinic)
    response = api.get(f"{URL}/{mine['id']}")
    assert response.status_code == 200
    assert response.json() == expected(clinic, mine["id"])


def test_conflict_is_409_naming_what_is_taken(clinic: Clinic, api: Client) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair)
    before = counts()
    errors = refused(post(api, URL, clinic.booking()), status=409)
    assert errors == {
        "starts_at": ["Chair 1 is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.)."]
    }
    assert counts() == before


def test_conflict_names_every_resource_that_is_taken(clinic: Clinic, api: Client) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair, doctor=clinic.doctor)
    errors = refused(post(api, URL, clinic.booking(starts_at=iso(8, 9, 15))), status=409)
    assert errors == {
        "starts_at": [
            "Chair 1 is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.).",
            "An Trần is taken by another appointment (01/08/2030 9 a.m.–9:30 a.m.).",
        ]
    }


def test_overbooks_only_with_the_capability(
    clinic: Clinic, api: Client, persona: Callable[[Role], User]
) -> None:
    clinic.existing(local(8, 9), chair=clinic.chair)
    before = counts()
    errors = refused(post(api, URL, clinic.booking(overbook=True)))
    assert errors == {"overbook": ["You may not overbook."]}
    assert counts() == before

    manager = client_for(persona(Role.BRANCH_MANAGER))
    response = post(manager, URL, clinic.booking(overbook=True))
    assert response.status_code == 201
    assert response.json() == expected(clinic, response.json()["id"], is_overbooked=True)


BAD_STARTS = [
    ("2030-01-08T09:00:00+25:00", "Give the date and time in ISO 8601 with its offset, e.g. 2030-01-07T09:30:00+07:00."),
    ("2030-01-08T09:00:00+07:60", "Give the date and time in ISO 8601 with its offset, e.g. 2030-01-07T09:30:00+07:00."),
    ("2030-01-08T09:00:00+7", "Give the date and time in ISO 8601 with its offset, e.g. 2030-01-07T09:30:00+07:00."),
    ("next tuesday", "Give the date and time in ISO 8601 with its offset, e.g. 2030-01-07T09:30:00+07:00."),
    ("2030-01-08T09:00:00", "Give the time with its time zone."),
    ("2030-01-08", "Give the time with its time zone."),
    ("2030-01-05T09:00:00+07:00", "The time is in the past."),  # last Saturday
    ("2030-07-15T09:00:00+07:00", "The date is beyond the branch's booking horizon."),
]  # fmt: skip


@pytest.mark.parametrize(("starts_at", "message"), BAD_STARTS)
def test_refuses_a_bad_start_naming_the_field(
    clinic: Clinic, api: Client, starts_at: str, message: str
) -> None:
    before = counts()
    errors = refused(post(api, URL, clinic.booking(starts_at=starts_at)))
    assert errors == {"starts_at": [message]}
    assert counts() == before


def test_refuses_a_doctor_not_qualified(world: World, clinic: Clinic, api: Client) -> None:
    hygienist = make_doctor(clinic.branch, categories=("hygiene",))
    errors = refused(post(api, URL, clinic.booking(doctor=hygienist.pk)))
    assert errors == {"doctor": ["This doctor is not qualified for this procedure."]}


@pytest.mark.parametrize("where", ["branch_b", "rival_branch"])
def test_refuses_a_chair_or_doctor_of_another_branch(
    world: World, clinic: Clinic, api: Client, where: str
) -> None:
    branch = getattr(world, where)
    chair = ChairFactory(branch=branch)
    doctor = make_doctor(branch)
    before = counts()
    errors = refused(post(api, URL, clinic.booking(chair=chair.pk, doctor=doctor.pk)))
    assert errors == {
        "chair": ["This chair is not in this branch."],
        "doctor": ["This doctor does not work in this branch."],
    }
    assert counts() == before


def test_refuses_an_unknown_patient_and_another_organisations(
    world: World, clinic: Clinic, api: Client
) -> None:
    theirs = PatientFactory(home_branch=world.rival_branch)
    for patient_id in (999999, theirs.pk):
        errors = refused(post(api, URL, clinic.booking(patient=patient_id)))
        assert errors == {"patient": ["No such patient."]}


def test_refuses_another_organisations_procedure(world: World, clinic: Clinic, api: Client) -> None:
    theirs = ProcedureFactory(organization=world.rival)
    errors = refused(post(api, URL, clinic.booking(procedure=theirs.pk)))
    assert errors == {"procedure": ["No such procedure."]}


def test_names_every_bad_field_at_once(world: World, clinic: Clinic, api: Client) -> None:
    body = clinic.booking(
        patient=999999, procedure=999999, doctor=999999, chair=999999, assistant=999999,
        starts_at="2030-01-08T09:00:00",
    )  # fmt: skip
    assert refused(post(api, URL, body)) == {
        "patient": ["No such patient."],
        "procedure": ["No such procedure."],
        "doctor": ["This doctor does not work in this branch."],
        "chair": ["This chair is not in this branch."],
        "assistant": ["This assistant does not work in this branch."],
        "starts_at": ["Give the time with its time zone."],
    }


def test_refuses_a_doctor_whose_only_tie_here_is_another_organisation(
    world: World, clinic: Clinic, api: Client
) -> None:
    """A doctor of acme's branch B who is also an owner at the rival group works in
    neither acme's branch A nor, through the rival, anywhere of acme's."""
    doctor = make_doctor(world.branch_b)
    MembershipFactory(user=doctor, organization=world.rival, branch=None, role=Role.OWNER)
    errors = refused(post(api, URL, clinic.booking(doctor=doctor.pk)))
    assert errors == {"doctor": ["This doctor does not work in this branch."]}


def test_an_id_too_large_for_the_database_is_bad_input(clinic: Clinic, api: Client) -> None:
    huge = 2**64
    assert sorted(refused(post(api, URL, clinic.booking(chair=huge)))) == ["chair"]
    assert sorted(refused(api.get(URL, {"patient": huge}))) == ["patient"]
    assert api.get(f"{URL}/{huge}").status_code == 404


def test_refuses_a_body_of_the_wrong_shape(clinic: Clinic, api: Client) -> None:
    response = post(api, URL, {"patient": "one", "procedure": clinic.filling.pk})
    errors = refused(response)
    assert sorted(errors) == ["chair", "doctor", "patient", "starts_at"]


# --- the list -----------------------------------------------------------------------------


def test_lists_a_day_by_doctor_chair_and_patient(clinic: Clinic, api: Client) -> None:
    first = book(api, clinic)
    second = book(
        api, clinic, starts_at=iso(8, 10), doctor=clinic.other_doctor.pk,
        chair=clinic.other_chair.pk, patient=clinic.other_patient.pk,
    )  # fmt: skip
    wednesday = book(api, clinic, starts_at=iso(9, 9))

    def ids(**params: Any) -> list[int]:
        response = api.get(URL, params)
        assert response.status_code == 200
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [first["id"], second["id"], wednesday["id"]]
    assert ids(day="2030-01-08") == [first["id"], second["id"]]
    assert ids(day="2030-01-08", doctor=clinic.doctor.pk) == [first["id"]]
    assert ids(doctor=clinic.doctor.pk) == [first["id"], wednesday["id"]]
    assert ids(chair=clinic.other_chair.pk) == [second["id"]]
    assert ids(patient=clinic.other_patient.pk) == [second["id"]]
    assert ids(day="2030-01-10") == []
    assert api.get(URL, {"day": "2030-01-08"}).json()["items"][0] == expected(clinic, first["id"])


def test_lists_a_page_at_a_time(clinic: Clinic, api: Client) -> None:
    booked = [book(api, clinic, starts_at=iso(8, hour))["id"] for hour in (9, 10, 11)]
    page = api.get(URL, {"limit": 2, "offset": 1}).json()
    assert (page["count"], [item["id"] for item in page["items"]]) == (3, booked[1:])


def test_lists_without_a_query_per_appointment(clinic: Clinic, api: Client) -> None:
    def queries_to_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(URL, {"day": "2030-01-08"}).status_code == 200
        return len(queries)

    clinic.existing(local(8, 9))
    one = queries_to_list()
    for hour in (10, 11, 12, 13):
        clinic.existing(local(8, hour), patient=PatientFactory(home_branch=clinic.branch))
    assert queries_to_list() == one


def test_the_day_is_the_branchs_local_day(clinic: Clinic, api: Client) -> None:
    """00:30 local on the 8th is still the 7th in UTC; 23:30 local is the 8th in UTC too."""
    early = clinic.existing(local(8, 0, 30))
    late = clinic.existing(local(8, 23, 30))
    clinic.existing(local(9, 0, 30))
    items = api.get(URL, {"day": "2030-01-08"}).json()["items"]
    assert [item["id"] for item in items] == [early.pk, late.pk]


def test_lists_a_daylight_saving_day_of_25_hours(world: World, api: Client, clinic: Clinic) -> None:
    """Madrid falls back on 27 October 2030: its local day runs 25 hours."""
    clinic.branch.time_zone = "Europe/Madrid"
    clinic.branch.save(update_fields=["time_zone"])
    madrid = ZoneInfo("Europe/Madrid")
    first = clinic.existing(datetime(2030, 10, 27, 0, 15, tzinfo=madrid))
    last = clinic.existing(datetime(2030, 10, 27, 23, 15, tzinfo=madrid))
    clinic.existing(datetime(2030, 10, 28, 0, 15, tzinfo=madrid))
    items = api.get(URL, {"day": "2030-10-27"}).json()["items"]
    assert [(item["id"], item["starts_at"]) for item in items] == [
        (first.pk, "2030-10-27T00:15:00+02:00"),
        (last.pk, "2030-10-27T23:15:00+01:00"),
    ]


def test_refuses_a_malformed_day(clinic: Clinic, api: Client) -> None:
    assert sorted(refused(api.get(URL, {"day": "8 January"}))) == ["day"]


# --- moving and cancelling ---------------------------------------------------------------


def test_moves_an_appointment_to_another_time_and_chair(clinic: Clinic, api: Client) -> None:
    mine = book(api, clinic)
    post(api, f"{URL}/{mine['id']}/confirm")
    response = post(
        api, f"{URL}/{mine['id']}/reschedule",
        {"starts_at": iso(8, 14), "chair": clinic.other_chair.pk},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json() == expected(
        clinic, mine["id"], chair_id=clinic.other_chair.pk, chair_name="Chair 2",
        starts_at="2030-01-08T14:00:00+07:00", ends_at="2030-01-08T14:30:00+07:00",
        blocked_until="2030-01-08T14:40:00+07:00", rescheduled_count=1,
    )  # fmt: skip


def test_moves_to_another_doctor(clinic: Clinic, api: Client) -> None:
    mine = book(api, clinic)
    response = post(
        api, f"{URL}/{mine['id']}/reschedule",
        {"starts_at": iso(8, 9), "doctor": clinic.other_doctor.pk},
    )  # fmt: skip
    assert response.json() == expected(
        clinic, mine["id"], doctor_id=clinic.other_doctor.pk, doctor_name="Bình Lê",
        rescheduled_count=1,
    )  # fmt: skip


def test_refuses_a_move_onto_a_taken_time_with_409(clinic: Clinic, api: Client) -> None:
    mine = book(api, clinic)
    clinic.existing(local(8, 14), chair=clinic.chair)
    before = counts()
    errors = refused(post(api, f"{URL}/{mine['id']}/reschedule", {"starts_at": iso(8, 14)}), 409)
    assert errors == {
        "starts_at": ["Chair 1 is taken by another appointment (01/08/2030 2 p.m.–2:30 p.m.)."]
    }
    assert counts() == before
    assert api.get(f"{URL}/{mine['id']}").json() == expected(clinic, mine["id"])


def test_refuses_a_move_with_bad_input_naming_each_field(
    world: World, clinic: Clinic, api: Client
) -> None:
    mine = book(api, clinic)
    body = {
        "starts_at": "2030-01-08T14:00:00+25:00",
        "chair": ChairFactory(branch=world.branch_b).pk,
        "doctor": make_doctor(world.rival_branch).pk,
    }
    assert refused(post(api, f"{URL}/{mine['id']}/reschedule", body)) == {
        "starts_at": [
            "Give the date and time in ISO 8601 with its offset, e.g. 2030-01-07T09:30:00+07:00."
        ],
        "chair": ["This chair is not in this branch."],
        "doctor": ["This doctor does not work in this branch."],
    }
    errors = refused(post(api, f"{URL}/{mine['id']}/reschedule", {"starts_at": iso(5, 9)}))
    assert errors == {"starts_at": ["The time is in the past."]}


def test_cancels_an_appointment(clinic: Clinic, api: Client, clock: Clock) -> None:
    mine = book(api, clinic)
    clock.now = local(7, 12)  # 21 hours before: late
    response = post(
        api, f"{URL}/{mine['id']}/cancel", {"cancelled_by": "patient", "reason": "Sick"}
    )
    assert response.status_code == 200
    assert response.json() == expected(
        clinic, mine["id"], status="cancelled", cancelled_at="2030-01-07T12:00:00+07:00",
        cancelled_by="patient", cancel_reason="Sick", is_late_cancellation=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"cancelled_by": "dentist", "reason": "Sick"},
         {"cancelled_by": ["Say who cancelled: the patient or the clinic."]}),
        ({"cancelled_by": "clinic", "reason": "  "},
         {"reason": ["Give a reason for the cancellation."]}),
    ],
)  # fmt: skip
def test_refuses_a_cancellation_without_who_or_why(
    clinic: Clinic, api: Client, body: dict[str, str], errors: dict[str, list[str]]
) -> None:
    mine = book(api, clinic)
    assert refused(post(api, f"{URL}/{mine['id']}/cancel", body)) == errors
    assert api.get(f"{URL}/{mine['id']}").json()["status"] == "booked"


# --- the visit ----------------------------------------------------------------------------


def test_walks_a_visit_from_booking_to_completion(
    clinic: Clinic, api: Client, clock: Clock
) -> None:
    mine = book(api, clinic)
    steps = [
        ("confirm", local(7, 10), "confirmed", "confirmed_at"),
        ("arrive", local(8, 8, 50), "arrived", "arrived_at"),
        ("seat", local(8, 9, 2), "seated", "seated_at"),
        ("complete", local(8, 9, 31), "completed", "completed_at"),
    ]
    stamps: dict[str, str] = {}
    for action, at, status, stamp in steps:
        clock.now = at
        response = post(api, f"{URL}/{mine['id']}/{action}")
        assert response.status_code == 200, response.content
        stamps[stamp] = at.isoformat()
        assert response.json() == expected(clinic, mine["id"], status=status, **stamps)


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("seat", "The appointment is “Booked”, so it cannot be seated."),
        ("complete", "The appointment is “Booked”, so it cannot be completed."),
    ],
)
def test_refuses_a_step_out_of_order(
    clinic: Clinic, api: Client, action: str, message: str
) -> None:
    mine = book(api, clinic)
    before = counts()
    assert refused(post(api, f"{URL}/{mine['id']}/{action}")) == {"status": [message]}
    assert counts() == before


def test_marks_a_no_show_once_the_time_has_come(clinic: Clinic, api: Client, clock: Clock) -> None:
    mine = book(api, clinic)
    errors = refused(post(api, f"{URL}/{mine['id']}/no-show"))
    assert errors == {"status": ["A patient cannot miss an appointment that has not started."]}
    clock.now = local(8, 9, 20)
    response = post(api, f"{URL}/{mine['id']}/no-show")
    assert response.status_code == 200
    assert response.json() == expected(
        clinic, mine["id"], status="no_show", no_show_at="2030-01-08T09:20:00+07:00"
    )


def test_books_a_walk_in_from_now_and_marks_it_arrived(
    clinic: Clinic, api: Client, clock: Clock
) -> None:
    clock.now = local(7, 10, 7) + timedelta(seconds=30)
    body = {k: v for k, v in clinic.booking().items() if k != "starts_at"}
    response = post(api, f"{URL}/walk-ins", body)
    assert response.status_code == 201, response.content
    assert response.json() == expected(
        clinic, response.json()["id"], starts_at="2030-01-07T10:07:00+07:00",
        ends_at="2030-01-07T10:37:00+07:00", blocked_until="2030-01-07T10:47:00+07:00",
        status="arrived", arrived_at="2030-01-07T10:07:30+07:00", is_walk_in=True,
    )  # fmt: skip


def test_refuses_a_walk_in_when_the_chair_is_taken(
    clinic: Clinic, api: Client, clock: Clock
) -> None:
    clinic.existing(local(7, 10), chair=clinic.chair)
    clock.now = local(7, 10, 15)
    body = {k: v for k, v in clinic.booking().items() if k != "starts_at"}
    errors = refused(post(api, f"{URL}/walk-ins", body), 409)
    assert errors == {
        "starts_at": ["Chair 1 is taken by another appointment (01/07/2030 10 a.m.–10:30 a.m.)."]
    }


# --- series -------------------------------------------------------------------------------


def test_books_a_weekly_series(clinic: Clinic, api: Client) -> None:
    response = post(api, f"{URL}/series", clinic.booking(interval_days=7, count=3))
    assert response.status_code == 201, response.content
    body = response.json()
    series_id = body["id"]
    assert (body["interval_days"], body["count"]) == (7, 3)
    assert body["appointments"] == [
        expected(
            clinic,
            appointment.pk,
            series_id=series_id,
            starts_at=f"2030-01-{day:02d}T09:00:00+07:00",
            ends_at=f"2030-01-{day:02d}T09:30:00+07:00",
            blocked_until=f"2030-01-{day:02d}T09:40:00+07:00",
        )
        for appointment, day in zip(
            Appointment.objects.order_by("starts_at"), (8, 15, 22), strict=True
        )
    ]


def test_refuses_a_whole_series_naming_the_occurrence_that_conflicts(
    clinic: Clinic, api: Client
) -> None:
    clinic.existing(local(22, 9), chair=clinic.chair)
    before = counts()
    errors = refused(post(api, f"{URL}/series", clinic.booking(interval_days=7, count=3)), 409)
    assert errors == {
        "starts_at": [
            "Occurrence 3 (2030-01-22 09:00): "
            "Chair 1 is taken by another appointment (01/22/2030 9 a.m.–9:30 a.m.)."
        ]
    }
    assert counts() == before


@pytest.mark.parametrize(
    ("shape", "errors"),
    [
        ({"interval_days": 0, "count": 3}, {"interval_days": ["Give an interval between 1 and 366 days."]}),
        ({"interval_days": 7, "count": 1}, {"count": ["Give between 2 and 52 occurrences."]}),
    ],
)  # fmt: skip
def test_refuses_a_series_of_bad_shape(
    clinic: Clinic, api: Client, shape: dict[str, int], errors: dict[str, list[str]]
) -> None:
    before = counts()
    assert refused(post(api, f"{URL}/series", clinic.booking(**shape))) == errors
    assert counts() == before


# --- the slot finder ----------------------------------------------------------------------


def slots(api: Client, **params: Any) -> Any:
    return api.get(SLOTS, params)


def test_finds_the_next_openings(clinic: Clinic, api: Client) -> None:
    """The doctor is busy until 09:30 and helps clean Chair 1 until 09:40: the next start
    on the 15-minute grid is 09:45, in either chair, the lower chair first."""
    clinic.existing(local(8, 9), chair=clinic.chair, doctor=clinic.doctor)
    response = slots(
        api, procedure=clinic.filling.pk, doctor=clinic.doctor.pk, earliest=iso(8, 9), limit=3
    )
    assert response.status_code == 200
    doctor = {"doctor_id": clinic.doctor.pk, "doctor_name": "An Trần", "assistant_id": None}
    chair_1 = {"chair_id": clinic.chair.pk, "chair_name": "Chair 1"}
    chair_2 = {"chair_id": clinic.other_chair.pk, "chair_name": "Chair 2"}
    assert response.json() == [
        {"starts_at": "2030-01-08T09:45:00+07:00", "ends_at": "2030-01-08T10:15:00+07:00",
         "blocked_until": "2030-01-08T10:25:00+07:00", **doctor, **chair_1},
        {"starts_at": "2030-01-08T09:45:00+07:00", "ends_at": "2030-01-08T10:15:00+07:00",
         "blocked_until": "2030-01-08T10:25:00+07:00", **doctor, **chair_2},
        {"starts_at": "2030-01-08T10:00:00+07:00", "ends_at": "2030-01-08T10:30:00+07:00",
         "blocked_until": "2030-01-08T10:40:00+07:00", **doctor, **chair_1},
    ]  # fmt: skip


def test_finds_openings_in_the_asked_time_of_day(clinic: Clinic, api: Client) -> None:
    response = slots(
        api, procedure=clinic.filling.pk, doctor=clinic.other_doctor.pk,
        preferences="weekday_evenings", limit=1,
    )  # fmt: skip
    assert [(s["starts_at"], s["doctor_name"]) for s in response.json()] == [
        ("2030-01-07T17:00:00+07:00", "Bình Lê")
    ]


def test_keeps_the_patient_free_and_puts_their_doctor_first(clinic: Clinic, api: Client) -> None:
    """The patient is in a third doctor's chair until 09:30; then both doctors are free,
    and An Trần, their preferred doctor, comes first (Bình Lê would, by name)."""
    clinic.patient.preferred_doctor = clinic.doctor
    clinic.patient.save(update_fields=["preferred_doctor"])
    clinic.existing(local(8, 9), patient=clinic.patient, doctor=make_doctor(clinic.branch))
    response = slots(
        api, procedure=clinic.filling.pk, patient=clinic.patient.pk, earliest=iso(8, 9),
        preferences="", limit=1,
    )  # fmt: skip
    assert [(s["starts_at"], s["doctor_name"]) for s in response.json()] == [
        ("2030-01-08T09:30:00+07:00", "An Trần")
    ]


def test_refuses_bad_slot_questions_naming_each_field(
    world: World, clinic: Clinic, api: Client
) -> None:
    hygienist = make_doctor(clinic.branch, categories=("hygiene",))
    response = slots(
        api, procedure=clinic.filling.pk, doctor=hygienist.pk, earliest="2030-01-08T09:00",
        preferences="weekday_evenings,lunchtime",
    )  # fmt: skip
    assert refused(response) == {
        "earliest": ["Give the time with its time zone."],
        "preferences": [
            "Unknown time preference: lunchtime. Choose from weekday_mornings, "
            "weekday_afternoons, weekday_evenings, weekends."
        ],
        "doctor": ["This doctor is not qualified for this procedure."],
    }
    theirs = make_doctor(world.branch_b)
    patient = PatientFactory(home_branch=world.rival_branch)
    procedure = ProcedureFactory(organization=world.rival)
    response = slots(api, procedure=procedure.pk, doctor=theirs.pk, patient=patient.pk)
    assert refused(response) == {
        "procedure": ["No such procedure."],
        "patient": ["No such patient."],
        "doctor": ["This doctor does not work in this branch."],
    }
    assert sorted(refused(slots(api, procedure=clinic.filling.pk, limit=0))) == ["limit"]
    assert sorted(refused(slots(api))) == ["procedure"]


# --- the document -------------------------------------------------------------------------


def test_openapi_document_lists_the_appointment_paths(world: World) -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    operations = {
        path: {method: op["summary"] for method, op in methods.items()}
        for path, methods in paths.items()
        if path.startswith(("/api/v1/appointments", "/api/v1/slots"))
    }
    assert operations == {
        "/api/v1/appointments": {"get": "List appointments", "post": "Book an appointment"},
        "/api/v1/appointments/{appointment_id}": {"get": "One appointment"},
        "/api/v1/appointments/walk-ins": {"post": "Book a walk-in"},
        "/api/v1/appointments/series": {"post": "Book a series"},
        "/api/v1/appointments/{appointment_id}/reschedule": {"post": "Move an appointment"},
        "/api/v1/appointments/{appointment_id}/cancel": {"post": "Cancel an appointment"},
        "/api/v1/appointments/{appointment_id}/confirm": {"post": "Confirm"},
        "/api/v1/appointments/{appointment_id}/arrive": {"post": "Mark arrived"},
        "/api/v1/appointments/{appointment_id}/seat": {"post": "Seat in the chair"},
        "/api/v1/appointments/{appointment_id}/complete": {"post": "Complete"},
        "/api/v1/appointments/{appointment_id}/no-show": {"post": "Mark a no-show"},
        "/api/v1/slots": {"get": "Find openings"},
    }
    booking = paths["/api/v1/appointments"]["post"]
    assert sorted(booking["responses"]) == ["201"]
