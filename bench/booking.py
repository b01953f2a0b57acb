"""Concurrent, contested booking: many receptionists booking at once, never a double booking.

    .venv/bin/python bench/booking.py                          # a fresh SQLite file
    .venv/bin/python bench/booking.py --threads 64 --attempts 40
    .venv/bin/python bench/booking.py --database-url postgres://chairtime@127.0.0.1:5432/chairtime

N threads, each with its own database connection, are released together by a barrier and
each makes M attempts through `book_appointment`. About half the attempts (--contested)
go for a small set of contested slots (a few chairs and their doctors, a few times a day,
each attempt a few minutes off the slot's start so the attempts overlap without being
equal); the rest book slots of the thread's own chair and doctor, which never conflict.
Every attempt is for a different patient.

Afterwards one SQL self-join counts pairs of active rows that overlap on a doctor,
assistant, chair (buffer included) or patient (procedure only): it must be 0. The
database is a fresh SQLite file in a temporary directory, or, with --database-url, a fresh
PostgreSQL database `chairtime_bench_booking` on that server (dropped afterwards; the one
named in the URL is only used to connect). See README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from statistics import quantiles
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
ZONE_NAME = "Asia/Ho_Chi_Minh"
DATABASE_NAME = "chairtime_bench_booking"
SLOT_SPACING = timedelta(minutes=90)  # > 30 min + 25 min offset + 10 min buffer: slots never meet
OFFSETS = tuple(timedelta(minutes=m) for m in range(0, 30, 5))
OWN_SLOTS_PER_DAY = 16  # uncontested: 07:00, 07:50, ... 19:30 on the thread's own chair

# Pairs of active rows holding the same doctor, assistant or chair at overlapping times
# (buffer included), or the same patient during overlapping procedures.
DOUBLE_BOOKINGS = """
    SELECT COUNT(*) FROM scheduling_appointment a
    JOIN scheduling_appointment b ON a.id < b.id
    WHERE a.status NOT IN ('cancelled', 'no_show') AND b.status NOT IN ('cancelled', 'no_show')
      AND NOT a.is_overbooked AND NOT b.is_overbooked
      AND (
        ((a.doctor_id = b.doctor_id OR a.chair_id = b.chair_id OR a.assistant_id = b.assistant_id)
          AND a.starts_at < b.blocked_until AND b.starts_at < a.blocked_until)
        OR (a.patient_id = b.patient_id AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at)
      )
