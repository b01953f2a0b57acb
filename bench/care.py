"""Care tasks on a simulated organisation: the simulator's care step, the hourly generation
run, and the care pages through Django's full stack.

    .venv/bin/python bench/care.py                          # a temporary SQLite file
    .venv/bin/python bench/care.py --sqlite var/c.sqlite3   # keep (and reuse) the file
    .venv/bin/python bench/care.py --database-url URL       # an empty PostgreSQL database

The organisation is the simulator's `clinic` size (1 branch, 10,000 patients; `--size`
picks another), with its care tasks made by `chairtime.simulation.care` (timed). Then:

- the hourly generation over the whole organisation at the simulated today, when the
  tasks exist already (the usual run: everything is compared, nothing is made);
- as its owner, in the branch with the most patients: the recall list (first page, the
  default month ahead), the same for one doctor, and the branch's task list.

Median and p95 over `--runs` requests each (after a few warm-up requests).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(database_url: str | None, sqlite: str | None) -> None:
    sys.path.insert(0, str(ROOT))
    if database_url is None:
        path = sqlite or f"{tempfile.mkdtemp(prefix='chairtime-care-')}/bench.sqlite3"
        database_url = f"sqlite:///{Path(path).resolve()}"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("CHAIRTIME_ENV", "test")
    os.environ["CHAIRTIME_DEBUG"] = "false"  # DEBUG keeps every query in memory
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def organisation(size: str):  # type: ignore[no-untyped-def]
    """The simulated organisation of this size with its care tasks: made now, or reused."""
    from chairtime.care.models import CareTask
    from chairtime.simulation.care import simulate_care
    from chairtime.simulation.generator import SIZES, simulate
    from chairtime.tenancy.models import Branch, Organization

    config = SIZES[size]
    org = Organization.objects.filter(slug=config.slug).first()
    if org is None:
        print(f"Simulating {size}…", file=sys.stderr, flush=True)
        result = simulate(config)
        print(
            f"  {result.patients:,} patients, {result.appointments:,} appointments "
            f"in {result.seconds:.0f} s",
            file=sys.stderr,
        )
        org = result.organization
    care_seconds = None
    if not CareTask.objects.filter(organization=org).exists():
        branches = list(Branch.objects.filter(organization=org))
        made = simulate_care(config, org, branches, random.Random(f"{config.seed}:care"))
        care_seconds = made.seconds
        print(
            f"  care: {made.tasks:,} tasks, {made.attempts:,} calls, {made.open_tasks:,} open "
            f"in {made.seconds:.1f} s",
            file=sys.stderr,
        )
    return config, org, care_seconds


def timed(calls: int, call) -> list[float]:  # type: ignore[no-untyped-def]
    durations = []
    for number in range(calls):
        started = time.perf_counter()
        call(number)
        durations.append((time.perf_counter() - started) * 1000)
    return durations


def row(case: str, durations: list[float]) -> str:
    ordered = sorted(durations)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (
        f"{case:<52} {len(ordered):>5} {statistics.median(ordered):>8.1f} {p95:>8.1f} "
        f"{ordered[-1]:>8.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite)")
    parser.add_argument("--sqlite", help="a SQLite file to use and keep (reused when present)")
    parser.add_argument("--size", default="clinic", help="a simulator size (default: clinic)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--generation-runs", type=int, default=3)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, arguments.sqlite)
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from chairtime.accounts.models import User
    from chairtime.care.models import CareTask, TaskAttempt
    from chairtime.care.services import generate_care_tasks
    from chairtime.clinical.forms import doctors_in
    from chairtime.patients.models import Patient
    from chairtime.simulation.care import simulated_now
    from chairtime.tenancy.middleware import SESSION_KEY
    from chairtime.tenancy.models import Branch

    config, org, care_seconds = organisation(arguments.size)
    branches = list(Branch.objects.filter(organization=org))
    now = max(simulated_now(config, b) for b in branches)

    generation = timed(
        arguments.generation_runs, lambda n: generate_care_tasks(organization=org, now=now)
    )

    busiest = (
        Patient.objects.filter(organization=org)
        .values("home_branch")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert busiest is not None
    branch = Branch.objects.get(pk=busiest["home_branch"])
    doctor = doctors_in(branch).first()
    owner = User.objects.get(username=f"{org.slug}-owner")
    client = Client()
    client.force_login(owner)
    session = client.session
    session[SESSION_KEY] = branch.pk
    session.save()

    def get(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    recall = reverse("care:recall_list")
    cases = [
        ("recall list, first page", lambda n: get(recall)),
        (
            "recall list, one doctor",
            lambda n: get(f"{recall}?doctor={doctor.pk if doctor else ''}"),
        ),
        ("branch task list, first page", lambda n: get(reverse("care:task_list"))),
    ]
    for _case, call in cases:
        timed(3, call)  # warm caches and connections
    results = [(case, timed(arguments.runs, call)) for case, call in cases]
    version = (
        connection.Database.sqlite_version if connection.vendor == "sqlite"
        else connection.pg_version
    )  # fmt: skip
    print(
        f"Care: {connection.vendor} {version}, {Patient.objects.filter(organization=org).count():,}"
        f" patients in {len(branches)} branches, "
        f"{CareTask.objects.filter(organization=org).count():,} tasks, "
        f"{TaskAttempt.objects.filter(task__organization=org).count():,} calls; "
        f"pages in branch {branch.code} ({busiest['n']:,} patients)"
    )
    if care_seconds is not None:
        print(f"simulator's care step: {care_seconds:.1f} s")
    print(
        f"hourly generation, whole organisation, nothing new: p50 "
        f"{statistics.median(generation) / 1000:.2f} s over {len(generation)} runs"
    )
    print(f"{'case':<52} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for case, durations in results:
        print(row(case, durations))


if __name__ == "__main__":
    main()
