"""The calendar feed: its page, its secret URL, what it says (read back with the icalendar
library as a calendar app would), and the library itself against other projects' .ics
test files (../shared/interop/ical).

The clinic: branch A of acme (Ho Chi Minh City, UTC+7, no daylight saving); "now" is
Monday 2030-01-07 07:00 local (Django's clock is frozen there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone
from icalendar import Calendar, Component

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.clinical.models import Procedure
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment, CalendarFeedToken, Chair
from chairtime.scheduling.services import rotate_calendar_feed_token
from chairtime.tenancy.models import Branch, Membership
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import (
    AppointmentFactory,
    ChairFactory,
    PatientFactory,
    ProcedureFactory,
    make_doctor,
)

HO_CHI_MINH = ZoneInfo("Asia/Ho_Chi_Minh")
MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2030, 1, 7, 7, 0, tzinfo=HO_CHI_MINH)
PAGE = "/scheduling/calendar-feed/"


def local(day: int, hour: int, minute: int = 0, *, month: int = 1) -> datetime:
    return datetime(2030, month, day, hour, minute, tzinfo=HO_CHI_MINH)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    yield


@dataclass
class Clinic:
    branch: Branch
    doctor: User  # An Trần
    chair: Chair  # Chair 1
    patient: Patient  # Nguyễn Văn An
    filling: Procedure  # "Filling"

    def appointment(self, starts_at: datetime, **fields: Any) -> Appointment:
        """An appointment of the doctor's, 30 minutes plus a 10-minute buffer."""
        values = {
            "branch": self.branch, "doctor": self.doctor, "chair": self.chair,
            "patient": self.patient, "procedure": self.filling, **fields,
        }  # fmt: skip
        return AppointmentFactory(
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30),
            blocked_until=starts_at + timedelta(minutes=40), **values,
        )  # fmt: skip


@pytest.fixture
def clinic(world: World) -> Clinic:
    branch = world.branch_a
    return Clinic(
        branch=branch,
        doctor=make_doctor(branch, first_name="An", last_name="Trần"),
        chair=ChairFactory(branch=branch, name="Chair 1"),
        patient=PatientFactory(home_branch=branch, family_name="Nguyễn", given_name="Văn An"),
        filling=ProcedureFactory(
            organization=world.acme, name="Filling", names={"vi": "Trám răng"}
        ),
    )


def feed_url(secret: str) -> str:
    return f"/scheduling/feeds/{secret}.ics"


def fetch(secret: str) -> Any:
    """As a calendar app does: no login, no cookie."""
    return Client().get(feed_url(secret))


def events(body: bytes) -> list[dict[str, Any]]:
    calendar = Calendar.from_ical(body)
    return [
        {
            "uid": str(event["uid"]),
            "start": event.decoded("dtstart"),
            "end": event.decoded("dtend"),
            "summary": str(event["summary"]),
            "location": str(event["location"]),
            "status": str(event["status"]),
            "sequence": int(event["sequence"]),
        }
        for event in calendar.walk("VEVENT")
    ]


# --- the feed -------------------------------------------------------------------------------