"""


# --- the database --------------------------------------------------------------------------
class SqliteDatabase:
    def __init__(self, keep: bool) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="chairtime-bench-"))
        self.keep = keep
        self.url = f"sqlite:///{self.directory / 'booking.sqlite3'}"

    def close(self) -> None:
        if self.keep:
            print(f"Database kept in {self.directory}", file=sys.stderr)
        else:
            shutil.rmtree(self.directory, ignore_errors=True)


class PostgresDatabase:
    """A fresh `chairtime_bench_booking` on the server of the given URL."""

    def __init__(self, url: str, keep: bool) -> None:
        import psycopg
        from psycopg import sql

        self.keep = keep
        self.server = psycopg.connect(url, autocommit=True)
        self.name = sql.Identifier(DATABASE_NAME)
        self.server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(self.name))
        self.server.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(self.name))
        self.url = urlunsplit(urlsplit(url)._replace(path=f"/{DATABASE_NAME}"))

    def close(self) -> None:
        from django.db import connections
        from psycopg import sql

        connections.close_all()
        if not self.keep:
            self.server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(self.name))
        self.server.close()


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CHAIRTIME_ENV"] = "development"
    os.environ["CHAIRTIME_DEBUG"] = "false"  # DEBUG keeps every query in memory
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- the clinic ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    threads: int
    attempts: int
    contested_pairs: int  # chairs, each with its own doctor, that every thread goes for
    slots_per_day: int  # contested slots per pair
    contested: float  # share of attempts that go for a contested slot
    seed: int

    @property
    def contested_slots(self) -> int:
        return self.contested_pairs * self.slots_per_day


@dataclass
class Clinic:
    branch: Any
    actor: Any
    procedure: Any
    pairs: list[tuple[Any, Any]]  # (chair, doctor) shared by all threads
    own: list[tuple[Any, Any]]  # (chair, doctor) of each thread
    patients: list[Any]
    first_day: datetime  # local midnight of the first day booked


def make_clinic(plan: Plan) -> Clinic:
    """One branch open every day 07:00-21:00 with the chairs, doctors and patients needed."""
    from django.utils import timezone

    from chairtime.accounts.models import StaffProfile, User
    from chairtime.clinical.models import Procedure
    from chairtime.patients.models import Patient
    from chairtime.scheduling.models import Chair, WorkingHours
    from chairtime.tenancy.models import Branch, Membership, OpeningHours, Organization
    from chairtime.tenancy.roles import Role

    organization = Organization.objects.create(name="Bench Dental", slug="bench")
    branch = Branch.objects.create(
        organization=organization, name="Bench", code="bench", country="VN",
        time_zone=ZONE_NAME, currency="VND", locale="vi_VN",
    )  # fmt: skip
    OpeningHours.objects.bulk_create(
        OpeningHours(branch=branch, weekday=d, opens_at=clock(7), closes_at=clock(21))
        for d in range(7)
    )
    actor = User.objects.create(username="front-desk")
    Membership.objects.create(
        user=actor, organization=organization, branch=branch, role=Role.RECEPTIONIST
    )
    procedure = Procedure.objects.create(
        organization=organization, code="FILL", name="Filling", category="restorative",
        ladder_tier="regular", default_duration_minutes=30,
    )  # fmt: skip

    def pair(label: str) -> tuple[Any, Any]:
        doctor = User.objects.create(
            username=f"doctor-{label}", first_name="Doctor", last_name=label
        )
        StaffProfile.objects.create(user=doctor, procedure_categories=["restorative"])
        Membership.objects.create(
            user=doctor, organization=organization, branch=branch, role=Role.DOCTOR
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(branch=branch, staff=doctor, weekday=d, starts_at=clock(7),
                         ends_at=clock(21))
            for d in range(7)
        )  # fmt: skip
        return Chair.objects.create(branch=branch, name=f"Chair {label}"), doctor

    pairs = [pair(f"C{n}") for n in range(plan.contested_pairs)]
    own = [pair(f"T{n}") for n in range(plan.threads)]
    Patient.objects.bulk_create(
        Patient(
            organization=organization,
            home_branch=branch,
            number=f"B{n:06d}",
            family_name="Bench",
            given_name=str(n),
            display_name=f"Bench {n}",
        )
        for n in range(plan.threads * plan.attempts)
    )
    patients = list(Patient.objects.filter(organization=organization).order_by("pk"))
    today = timezone.localdate(timezone.now(), branch.zone)
    first_day = datetime.combine(today + timedelta(days=1), clock(0), tzinfo=branch.zone)
    return Clinic(branch, actor, procedure, pairs, own, patients, first_day)


# --- the race ------------------------------------------------------------------------------
@dataclass
class Tally:
    accepted: int = 0
    contested_accepted: int = 0
    conflict_by_check: int = 0  # refused by the service's own check, under the lock
    conflict_by_database: int = 0  # refused by the database's constraint or trigger
    failures: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.accepted += other.accepted
        self.contested_accepted += other.contested_accepted
        self.conflict_by_check += other.conflict_by_check
        self.conflict_by_database += other.conflict_by_database
        self.failures.update(other.failures)
        self.latencies.extend(other.latencies)


def attempts_of(plan: Plan, clinic: Clinic, thread: int) -> list[tuple[bool, Any]]:
    """The thread's attempts, in order: (contested?, request)."""
    from chairtime.scheduling.services import BookingRequest

    rng = random.Random(plan.seed * 1000 + thread)
    own_chair, own_doctor = clinic.own[thread]
    made = []
    own_count = 0
    for number in range(plan.attempts):
        patient = clinic.patients[thread * plan.attempts + number]
        if rng.random() < plan.contested:
            chair, doctor = rng.choice(clinic.pairs)
            slot = rng.randrange(plan.slots_per_day)
            starts_at = clinic.first_day + timedelta(hours=7) + slot * SLOT_SPACING
            starts_at += rng.choice(OFFSETS)
            contested = True
        else:
            chair, doctor = own_chair, own_doctor
            day, index = divmod(own_count, OWN_SLOTS_PER_DAY)
            starts_at = clinic.first_day + timedelta(days=1 + day, hours=7, minutes=50 * index)
            own_count += 1
            contested = False
        request = BookingRequest(
            patient=patient, procedure=clinic.procedure, doctor=doctor, chair=chair,
            starts_at=starts_at,
        )  # fmt: skip
        made.append((contested, request))
    return made


