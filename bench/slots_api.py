"""Slot search end to end: the engine benchmark's busy branch, in the database, asked
through the REST API exactly as the booking dialog and integrations ask.

    .venv/bin/python bench/slots_api.py                       # a temporary SQLite file
    .venv/bin/python bench/slots_api.py --database-url URL    # an empty PostgreSQL database

The branch is bench/engine.py's: 12 chairs, 10 doctors, ~85% of their time booked for
six months from this week (shifted so it starts today). The question is the issue's:
"next 10 openings for a 60-minute procedure, any doctor, weekday evenings only". Each
request goes through Django's full stack in process (middleware, session auth, the
ninja endpoint, the selector that reads the book a fortnight at a time, the engine, JSON);
the selector alone is timed too, to show what the HTTP layer adds. Goal: API p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_version, p95, setup_django, timed  # noqa: E402
from bench.common import row as common_row  # noqa: E402

GOAL_MS = 50.0


def _engine_bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("engine_bench", ROOT / "bench" / "engine.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["engine_bench"] = module
    spec.loader.exec_module(module)
    return module


def build(seed: int):  # type: ignore[no-untyped-def]
    """The engine benchmark's branch as rows: returns (branch, procedure, owner, utilisation)."""
    from django.utils import timezone

    from chairtime.accounts.models import StaffProfile, User
    from chairtime.clinical.models import Procedure, ProcedureCategory
    from chairtime.patients.models import Patient
    from chairtime.scheduling.models import Appointment, Chair, WorkingHours
    from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
    from chairtime.tenancy.models import Branch, Membership, OpeningHours, Organization

    bench = _engine_bench()
    source = bench.build_branch(seed)
    organization = Organization.objects.create(name="Bench", slug="bench")
    branch = Branch.objects.create(
        organization=organization, name="Bench", code="bench", country="VN",
        time_zone=bench.ZONE_NAME, currency="VND", locale="vi_VN",
    )  # fmt: skip
    for window in bench.HOURS:
        OpeningHours.objects.create(
            branch=branch, weekday=window.weekday, opens_at=window.start, closes_at=window.end
        )
    chairs = {
        c: Chair.objects.create(branch=branch, name=f"Chair {c}", sort_order=c)
        for c in bench.CHAIRS
    }
    doctors = {}
    for d in bench.DOCTORS:
        user = User.objects.create(username=f"doctor{d}", first_name="Doctor", last_name=str(d))
        StaffProfile.objects.create(user=user, procedure_categories=list(ProcedureCategory.values))
        Membership.objects.create(
            user=user, organization=organization, branch=branch, role="doctor"
        )
        for window in bench.HOURS:
            WorkingHours.objects.create(branch=branch, staff=user, weekday=window.weekday,
                                        starts_at=window.start, ends_at=window.end)  # fmt: skip
        doctors[d] = user
    procedure = Procedure.objects.create(
        organization=organization, code="FILL", name="Filling", category="restorative",
        ladder_tier="regular", default_duration_minutes=60,
    )  # fmt: skip
    owner = User.objects.create(username="owner")
    Membership.objects.create(user=owner, organization=organization, role="owner")

    # Shift the six months so their first Monday is this week's Monday.
    today = timezone.localdate(timezone.now(), branch.zone)
    shift = (today - timedelta(days=today.weekday())) - bench.FIRST_DAY
    first_patient, first_appointment = next_id(Patient), next_id(Appointment)
    now = timezone.now()
    patients, appointments = [], []
    for index, booking in enumerate(source.schedule.bookings):
        doctor = next(k.id for k in booking.resources if k.kind == "doctor")
        chair = next(k.id for k in booking.resources if k.kind == "chair")
        patient_id = first_patient + index
        patients.append((patient_id, organization.pk, branch.pk, f"B{index:06d}", "Bench", str(index),
                         "given_first", f"{index} Bench", "", now, now, "unknown", "", "", [], "", "", "active"))  # fmt: skip
        appointments.append((
            first_appointment + index, branch.pk, patient_id, procedure.pk, doctors[doctor].pk,
            chairs[chair].pk, booking.interval.start + shift, booking.procedure_end + shift,
            booking.interval.end + shift, "booked", False, False, 0, "", "", "", False, now, now,
        ))  # fmt: skip
    insert_rows(Patient, ("id", "organization", "home_branch", "number", "family_name", "given_name",
                          "name_order", "display_name", "search_key", "created_at", "updated_at", "sex", "email",
                          "preferred_language", "preferred_times", "referrer_external", "notes",
                          "status"), patients)  # fmt: skip
    insert_rows(Appointment, (
        "id", "branch", "patient", "procedure", "doctor", "chair", "starts_at", "ends_at",
        "blocked_until", "status", "is_walk_in", "is_overbooked", "rescheduled_count", "notes",
        "cancelled_by", "cancel_reason", "is_late_cancellation", "created_at", "updated_at",
    ), appointments)  # fmt: skip
    reset_sequences(Patient, Appointment)
    return branch, procedure, owner, source.utilisation, len(appointments)


def row(case: str, durations: list[float]) -> str:
    """The common row, and how the p95 compares with the goal."""
    return f"{common_row(case, durations, 34)} {p95(durations) / GOAL_MS:>9.2f}×"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, name="slots")
    from django.test import Client

    from chairtime.scheduling.selectors import SlotQuery, find_slots

    branch, procedure, owner, utilisation, count = build(arguments.seed)
    client = Client()
    client.force_login(owner)
    url = f"/api/v1/slots?procedure={procedure.pk}&preferences=weekday_evenings&limit=10"
    headers = {"HTTP_X_BRANCH": str(branch.pk)}

    def ask_api(number: int) -> None:
        response = client.get(url, **headers)
        assert response.status_code == 200, response.content
        assert len(response.json()) == 10, response.content

    def ask_selector(number: int) -> None:
        slots = find_slots(
            branch=branch, query=SlotQuery(procedure=procedure, preferences=("weekday_evenings",))
        )
        assert len(slots) == 10

    timed(5, ask_api)  # warm caches and connections
    api, selector = timed(arguments.runs, ask_api), timed(arguments.runs, ask_selector)
    print(f"Slot search end to end: {database_version()}, "
          f"{count:,} appointments over 26 weeks, utilisation {utilisation:.1%}")  # fmt: skip
    print(f"{'case':<34} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p95/goal':>10}")
    print(row("API GET /api/v1/slots", api))
    print(row("selector find_slots (no HTTP)", selector))


if __name__ == "__main__":
    main()
