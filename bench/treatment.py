"""Treatment pages on a simulated 100,000-patient organisation: the patient's plan page and
the branch's unscheduled-treatment list, through Django's full stack.

    .venv/bin/python bench/treatment.py                       # a temporary SQLite file
    .venv/bin/python bench/treatment.py --sqlite var/t.sqlite3  # keep (and reuse) the file
    .venv/bin/python bench/treatment.py --database-url URL    # an empty PostgreSQL database

The organisation is the simulator's `chain` size (20 branches, 100,000 patients, half a
year of appointments with their plans, production and money; `--size` picks another).
Logged in as its owner with the Django test client (middleware, session, the view, its
selectors, the template), in the busiest branch (the one with the most unscheduled
treatment), it asks:

- GET clinical:patient_plans for patients of that branch who have plans (a different
  patient each run, with one to several plans);
- GET clinical:unscheduled_list for the branch, first page, with no filter;
- the same list filtered to the doctor with the most unscheduled treatment.

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
        path = sqlite or f"{tempfile.mkdtemp(prefix='chairtime-treatment-')}/bench.sqlite3"
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
    """The simulated organisation of this size: made now, or found from an earlier run."""
    from chairtime.simulation.generator import SIZES, simulate
    from chairtime.tenancy.models import Organization

    config = SIZES[size]
    existing = Organization.objects.filter(slug=config.slug).first()
    if existing is not None:
        print(f"Reusing the simulated {size} organisation", file=sys.stderr)
        return existing
    print(f"Simulating {size}…", file=sys.stderr, flush=True)
    result = simulate(config)
    print(
        f"  {result.patients:,} patients, {result.appointments:,} appointments, "
        f"{result.plans:,} plans, {result.invoices:,} invoices in {result.seconds:.0f} s",
        file=sys.stderr,
    )
    return result.organization


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
    parser.add_argument("--size", default="chain", help="a simulator size (default: chain)")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, arguments.sqlite)
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.urls import reverse

    from chairtime.accounts.models import User
    from chairtime.clinical.models import TreatmentItem, TreatmentPlan
    from chairtime.patients.models import Patient
    from chairtime.tenancy.middleware import SESSION_KEY
    from chairtime.tenancy.models import Branch

    org = organisation(arguments.size)
    unscheduled = TreatmentItem.objects.filter(
        status="planned", option__status="accepted",
        option__plan__status__in=["accepted", "in_progress"], option__plan__branch__organization=org,
    )  # fmt: skip
    busiest = (
        unscheduled.values("option__plan__branch").annotate(n=Count("id")).order_by("-n").first()
    )
    assert busiest is not None, "the simulated organisation has no unscheduled treatment"
    branch = Branch.objects.get(pk=busiest["option__plan__branch"])
    doctor = (
        unscheduled.filter(option__plan__branch=branch)
        .values("option__plan__doctor")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    assert doctor is not None
    doctor_id, doctor_items = doctor["option__plan__doctor"], doctor["n"]
    with_plans = sorted(
        TreatmentPlan.objects.filter(branch=branch).values_list("patient_id", flat=True).distinct()
    )
    rng = random.Random(arguments.seed)
    patients = rng.sample(with_plans, min(len(with_plans), arguments.runs))
    plans_per_patient = statistics.mean(
        TreatmentPlan.objects.filter(branch=branch, patient_id__in=patients)
        .values("patient_id")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )

    owner = User.objects.get(username=f"{org.slug}-owner")
    client = Client()
    client.force_login(owner)
    session = client.session
    session[SESSION_KEY] = branch.pk
    session.save()

    def get(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    def plan_page(number: int) -> None:
        get(reverse("clinical:patient_plans", args=[patients[number % len(patients)]]))

    unscheduled_url = reverse("clinical:unscheduled_list")

    def unscheduled_page(number: int) -> None:
        get(unscheduled_url)

    def unscheduled_for_doctor(number: int) -> None:
        get(f"{unscheduled_url}?doctor={doctor_id}")

    for call in (plan_page, unscheduled_page, unscheduled_for_doctor):
        timed(5, call)  # warm caches and connections
    runs = arguments.runs
    results = [
        (f"patient's plans ({plans_per_patient:.1f} plans each)", timed(runs, plan_page)),
        ("unscheduled list, no filter", timed(runs, unscheduled_page)),
        (
            f"unscheduled list, one doctor ({doctor_items} items)",
            timed(runs, unscheduled_for_doctor),
        ),
    ]
    version = (
        connection.Database.sqlite_version if connection.vendor == "sqlite"
        else connection.pg_version
    )  # fmt: skip
    patients_count = Patient.objects.filter(organization=org).count()
    print(
        f"Treatment pages: {connection.vendor} {version}, {patients_count:,} patients, "
        f"{TreatmentPlan.objects.filter(branch__organization=org).count():,} plans; branch "
        f"{branch.code} with {unscheduled.filter(option__plan__branch=branch).count():,} "
        f"unscheduled items"
    )
    print(f"{'case':<52} {'runs':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for case, durations in results:
        print(row(case, durations))


if __name__ == "__main__":
    main()