def race(plan: Plan, clinic: Clinic) -> tuple[Tally, float]:
    from django.db import connection

    from chairtime.core.errors import Conflict
    from chairtime.scheduling.services import book_appointment

    work = [attempts_of(plan, clinic, t) for t in range(plan.threads)]
    barrier = threading.Barrier(plan.threads + 1)
    total = Tally()
    lock = threading.Lock()

    def client(attempts: list[tuple[bool, Any]]) -> None:
        mine = Tally()
        try:
            barrier.wait()
            for contested, request in attempts:
                began = time.perf_counter()
                try:
                    book_appointment(actor=clinic.actor, branch=clinic.branch, request=request)
                    mine.accepted += 1
                    mine.contested_accepted += contested
                except Conflict as conflict:
                    if "just taken" in str(conflict):
                        mine.conflict_by_database += 1
                    else:
                        mine.conflict_by_check += 1
                except Exception as failure:  # counted and shown: must stay at zero
                    mine.failures[f"{type(failure).__name__}: {failure}"[:80]] += 1
                mine.latencies.append(time.perf_counter() - began)
        finally:
            connection.close()
            with lock:
                total.add(mine)

    threads = [threading.Thread(target=client, args=(w,)) for w in work]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return total, time.perf_counter() - began


def double_bookings() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(DOUBLE_BOOKINGS)
        return int(cursor.fetchone()[0])


def database_label() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
        else:
            cursor.execute("SHOW server_version")
        version = str(cursor.fetchone()[0]).split(" ")[0]
    return f"{connection.display_name} {version}"


# --- the table -----------------------------------------------------------------------------
def report(plan: Plan, tally: Tally, seconds: float, doubles: int) -> str:
    attempts = plan.threads * plan.attempts
    milliseconds = sorted(1000 * s for s in tally.latencies)
    p50, p95 = (quantiles(milliseconds, n=100)[i] for i in (49, 94))
    rows = [
        ("threads × attempts", f"{plan.threads} × {plan.attempts}"),
        ("attempts", f"{attempts:,}"),
        ("contested slots", f"{plan.contested_slots:,}"),
        ("accepted", f"{tally.accepted:,}"),
        ("  of them contested", f"{tally.contested_accepted:,}"),
        ("refused as conflict", f"{tally.conflict_by_check + tally.conflict_by_database:,}"),
        ("  by the service's check", f"{tally.conflict_by_check:,}"),
        ("  by the database guard", f"{tally.conflict_by_database:,}"),
        ("other errors", f"{sum(tally.failures.values()):,}"),
        ("double bookings found", f"{doubles:,}"),
        ("seconds", f"{seconds:.2f}"),
        ("bookings/s (accepted)", f"{tally.accepted / seconds:,.0f}"),
        ("attempts/s", f"{attempts / seconds:,.0f}"),
        ("attempt p50 / p95 ms", f"{p50:,.0f} / {p95:,.0f}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:>12}" for label, value in rows]
    lines += [f"  error: {count} × {text}" for text, count in tally.failures.most_common()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=32, help="concurrent clients (32)")
    parser.add_argument("--attempts", type=int, default=20, help="attempts per client (20)")
    parser.add_argument("--pairs", type=int, default=4, help="contested chairs/doctors (4)")
    parser.add_argument("--slots", type=int, default=8, help="contested slots per chair (8)")
    parser.add_argument("--contested", type=float, default=0.5, help="share contested (0.5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="a PostgreSQL server (default: a SQLite file)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    arguments = parser.parse_args()
    if not 1 <= arguments.slots <= 9:
        raise SystemExit("--slots: between 1 and 9 (07:00 to 19:25, 90 minutes apart)")
    plan = Plan(
        threads=arguments.threads, attempts=arguments.attempts, contested_pairs=arguments.pairs,
        slots_per_day=arguments.slots, contested=arguments.contested, seed=arguments.seed,
    )  # fmt: skip

    database: SqliteDatabase | PostgresDatabase
    if arguments.database_url:
        database = PostgresDatabase(arguments.database_url, arguments.keep)
    else:
        database = SqliteDatabase(arguments.keep)
    try:
        setup_django(database.url)
        print("Setting up the clinic…", file=sys.stderr, flush=True)
        clinic = make_clinic(plan)
        print("Racing…", file=sys.stderr, flush=True)
        tally, seconds = race(plan, clinic)
        doubles = double_bookings()
        label = database_label()
    finally:
        database.close()

    print(
        f"Chairtime contested booking: {label}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    print(report(plan, tally, seconds, doubles))
    if doubles or tally.failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
