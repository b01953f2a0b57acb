"""The morning meeting page for a 20-chair branch of a 100,000-patient organisation,
through Django's full stack.

    .venv/bin/python bench/morning_meeting.py                         # a temporary SQLite file
    .venv/bin/python bench/morning_meeting.py --sqlite var/m.sqlite3  # keep (and reuse) it
    .venv/bin/python bench/morning_meeting.py --database-url URL      # an empty PostgreSQL

The organisation is one Vietnamese branch with 20 chairs and 100,000 patients (half a year
of appointments with their plans, production and money, six weeks booked ahead; `--size`
picks a simulator size instead, e.g. `chain`, and then its branch with the most chairs).
Logged in as its owner (every section shown, money included) with the Django test client
(middleware, session, the view, its selectors, the template), it asks:

- GET frontdesk:morning_meeting for the busiest day of the simulated last week (every
  chair booked, the day before full of arrivals, payments and production);
- the same day's printable view (`?print=1`);
- the morning meeting of the busiest day in the two weeks booked ahead;
- the version the pages poll every 10 s (GET frontdesk:book_version).

Median and p95 over `--runs` requests each (after a few warm-up requests), and the number
of queries one page reads.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

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

DESK_SIZE = "desk20"


def desk_organisation() -> Any:
    """One 20-chair branch and 100,000 patients: made now, or reused from a kept file."""
    from chairtime.simulation.generator import SimulationConfig, simulate
    from chairtime.tenancy.models import Organization

    config = SimulationConfig(
        seed=20, slug=DESK_SIZE, organization_name="Bench Desk Dental", countries=("VN",),
        branches=1, patients=100_000, min_chairs=20, max_chairs=20,
    )  # fmt: skip
    existing = Organization.objects.filter(slug=config.slug).first()
    if existing is not None:
        print("Reusing the simulated 20-chair organisation", file=sys.stderr)
        return existing, config
    print("Simulating one 20-chair branch with 100,000 patients…", file=sys.stderr, flush=True)
    result = simulate(config)
    print(
        f"  {result.patients:,} patients, {result.appointments:,} appointments in "
        f"{result.seconds:.0f} s", file=sys.stderr,
    )  # fmt: skip
    return result.organization, config


def busiest_day(branch: Any, first: Any, last: Any) -> Any:
    """The day of [first, last] with the most appointments in the branch."""
    from django.utils import timezone

    from chairtime.scheduling.models import Appointment
    from chairtime.scheduling.selectors import day_bounds

    days: dict[Any, int] = {}
    starts = Appointment.objects.filter(
        branch=branch, starts_at__gte=day_bounds(branch, first).start,
        starts_at__lt=day_bounds(branch, last).end,
    ).values_list("starts_at", flat=True)  # fmt: skip
    for starts_at in starts:
        day = timezone.localdate(starts_at, branch.zone)
        days[day] = days.get(day, 0) + 1
    return max(sorted(days), key=lambda day: days[day])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite)")
    parser.add_argument("--sqlite", help="a SQLite file to use and keep (reused when present)")
    parser.add_argument("--size", default=DESK_SIZE, help="a simulator size (default: one "
                        "20-chair branch of 100,000 patients)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=50)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, name="morning", sqlite=arguments.sqlite)
    import random

    from django.db import connection
    from django.db.models import Count
    from django.urls import reverse

    from chairtime.patients.models import Patient
    from chairtime.scheduling.models import Appointment, Chair
    from chairtime.scheduling.selectors import day_bounds
    from chairtime.simulation.care import simulated_now
    from chairtime.simulation.frontdesk import simulate_frontdesk
    from chairtime.tenancy.models import Branch

    if arguments.size == DESK_SIZE:
        org, config = desk_organisation()
    else:
        from chairtime.simulation.generator import SIZES

        org, config = simulated_organisation(arguments.size), SIZES[arguments.size]
    biggest = (
        Chair.objects.filter(branch__organization=org).values("branch")
        .annotate(n=Count("id")).order_by("-n").first()
    )  # fmt: skip
    assert biggest is not None
    branch = Branch.objects.get(pk=biggest["branch"])
    now = simulated_now(config, branch)
    simulate_frontdesk(config, org, [branch], random.Random(1), now)
    today = busiest_day(branch, config.as_of - timedelta(days=7), config.as_of)
    ahead = busiest_day(branch, config.as_of + timedelta(days=1), config.as_of + timedelta(days=14))
    get = owner_client(org, branch)
    morning = reverse("frontdesk:morning_meeting")
    version = reverse("frontdesk:book_version")
    cases = {
        f"morning meeting, {today}": f"{morning}?day={today}",
        "printable view, same day": f"{morning}?day={today}&print=1",
        f"morning meeting, {ahead} (booked ahead)": f"{morning}?day={ahead}",
        "book version (the 10 s poll)": f"{version}?day={today}",
    }
    for url in cases.values():
        timed(3, lambda number, url=url: get(url))
    queries: list[str] = []

    def count(execute: Any, sql: str, *rest: Any) -> Any:
        queries.append(sql)
        return execute(sql, *rest)

    with connection.execute_wrapper(count):
        get(cases[f"morning meeting, {today}"])
    results = [
        (case, timed(arguments.runs, lambda number, url=url: get(url)))
        for case, url in cases.items()
    ]
    bounds = day_bounds(branch, today)
    day_count = Appointment.objects.filter(
        branch=branch, starts_at__gte=bounds.start, starts_at__lt=bounds.end
    ).count()
    print(
        f"Morning meeting: {database_version()}, "
        f"{Patient.objects.filter(organization=org).count():,} patients; branch {branch.code} "
        f"with {biggest['n']} chairs, {day_count} appointments on {today}; "
        f"{len(queries)} queries per page"
    )
    print_table(results)


if __name__ == "__main__":
    main()