def test_lists_the_doctors_appointments_for_their_calendar(world: World, clinic: Clinic) -> None:
    booked = clinic.appointment(local(8, 9))
    confirmed = clinic.appointment(local(9, 10), status="confirmed", rescheduled_count=2)
    cancelled = clinic.appointment(local(10, 11), status="cancelled")
    last_month = clinic.appointment(
        datetime(2029, 12, 9, 9, tzinfo=HO_CHI_MINH), status="completed"
    )
    clinic.appointment(datetime(2029, 12, 7, 9, tzinfo=HO_CHI_MINH))  # over 30 days ago
    clinic.appointment(NOW + timedelta(days=183))  # beyond the booking horizon
    clinic.appointment(local(8, 10), doctor=make_doctor(clinic.branch))  # a colleague's
    clinic.appointment(
        local(8, 11), branch=world.branch_b, chair=ChairFactory(branch=world.branch_b)
    )  # their own, in another branch: that branch's feed
    _, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)

    response = fetch(secret)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert events(response.content) == [
        {"uid": f"appointment-{last_month.pk}@chairtime", "start": last_month.starts_at,
         "end": last_month.ends_at, "summary": "Filling · NVA",
         "location": "Acme Quận 1 · Chair 1", "status": "CONFIRMED", "sequence": 0},
        {"uid": f"appointment-{booked.pk}@chairtime", "start": local(8, 9), "end": local(8, 9, 30),
         "summary": "Filling · NVA", "location": "Acme Quận 1 · Chair 1", "status": "TENTATIVE",
         "sequence": 0},
        {"uid": f"appointment-{confirmed.pk}@chairtime", "start": local(9, 10),
         "end": local(9, 10, 30), "summary": "Filling · NVA", "location": "Acme Quận 1 · Chair 1",
         "status": "CONFIRMED", "sequence": 2},
        {"uid": f"appointment-{cancelled.pk}@chairtime", "start": local(10, 11),
         "end": local(10, 11, 30), "summary": "Filling · NVA", "location": "Acme Quận 1 · Chair 1",
         "status": "CANCELLED", "sequence": 0},
    ]  # fmt: skip


def test_writes_crlf_line_endings_and_local_times_with_their_zone(clinic: Clinic) -> None:
    clinic.appointment(local(8, 9))
    _, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    body = fetch(secret).content

    assert body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1]
    assert all(b"\n" not in line and b"\r" not in line for line in lines)
    assert b"DTSTART;TZID=Asia/Ho_Chi_Minh:20300108T090000\r\n" in body
    assert b"DTEND;TZID=Asia/Ho_Chi_Minh:20300108T093000\r\n" in body
    calendar = Calendar.from_ical(body)
    zones = calendar.walk("VTIMEZONE")
    assert [str(zone["tzid"]) for zone in zones] == ["Asia/Ho_Chi_Minh"]
    assert str(calendar["x-wr-timezone"]) == "Asia/Ho_Chi_Minh"
    assert str(calendar["prodid"]) == "-//Chairtime//Appointment book//EN"
    assert str(calendar["version"]) == "2.0"


def test_keeps_the_patients_name_inside_the_clinic(clinic: Clinic) -> None:
    clinic.appointment(local(8, 9), notes="Nervous; phone 0912 345 678")
    _, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    text = fetch(secret).content.decode()
    for private in ("Nguyễn", "Văn An", clinic.patient.number, "Nervous", "0912"):
        assert private not in text


def test_a_daylight_saving_zone_gets_both_of_its_rules(world: World, clinic: Clinic) -> None:
    """Madrid springs forward on 31 March 2030: 09:00 is UTC+1 the day before, UTC+2 on it."""
    clinic.branch.time_zone = "Europe/Madrid"
    clinic.branch.save(update_fields=["time_zone"])
    before = clinic.appointment(datetime(2030, 3, 30, 9, tzinfo=MADRID))
    after = clinic.appointment(datetime(2030, 3, 31, 9, tzinfo=MADRID))
    _, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    body = fetch(secret).content

    calendar = Calendar.from_ical(body)
    [zone] = calendar.walk("VTIMEZONE")
    assert str(zone["tzid"]) == "Europe/Madrid"
    assert {sub.name for sub in zone.subcomponents} == {"STANDARD", "DAYLIGHT"}
    assert b"DTSTART;TZID=Europe/Madrid:20300330T090000\r\n" in body
    assert b"DTSTART;TZID=Europe/Madrid:20300331T090000\r\n" in body
    starts = {e["uid"]: e["start"] for e in events(body)}
    assert starts == {
        f"appointment-{before.pk}@chairtime": datetime(2030, 3, 30, 8, tzinfo=ZoneInfo("UTC")),
        f"appointment-{after.pk}@chairtime": datetime(2030, 3, 31, 7, tzinfo=ZoneInfo("UTC")),
    }
    # The calendar's own VTIMEZONE says the same as the zone database.
    utc_offsets = {
        str(rule["tzoffsetto"].to_ical()) for rule in zone.subcomponents if "tzoffsetto" in rule
    }
    assert utc_offsets == {"+0100", "+0200"}


