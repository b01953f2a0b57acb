"""The patient CRM on a simulated organisation: the full recomputation of profiles, groups
and RFM, and a 5-condition segment's count and first page.

    .venv/bin/python bench/crm.py                          # chain (100,000), temporary SQLite
    .venv/bin/python bench/crm.py --size clinic            # 10,000 patients
    .venv/bin/python bench/crm.py --size large --sqlite var/large.sqlite3  # keep and reuse
    .venv/bin/python bench/crm.py --database-url URL       # an empty PostgreSQL database

The organisation is one of the simulator's sizes (default `chain`: 20 branches, 100,000
patients, half a year of appointments, production, money, complaints and NPS surveys),
made now or found from an earlier run of the same database. Then:

- `crm.profiles.compute.recompute_organization` over every patient, timed (`--recomputes`
  times; the simulator already ran it once, so these runs find the groups in place), and
  with `--first-run` once more with no profile stored (every row new);
- a segment of five conditions (customer groups, days since the last visit, age, a
  consent, spend in the last 365 days) through `crm.segments.selectors.evaluate`: the
  count and the first page of 50 patients (profile keys, then the patients with their
  home branch and primary phone), the definition parsed by `parse_definition` each time,
  with different values on each of `--runs` runs (after a few warm-up runs).

Median and p95 in milliseconds, as the other benches print them.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import database_version, print_table, setup_django, simulated_organisation, timed  # noqa: E402


def definition(rng: random.Random, currency_step: int) -> dict[str, Any]:
    """Five conditions with values drawn afresh: groups, days since the last visit, age,
    a consent, spend in the last 365 days."""
    groups = rng.sample(["loyal", "potential", "low_value", "negative"], rng.randint(1, 3))
    low_days = rng.choice((0, 30, 60, 90, 180))
    young = rng.randint(16, 45)
    channel, purpose = rng.choice((("sms", "service"), ("sms", "marketing"), ("email", "service")))
    return {"match": "all", "conditions": [
        {"field": "group", "op": "in", "value": groups},
        {"field": "days_since_last_visit", "op": "between",
         "value": [low_days, low_days + rng.choice((90, 180, 365, 730))]},
        {"field": "age", "op": "between", "value": [young, young + rng.randint(10, 40)]},
        {"field": "consent", "op": "granted", "value": {"channel": channel, "purpose": purpose}},
        {"field": "spend", "op": "gte", "window": "365d",
         "value": rng.choice((0, 1, 2, 5, 10)) * currency_step},
    ]}  # fmt: skip


def _first_run(org) -> float:  # type: ignore[no-untyped-def]
    """A full run with no profile stored: every row inserted, every patient's first group
    change written. Those group changes go after, so the history stays as it was."""
    from django.utils import timezone

    from chairtime.crm.models import GroupChange, PatientProfile
    from chairtime.crm.profiles.compute import recompute_organization

    PatientProfile.objects.filter(organization=org).delete()
    now = timezone.now()
    started = time.perf_counter()
    recompute_organization(org, now=now)
    seconds = time.perf_counter() - started
    GroupChange.objects.filter(organization=org, changed_at=now, from_group="").delete()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite)")
    parser.add_argument("--sqlite", help="a SQLite file to use and keep (reused when present)")
    parser.add_argument("--size", default="chain", help="a simulator size (default: chain)")
    parser.add_argument("--runs", type=int, default=50, help="segment runs (default: 50)")
    parser.add_argument("--recomputes", type=int, default=1, help="full recomputations timed")
    parser.add_argument(
        "--first-run", action="store_true",
        help="also time a first run: every profile deleted, then all made anew (the group "
        "changes it records are deleted after, so the database stays as it was)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, name="crm", sqlite=arguments.sqlite)
    from django.db.models import Count

    from chairtime.crm.models import PatientProfile
    from chairtime.crm.profiles.compute import recompute_organization
    from chairtime.crm.segments.filters import parse_definition
    from chairtime.crm.segments.selectors import evaluate
    from chairtime.patients.models import Patient
    from chairtime.tenancy.models import Branch

    org = simulated_organisation(arguments.size, progress=True)
    # The branch with the most home patients: its time zone gives "today".
    busiest = (
        Patient.objects.filter(organization=org)
        .values("home_branch")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert busiest is not None, "the simulated organisation has no patients"
    branch = Branch.objects.get(pk=busiest["home_branch"])
    # Spend steps in the branch's currency (a check-up's order of magnitude).
    step = {"VND": 500_000, "CNY": 200}.get(branch.currency, 50)

    first_run = _first_run(org) if arguments.first_run else None
    recomputes = []
    for _ in range(arguments.recomputes):
        started = time.perf_counter()
        recomputed = recompute_organization(org)
        recomputes.append(time.perf_counter() - started)

    rng = random.Random(arguments.seed)
    definitions = [definition(rng, step) for _ in range(arguments.runs)]
    counts: list[int] = []

    def segment(number: int) -> None:
        page = evaluate(parse_definition(definitions[number % len(definitions)]), branch=branch)
        counts.append(page.count)

    for number in range(5):  # warm caches and connections
        segment(number)
    counts.clear()
    durations = timed(arguments.runs, segment)

    patients = PatientProfile.objects.filter(organization=org).count()
    print(
        f"Patient CRM: {database_version()}, {arguments.size}: {patients:,} patients "
        f"with a profile; branch {branch.code} ({branch.currency})"
    )
    print(
        f"recompute_organization: {statistics.median(recomputes):.1f} s "
        f"(median of {len(recomputes)}; {recomputed.patients:,} patients, "
        f"{recomputed.changed_groups:,} group changes on the last run)"
    )
    if first_run is not None:
        print(f"recompute_organization, every profile new (first run): {first_run:.1f} s")
    print(
        f"segment matches: median {statistics.median(counts):,.0f}, "
        f"min {min(counts):,}, max {max(counts):,} patients"
    )
    print_table([("5-condition segment: count + first page of 50", durations)])


if __name__ == "__main__":
    main()
