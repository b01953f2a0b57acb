"""How fast the clinic simulator fills a database, and how big the database gets.

    .venv/bin/python bench/simulator.py                 # clinic (10,000) and chain (100,000)
    .venv/bin/python bench/simulator.py --sizes demo clinic chain
    .venv/bin/python bench/simulator.py --large         # ... and large (1,000,000, 100 branches)
    .venv/bin/python bench/simulator.py --database-url postgres://chairtime@127.0.0.1:5432/chairtime

Each size runs in a process and a database of its own: a fresh SQLite file in a temporary
directory, or, with --database-url, a fresh PostgreSQL database created on that server
(`chairtime_bench_<size>`, dropped afterwards; the database named in the URL is only
used to connect). The table shows each size's throughput against the smallest size's, so
a run on any machine says whether throughput holds as the data grows: patients per second
over the time before the appointment book, appointments per second over the book's own
time (rota excluded), invoices per second over the time the plans' rows, production,
ladder and money took ("money s"); "crm s" is the patient relations' share (complaints,
NPS surveys, segments, and every patient's profile and group). See README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = ("clinic", "chain")
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Measurement:
    size: str
    branches: int
    patients: int
    seconds: float
    database_bytes: int
    database: str  # vendor and version
    appointments: int = 0
    booking_seconds: float = 0.0  # of `seconds`
    plans: int = 0
    invoices: int = 0
    payments: int = 0
    money_seconds: float = 0.0  # of `seconds`: plans' rows, production, ladder, money
    complaints: int = 0
    surveys: int = 0
    crm_seconds: float = 0.0  # of `seconds`: complaints, surveys, segments, profiles

    @property
    def patients_per_second(self) -> float:
        before_booking = self.seconds - self.booking_seconds - self.money_seconds - self.crm_seconds
        return self.patients / before_booking if before_booking > 0 else 0.0

    @property
    def invoices_per_second(self) -> float:
        return self.invoices / self.money_seconds if self.money_seconds else 0.0

    @property
    def appointments_per_second(self) -> float:
        return self.appointments / self.booking_seconds if self.booking_seconds else 0.0


# --- the child: one size in one fresh database ---------------------------------------------
def measure_one(size: str) -> Measurement:
    """Migrate, simulate one named size, measure; runs with DATABASE_URL already set."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from chairtime.simulation.generator import SIZES, simulate

    if size not in SIZES:
        raise SystemExit(f"--sizes: {size!r} is not one of {', '.join(SIZES)}")
    call_command("migrate", verbosity=0)
    result = simulate(SIZES[size])
    return Measurement(
        size=size,
        branches=len(result.branches),
        patients=result.patients,
        seconds=result.seconds,
        appointments=result.appointments,
        booking_seconds=result.booking_seconds,
        plans=result.plans,
        invoices=result.invoices,
        payments=result.payments,
        money_seconds=result.money_seconds,
        complaints=result.complaints,
        surveys=result.surveys,
        crm_seconds=result.crm_seconds,
        database_bytes=_database_bytes(connection),
        database=f"{connection.display_name} {_server_version(connection)}",
    )


def _database_bytes(connection) -> int:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Move the write-ahead log into the main file first, so the file is the data.
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            name = Path(connection.settings_dict["NAME"])
            files = [name, name.with_name(name.name + "-wal")]
            return sum(path.stat().st_size for path in files if path.exists())
        cursor.execute("SELECT pg_database_size(current_database())")
        return int(cursor.fetchone()[0])


def _server_version(connection) -> str:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT sqlite_version()")
        else:
            cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0]).split(" ")[0]


# --- the parent: a database per size, a child per size, the table --------------------------
class SqliteDatabases:
    def __init__(self, keep: bool) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="chairtime-bench-"))
        self.keep = keep

    def url_for(self, size: str) -> str:
        return f"sqlite:///{self.directory / f'{size}.sqlite3'}"

    def drop(self, size: str) -> None:
        pass  # the whole directory goes in close()

    def close(self) -> None:
        if self.keep:
            print(f"Databases kept in {self.directory}")
        else:
            shutil.rmtree(self.directory, ignore_errors=True)


