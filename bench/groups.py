"""How long the full recomputation of profiles, RFM and groups takes for an organisation.

    .venv/bin/python bench/groups.py                      # clinic (10,000 patients)
    .venv/bin/python bench/groups.py --sizes clinic chain
    .venv/bin/python bench/groups.py --database-url postgres://chairtime@127.0.0.1:5432/x
    .venv/bin/python bench/groups.py --sizes chain --sqlite /tmp/chain.sqlite3   # kept
    .venv/bin/python bench/groups.py --sizes chain --database-url ... --reuse     # kept
    .venv/bin/python bench/groups.py --sizes chain --sqlite /tmp/chain.sqlite3 --profile /tmp/p

`--sqlite FILE` (one size) and `--reuse` (PostgreSQL: `chairtime_bench_<size>` is kept)
simulate only when the database does not hold an organisation yet, so a change can be
measured again and again on the same data. `--profile PREFIX` writes cProfile statistics
of each run to PREFIX-first.prof and PREFIX-second.prof (`python -m pstats`).

Each size runs in a child process with a fresh database of its own (a SQLite file in a
temporary directory, or a database created on the given PostgreSQL server), like
bench/simulator.py: migrate, simulate the size (the simulator computes the profiles at its
end), delete the profiles and group changes, then time `recompute_organization` twice:
"first" writes every profile and a GroupChange row per patient (the worst case), "second"
is the nightly case (every number recomputed and compared, only changed rows written).
The table shows patients per second of each run.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.simulator import PostgresDatabases, SqliteDatabases  # noqa: E402


@dataclass(frozen=True)
class Measurement:
    size: str
    database: str
    patients: int
    simulate_seconds: float
    first_seconds: float
    first_changes: int
    second_seconds: float
    second_changes: int


def measure_one(size: str, profile: str = "") -> Measurement:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from chairtime.crm.models import GroupChange, PatientProfile
    from chairtime.crm.profiles.compute import RecomputeResult, recompute_organization
    from chairtime.simulation.generator import SIZES, simulate
    from chairtime.tenancy.models import Organization

    call_command("migrate", verbosity=0)
    organization = Organization.objects.order_by("pk").first()
    simulate_seconds = 0.0
    if organization is None:
        simulated = simulate(SIZES[size])
        organization, simulate_seconds = simulated.organization, simulated.seconds
    GroupChange.objects.filter(organization=organization).delete()
    PatientProfile.objects.filter(organization=organization).delete()

    def timed(run: str) -> RecomputeResult:
        if not profile:
            return recompute_organization(organization)
        profiler = cProfile.Profile()
        result = profiler.runcall(recompute_organization, organization)
        profiler.dump_stats(f"{profile}-{run}.prof")
        return result

    first = timed("first")
    second = timed("second")
    return Measurement(
        size=size,
        database=connection.vendor,
        patients=first.patients,
        simulate_seconds=round(simulate_seconds, 1),
        first_seconds=round(first.seconds, 2),
        first_changes=first.changed_groups,
        second_seconds=round(second.seconds, 2),
        second_changes=second.changed_groups,
    )


def run_child(size: str, url: str, profile: str = "") -> Measurement:
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "CHAIRTIME_ENV": "development",
        "CHAIRTIME_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    done = subprocess.run(
        [sys.executable, __file__, "--child", size, "--profile", profile],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"the {size} size failed (exit {done.returncode})")
    return Measurement(**json.loads(done.stdout.strip().splitlines()[-1]))


def kept_postgres_url(url: str, size: str) -> str:
    """The URL of `chairtime_bench_<size>` on the server of `url`, created when missing."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    name = f"chairtime_bench_{size}"
    with psycopg.connect(url, autocommit=True) as server:
        found = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if found is None:
            server.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'UTF8'").format(sql.Identifier(name))
            )
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def table(measurements: list[Measurement]) -> str:
    header = (
        f"{'size':<8} {'database':<10} {'patients':>9} {'first s':>8} {'patients/s':>11} "
        f"{'changes':>8} {'second s':>9} {'patients/s':>11} {'changes':>8}"
    )
    lines = [header, "-" * len(header)]
    for m in measurements:
        lines.append(
            f"{m.size:<8} {m.database:<10} {m.patients:>9,} {m.first_seconds:>8.2f} "
            f"{m.patients / m.first_seconds:>11,.0f} {m.first_changes:>8,} "
            f"{m.second_seconds:>9.2f} {m.patients / m.second_seconds:>11,.0f} "
            f"{m.second_changes:>8,}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["clinic"])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--sqlite", default="", help="a SQLite file to use and keep (one size)")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse PostgreSQL databases")
    parser.add_argument("--profile", default="", help="write cProfile statistics to PREFIX-*.prof")
    parser.add_argument("--child", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asdict(measure_one(args.child, args.profile))))
        return
    if args.sqlite:
        if len(args.sizes) != 1:
            parser.error("--sqlite takes one size")
        measurements = [
            run_child(args.sizes[0], f"sqlite:///{Path(args.sqlite).resolve()}", args.profile)
        ]
        print(table(measurements))
        return
    databases = (
        PostgresDatabases(args.database_url, keep=args.reuse)
        if args.database_url
        else SqliteDatabases(keep=False)
    )
    measurements = []
    try:
        for size in args.sizes:
            url = (
                kept_postgres_url(args.database_url, size)
                if args.reuse
                else databases.url_for(size)
            )
            measurements.append(run_child(size, url, args.profile))
            databases.drop(size)
    finally:
        databases.close()
    print(table(measurements))


if __name__ == "__main__":
    main()
