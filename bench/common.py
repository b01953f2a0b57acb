"""What the benchmarks share: Django on a throwaway SQLite file or a given database, the
simulated organisation of a size (made once, reused from a kept file), and the timing rows.

A benchmark puts the project root on `sys.path` and imports this module as `bench.common`
before anything of Django's, because `setup_django` chooses the database.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def setup_django(
    database_url: str | None, *, name: str, sqlite: str | None = None, var_dir: bool = False
) -> str:
    """Configure Django for a run and migrate; returns the database URL used.

    With no URL, a SQLite file: the one named by `sqlite` (kept and reused) or a new one in
    a temporary folder named after the benchmark. DEBUG stays off: it keeps every query in
    memory. `var_dir` gives the run its own folder for uploaded files.
    """
    if database_url is None:
        path = sqlite or f"{tempfile.mkdtemp(prefix=f'chairtime-{name}-')}/bench.sqlite3"
        database_url = f"sqlite:///{Path(path).resolve()}"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CHAIRTIME_ENV", "test")
    os.environ["CHAIRTIME_DEBUG"] = "false"
    if var_dir:
        os.environ.setdefault(
            "CHAIRTIME_VAR_DIR", tempfile.mkdtemp(prefix=f"chairtime-{name}-var-")
        )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return database_url


def simulated_organisation(size: str, *, progress: bool = False) -> Any:
    """The simulated organisation of this size: made now (its figures on stderr), or the one
    an earlier run left in the kept database."""
    from chairtime.simulation.generator import SIZES, simulate
    from chairtime.tenancy.models import Organization

    config = SIZES[size]
    existing = Organization.objects.filter(slug=config.slug).first()
    if existing is not None:
        print(f"Reusing the simulated {size} organisation", file=sys.stderr)
        return existing
    print(f"Simulating {size}…", file=sys.stderr, flush=True)
    result = simulate(config, progress=progress)
    print(
        f"  {result.patients:,} patients, {result.appointments:,} appointments, "
        f"{result.plans:,} plans, {result.invoices:,} invoices in {result.seconds:.0f} s "
        f"(patient relations, care and messages: {result.crm_seconds:.0f} s)",
        file=sys.stderr,
    )
    return result.organization


def timed(calls: int, call: Callable[[int], object]) -> list[float]:
    """Milliseconds of each of `calls` calls (the call gets its number)."""
    durations = []
    for number in range(calls):
        started = time.perf_counter()
        call(number)
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def p95(durations: list[float]) -> float:
    ordered = sorted(durations)
    return ordered[int(0.95 * (len(ordered) - 1))]


def row(case: str, durations: list[float], width: int = 52) -> str:
    """One line of a figures table: case, runs, median, p95 and worst, in milliseconds."""
    ordered = sorted(durations)
    return (
        f"{case:<{width}} {len(ordered):>5} {statistics.median(ordered):>8.1f} "
        f"{p95(ordered):>8.1f} {ordered[-1]:>8.1f}"
    )


def print_table(results: list[tuple[str, list[float]]], width: int = 52) -> None:
    print(f"{'case':<{width}} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for case, durations in results:
        print(row(case, durations, width))


def database_version() -> str:
    """ "sqlite 3.40.1" or "postgresql 150014": which database the figures are from."""
    from django.db import connection

    version = (
        connection.Database.sqlite_version if connection.vendor == "sqlite"
        else connection.pg_version
    )  # fmt: skip
    return f"{connection.vendor} {version}"


def owner_client(organization: Any, branch: Any) -> Callable[[str], None]:
    """A GET through Django's full stack (middleware, session, view, template) as the
    organisation's simulated owner working in `branch`; anything but a 200 stops the run."""
    from django.test import Client

    from chairtime.accounts.models import User
    from chairtime.tenancy.middleware import SESSION_KEY

    client = Client()
    client.force_login(User.objects.get(username=f"{organization.slug}-owner"))
    session = client.session
    session[SESSION_KEY] = branch.pk
    session.save()

    def get(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    return get
