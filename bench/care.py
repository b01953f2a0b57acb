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
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    database_version,
    owner_client,
    print_table,
    setup_django,
    simulated_organisation,
    timed,
)


def organisation(size: str):  # type: ignore[no-untyped-def]
    """The simulated organisation of this size with its care tasks: made now, or reused."""
    from chairtime.care.models import CareTask
    from chairtime.simulation.care import simulate_care
    from chairtime.simulation.generator import SIZES
    from chairtime.tenancy.models import Branch

    config = SIZES[size]
    org = simulated_organisation(size)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite)")
    parser.add_argument("--sqlite", help="a SQLite file to use and keep (reused when present)")
    parser.add_argument("--size", default="clinic", help="a simulator size (default: clinic)")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--generation-runs", type=int, default=3)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, name="care", sqlite=arguments.sqlite)
    from django.db.models import Count
    from django.urls import reverse

    from chairtime.care.models import CareTask, TaskAttempt
    from chairtime.care.services import generate_care_tasks
    from chairtime.clinical.forms import doctors_in
    from chairtime.patients.models import Patient
    from chairtime.simulation.care import simulated_now
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
    get = owner_client(org, branch)

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
    print(
        f"Care: {database_version()}, {Patient.objects.filter(organization=org).count():,}"
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
    print_table(results)


if __name__ == "__main__":
    main()
