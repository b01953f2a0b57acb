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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database (default: SQLite)")
    parser.add_argument("--sqlite", help="a SQLite file to use and keep (reused when present)")
    parser.add_argument("--size", default="chain", help="a simulator size (default: chain)")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    arguments = parser.parse_args()
    setup_django(arguments.database_url, name="treatment", sqlite=arguments.sqlite)
    from django.db.models import Count
    from django.urls import reverse

    from chairtime.clinical.models import TreatmentItem, TreatmentPlan
    from chairtime.patients.models import Patient
    from chairtime.tenancy.models import Branch

    org = simulated_organisation(arguments.size)
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

    get = owner_client(org, branch)

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
    patients_count = Patient.objects.filter(organization=org).count()
    print(
        f"Treatment pages: {database_version()}, {patients_count:,} patients, "
        f"{TreatmentPlan.objects.filter(branch__organization=org).count():,} plans; branch "
        f"{branch.code} with {unscheduled.filter(option__plan__branch=branch).count():,} "
        f"unscheduled items"
    )
    print_table(results)


if __name__ == "__main__":
    main()