def test_names_the_procedure_in_the_doctors_language(clinic: Clinic) -> None:
    clinic.doctor.language = "vi"
    clinic.doctor.save(update_fields=["language"])
    clinic.appointment(local(8, 9))
    _, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    assert [e["summary"] for e in events(fetch(secret).content)] == ["Trám răng · NVA"]


def test_notes_when_the_feed_was_last_read(clinic: Clinic) -> None:
    token, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    assert token.last_used_at is None
    fetch(secret)
    token.refresh_from_db()
    assert token.last_used_at == NOW


# --- the secret URL -------------------------------------------------------------------------


def test_an_unknown_feed_url_is_not_found(clinic: Clinic) -> None:
    rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    assert fetch("not-a-real-secret").status_code == 404


def test_making_a_new_url_stops_the_old_one(clinic: Clinic) -> None:
    first, old = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    second, new = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    assert fetch(old).status_code == 404
    assert fetch(new).status_code == 200
    first.refresh_from_db()
    assert (first.revoked_at, second.revoked_at) == (NOW, None)
    assert CalendarFeedToken.objects.filter(revoked_at__isnull=True).count() == 1
    assert not CalendarFeedToken.objects.filter(key_hash=new).exists()  # only its hash is kept


def test_records_each_new_and_stopped_url_in_the_audit_trail(clinic: Clinic) -> None:
    first, _ = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    second, _ = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    trail = AuditEvent.objects.filter(object_type="scheduling.calendarfeedtoken").order_by("pk")
    assert [(e.action, e.object_id, e.actor_id, e.branch_id) for e in trail] == [
        ("create", str(first.pk), clinic.doctor.pk, clinic.branch.pk),
        ("delete", str(first.pk), clinic.doctor.pk, clinic.branch.pk),
        ("create", str(second.pk), clinic.doctor.pk, clinic.branch.pk),
    ]


@pytest.mark.parametrize("change", ["left the branch", "deactivated", "branch closed"])
def test_a_url_stops_working_when_its_owner_may_no_longer_see_the_book(
    clinic: Clinic, change: str
) -> None:
    _, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    if change == "left the branch":
        Membership.objects.filter(user=clinic.doctor).delete()
    elif change == "deactivated":
        User.objects.filter(pk=clinic.doctor.pk).update(is_active=False)
    else:
        Branch.objects.filter(pk=clinic.branch.pk).update(is_active=False)
    assert fetch(secret).status_code == 404


def test_the_feed_answers_only_get_and_head(clinic: Clinic) -> None:
    _, secret = rotate_calendar_feed_token(actor=clinic.doctor, branch=clinic.branch)
    assert Client().head(feed_url(secret)).status_code == 200
    assert Client().post(feed_url(secret)).status_code == 405


# --- the page -------------------------------------------------------------------------------

URL_IN_PAGE = re.compile(r"http://testserver/scheduling/feeds/([A-Za-z0-9_-]+)\.ics")


def test_the_page_makes_a_url_and_shows_it_once(
    clinic: Clinic, logged_in: Callable[[User], Client]
) -> None:
    browser = logged_in(clinic.doctor)
    page = browser.get(PAGE)
    assert page.status_code == 200
    assert "You have no feed address yet." in page.content.decode()

    made = browser.post(PAGE, {"action": "make"}).content.decode()
    [secret] = URL_IN_PAGE.findall(made)
    assert fetch(secret).status_code == 200

    again = browser.get(PAGE).content.decode()
    assert URL_IN_PAGE.findall(again) == []
    assert f"…/{secret[:8]}…" in again


def test_the_page_stops_the_feed(clinic: Clinic, logged_in: Callable[[User], Client]) -> None:
    browser = logged_in(clinic.doctor)
    [secret] = URL_IN_PAGE.findall(browser.post(PAGE, {"action": "make"}).content.decode())
    page = browser.post(PAGE, {"action": "stop"}).content.decode()
    assert "You have no feed address yet." in page
    assert fetch(secret).status_code == 404