class PostgresDatabases:
    """Creates `chairtime_bench_<size>` on the server of the given URL, fresh each run."""

    def __init__(self, url: str, keep: bool) -> None:
        import psycopg

        self.url = urlsplit(url)
        self.keep = keep
        self.server = psycopg.connect(url, autocommit=True)

    def _name(self, size: str) -> str:
        return f"chairtime_bench_{size}"

    def url_for(self, size: str) -> str:
        from psycopg import sql

        name = self._name(size)
        self.server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        self.server.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(sql.Identifier(name))
        )
        return urlunsplit(self.url._replace(path=f"/{name}"))

    def drop(self, size: str) -> None:
        from psycopg import sql

        if not self.keep:
            self.server.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(self._name(size)))
            )

    def close(self) -> None:
        self.server.close()


def run_child(size: str, database_url: str) -> Measurement:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CHAIRTIME_ENV": "development",
        "CHAIRTIME_DEBUG": "false",  # DEBUG keeps every query in memory
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    completed = subprocess.run(
        [sys.executable, __file__, "--child", size],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"the {size} size failed (exit {completed.returncode})")
    return Measurement(**json.loads(completed.stdout.strip().splitlines()[-1]))


def table(measurements: list[Measurement]) -> str:
    first = measurements[0]
    header = (
        f"{'size':<8} {'branches':>8} {'patients':>10} {'appointments':>12} {'seconds':>8} "
        f"{'patients/s':>11} {'appts/s':>8} {'plans':>7} {'invoices':>9} {'money s':>8} "
        f"{'invoices/s':>10} {'complaints':>10} {'surveys':>8} {'crm s':>6} {'database MB':>12} "
        f"{'patients/s vs ' + first.size:>20} {'appts/s vs ' + first.size:>17}"
    )
    lines = [header, "-" * len(header)]
    for m in measurements:
        lines.append(
            f"{m.size:<8} {m.branches:>8,} {m.patients:>10,} {m.appointments:>12,} "
            f"{m.seconds:>8.1f} {m.patients_per_second:>11,.0f} "
            f"{m.appointments_per_second:>8,.0f} {m.plans:>7,} {m.invoices:>9,} "
            f"{m.money_seconds:>8.1f} {m.invoices_per_second:>10,.0f} "
            f"{m.complaints:>10,} {m.surveys:>8,} {m.crm_seconds:>6.1f} "
            f"{m.database_bytes / MEGABYTE:>12,.1f} "
            f"{_ratio(m.patients_per_second, first.patients_per_second):>19.2f}× "
            f"{_ratio(m.appointments_per_second, first.appointments_per_second):>16.2f}×"
        )
    return "\n".join(lines)


def _ratio(value: float, reference: float) -> float:
    return value / reference if reference else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", nargs="+", default=list(DEFAULT_SIZES),
        help="named sizes of chairtime.simulation.generator.SIZES (default: clinic chain)",
    )  # fmt: skip
    parser.add_argument("--large", action="store_true", help="add 1,000,000 patients")
    parser.add_argument("--database-url", help="a PostgreSQL server (default: SQLite files)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.child:
        measurement = measure_one(arguments.child)
        print(json.dumps(measurement.__dict__))
        return

    sizes = list(arguments.sizes) + (["large"] if arguments.large else [])
    databases: SqliteDatabases | PostgresDatabases
    if arguments.database_url:
        databases = PostgresDatabases(arguments.database_url, arguments.keep)
    else:
        databases = SqliteDatabases(arguments.keep)
    measurements = []
    try:
        for size in sizes:
            print(f"Simulating {size}…", file=sys.stderr, flush=True)
            measurements.append(run_child(size, databases.url_for(size)))
            databases.drop(size)
    finally:
        databases.close()

    print(
        f"Chairtime simulator: {measurements[0].database}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    print(table(measurements))


if __name__ == "__main__":
    main()