def test_the_page_needs_the_schedule(
    world: World, persona: Callable[[Role], User], logged_in: Callable[[User], Client]
) -> None:
    assert Client().get(PAGE).status_code == 302  # to the login page
    browser = logged_in(persona(Role.INVENTORY_CLERK))
    assert browser.get(PAGE).status_code == 404
    assert browser.post(PAGE, {"action": "make"}).status_code == 404
    assert CalendarFeedToken.objects.count() == 0


# --- the icalendar library against other projects' test files --------------------------------
# ../shared/interop/ical (see its README): three corpora, read with icalendar as it is
# locked in requirements.lock. Each file is expected to do exactly one of:
#   - parse cleanly and survive a round trip (parse, write, parse) with the same events
#     (UID, DTSTART, SUMMARY): every file not listed below;
#   - parse but with the broken lines recorded in `component.errors` ("flagged"): FLAGGED;
#   - be refused with ValueError: REFUSED.
# The lists are exact, so a new icalendar that reads a file differently fails here.

INTEROP = Path(__file__).resolve().parents[3].parent / "shared" / "interop" / "ical"
ALLENPORTER_INVALID = INTEROP / "ical" / "tests" / "parsing" / "testdata" / "invalid"
CORPORA = ("icalendar", "vobject", "ical")

# Deliberately broken test files of the icalendar and vobject projects, and one "valid"
# allenporter/ical file that icalendar cannot read: a vCard-style GEO ("geo:40.4,-80.0"
# where iCalendar wants "40.4;-80.0").
REFUSED = {
    "ical/tests/parsing/testdata/valid/params_rfc6868_vcard.ics",
    "icalendar/src/icalendar/tests/calendars/fuzz_testcase_invalid_month.ics",
    "icalendar/src/icalendar/tests/calendars/fuzz_testcase_vtimezone_lone_cr.ics",
    "icalendar/src/icalendar/tests/calendars/issue_104_broken_calendar.ics",
    "icalendar/src/icalendar/tests/calendars/parsing_error_in_UTC_offset.ics",
}
# File → the properties icalendar flags (None: a line it could not split into parts).
FLAGGED: dict[str, list[str | None]] = {
    "icalendar/src/icalendar/tests/calendars/broken_dtstart.ics": ["DTSTART"],
    "icalendar/src/icalendar/tests/calendars/broken_ical.ics": [None],
    "icalendar/src/icalendar/tests/calendars/invalid_duration.ics": ["DURATION"],
    "icalendar/src/icalendar/tests/calendars/issue_1081_invalid_rrule_freq.ics": ["RRULE"],
    "icalendar/src/icalendar/tests/calendars/issue_1081_invalid_start_and_end.ics": ["DTSTART", "DTEND"],
    "icalendar/src/icalendar/tests/calendars/issue_1081_invalid_start_valid_end.ics": ["DTSTART"],
    "icalendar/src/icalendar/tests/calendars/issue_165_missing_event.ics": ["RRULE"],
    "icalendar/src/icalendar/tests/calendars/issue_168_input.ics": [None],
    "icalendar/src/icalendar/tests/calendars/parsing_error.ics": ["EXDATE"],
    "icalendar/src/icalendar/tests/calendars/timezone_rdate.ics": [None],
    "icalendar/src/icalendar/tests/events/issue_104_mark_events_broken.ics": [None],
    "icalendar/src/icalendar/tests/events/issue_464_invalid_rdate.ics": ["RDATE"],
    "vobject/test_files/vobject_0050.ics": ["DTEND"],
}  # fmt: skip

# allenporter/ical's invalid content lines (its expectations: test_component.ambr,
# test_invalid_contentlines[...], each rejected there with a named error). icalendar is
# more lenient: it refuses some, flags some, and silently accepts the rest, as listed.
INVALID_REFUSED = {
    "invalid", "invalid_param_eol copy", "invalid_param_value", "invalid_quoted_name",
    "invalid_quoted_param_extra_end", "invalid_quoted_param_extra_start", "invalid_quoted_params",
}  # fmt: skip
INVALID_FLAGGED = {
    "invalid_param_name-1",
    "invalid_param_name-2",
    "invalid_x-name-2",
    "missing_colon",
}
INVALID_ACCEPTED = {
    "invalid_iana-token",  # "DES.RIPTION": a dot in a property name
    "invalid_x-name-1",  # "X-DES.RIPTION": the same in an x-name
    "invalid_param_eol_quoted",  # a line that ends inside its parameters, with no ":"
    "invalid_params_list",  # "PARAM-NAME=," and no value
    "invalid_quoted_missing_value",  # a quoted parameter and no ":" value
}


def corpus_files() -> list[str]:
    return sorted(
        str(path.relative_to(INTEROP))
        for corpus in CORPORA
        for path in (INTEROP / corpus).rglob("*.ics")
        if ALLENPORTER_INVALID not in path.parents
    )


def flagged(component: Component) -> list[str | None]:
    found: list[str | None] = [prop for prop, _message in component.errors]
    for sub in component.subcomponents:
        found += flagged(sub)
    return found


def event_keys(components: list[Component]) -> list[tuple[str, bytes | None, str]]:
    """UID, DTSTART as written, SUMMARY of every event, in order."""
    keys = []
    for component in components:
        for event in component.walk("VEVENT"):
            start = event.get("dtstart")
            if isinstance(start, list):  # a broken file may repeat it
                start = start[0]
            keys.append(
                (
                    str(event.get("uid")),
                    None if start is None else start.to_ical(),
                    str(event.get("summary")),
                )
            )
    return keys


def test_the_interop_corpora_are_there() -> None:
    """A missing ../shared would otherwise just parametrise the tests below to nothing."""
    counts = {corpus: len(list((INTEROP / corpus).rglob("*.ics"))) for corpus in CORPORA}
    assert counts == {"icalendar": 163, "vobject": 10, "ical": 88}


def test_the_expectation_lists_name_real_files() -> None:
    files = set(corpus_files())
    assert files >= REFUSED | set(FLAGGED)


@pytest.mark.filterwarnings("ignore::icalendar.error.GloballyUniqueTZIDGuessed")
@pytest.mark.parametrize("name", corpus_files())
def test_reads_and_round_trips_each_interop_file(name: str) -> None:
    data = (INTEROP / name).read_bytes()
    if name in REFUSED:
        with pytest.raises(ValueError):
            Component.from_ical(data, multiple=True)
        return
    components = Component.from_ical(data, multiple=True)
    assert [p for c in components for p in flagged(c)] == FLAGGED.get(name, [])
    written = b"".join(component.to_ical() for component in components)
    again = Component.from_ical(written, multiple=True)
    assert event_keys(again) == event_keys(components)
    assert [c.name for c in again] == [c.name for c in components]


def allenporter_expectations() -> dict[str, str]:
    """Case name → the detailed error allenporter/ical expects, from its snapshot file."""
    text = (INTEROP / "ical/tests/parsing/__snapshots__/test_component.ambr").read_text()
    cases = re.findall(
        r"# name: test_invalid_contentlines\[(.+?)\]\n  tuple\(\n    '[^\n]*',\n    (.+?),\n  \)",
        text,
    )
    return dict(cases)


def test_every_allenporter_invalid_file_has_an_expected_error() -> None:
    files = {path.stem for path in ALLENPORTER_INVALID.glob("*.ics")}
    expectations = allenporter_expectations()
    assert set(expectations) == files
    assert files == INVALID_REFUSED | INVALID_FLAGGED | INVALID_ACCEPTED
    assert "Invalid property name 'DES.RIPTION'" in expectations["invalid_iana-token"]


@pytest.mark.parametrize("case", sorted(INVALID_REFUSED | INVALID_FLAGGED | INVALID_ACCEPTED))
def test_icalendar_on_allenporters_invalid_lines(case: str) -> None:
    data = (ALLENPORTER_INVALID / f"{case}.ics").read_bytes()
    if case in INVALID_REFUSED:
        with pytest.raises(ValueError, match="Content line could not be parsed into parts"):
            Component.from_ical(data, multiple=True)
        return
    errors = [p for c in Component.from_ical(data, multiple=True) for p in flagged(c)]
    assert errors == ([None] if case in INVALID_FLAGGED else [])
