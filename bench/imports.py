"""Import throughput: a generated file of 100,000 rows (5% broken) checked, imported and
imported again, on the database it runs against: patients, or with `--kind` their visit
or payment history.

    .venv/bin/python bench/imports.py                       # a temporary SQLite file
    .venv/bin/python bench/imports.py --rows 20000
    .venv/bin/python bench/imports.py --kind visits         # or payments
    CHAIRTIME_PG_PORT=54333 scripts/with-postgres \\
      sh -c '.venv/bin/python bench/imports.py --database-url "$DATABASE_URL"'

The file is `chairtime.crm.importing.sample.patient_csv` (Vietnamese headers, a phone,
a birth date, sex, email on two rows in three, a branch code, tags on one row in ten),
uploaded through `create_job`. Timed: **check** (the dry run, nothing written), **import**
(good rows mode: 95% created with their phone, tags and external ID) and **again** (the
same file a second time: every good row skipped by its external ID, the bad ones
reported again). rows/s is the file's rows divided by the step's seconds.

History (`--kind visits` / `payments`): `--patients` patients (10,000 by default) are
imported first from a clean patients file (not timed), then the history file of
`visit_csv` / `payment_csv` (Vietnamese or Spanish headers, the patients' IDs, 5% of rows
broken in a dozen ways) goes through the same steps; each good row becomes a historical
visit or payment with its external ID, and its patient's profile is refreshed.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import setup_django  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--kind", choices=("patients", "visits", "payments"), default="patients")
    parser.add_argument("--patients", type=int, default=10_000, help="history: patients first")
    parser.add_argument("--profile", action="store_true", help="print the import's top calls")
    arguments = parser.parse_args()
    setup_django(arguments.database_url, name="imports", var_dir=True)

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from chairtime.accounts.models import User
    from chairtime.crm.choices import ImportMode
    from chairtime.crm.importing.sample import patient_csv, payment_csv, visit_csv
    from chairtime.crm.importing.services import check_job, create_job, run_job, set_mapping
    from chairtime.tenancy.models import Branch, Membership, Organization

    organization = Organization.objects.create(name="Bench", slug="bench-imports")
    branches = [
        Branch.objects.create(
            organization=organization,
            name=f"Branch {code}",
            code=code,
            country="VN",
            time_zone="Asia/Ho_Chi_Minh",
            currency="VND",
            locale="vi_VN",
        )
        for code in ("a", "b")
    ]
    owner = User.objects.create(username="owner")
    Membership.objects.create(user=owner, organization=organization, role="owner")
    kind = arguments.kind

    def new_job(kind: str, content: bytes):  # type: ignore[no-untyped-def]
        job = create_job(
            actor=owner, branch=branches[0], source_system="OldDent", kind=kind,
            upload=SimpleUploadedFile(f"{kind}.csv", content),
        )  # fmt: skip
        return set_mapping(job, job.mapping, ImportMode.GOOD_ROWS)

    if kind == "patients":
        sample = patient_csv(arguments.rows, branch_codes=("a", "b"))
    else:
        patients = patient_csv(arguments.patients, broken_share=0, branch_codes=("a", "b"))
        run_job(new_job("patients", patients.content))
        ids = [f"BN{index:07d}" for index in range(arguments.patients)]
        make = visit_csv if kind == "visits" else payment_csv
        sample = make(arguments.rows, ids, branch_codes=("a", "b"))

    results = []
    started = time.perf_counter()
    job = new_job(kind, sample.content)
    results.append(("upload (read, count rows)", time.perf_counter() - started, ""))
    started = time.perf_counter()
    checked = check_job(job)
    results.append(("check (dry run)", time.perf_counter() - started, f"{checked.bad_rows:,} bad"))
    profile = cProfile.Profile() if arguments.profile else None
    started = time.perf_counter()
    if profile:
        profile.enable()
    done = run_job(checked)
    if profile:
        profile.disable()
    results.append(("import", time.perf_counter() - started, f"{done.created_rows:,} created"))
    again = new_job(kind, sample.content)
    started = time.perf_counter()
    second = run_job(again)
    results.append(
        ("import again (all skipped)", time.perf_counter() - started,
         f"{second.skipped_rows:,} skipped, {second.created_rows} created")
    )  # fmt: skip

    print(
        f"{kind.capitalize()} import: {connection.vendor} {connection.Database.sqlite_version if connection.vendor == 'sqlite' else connection.pg_version}, "
        f"{arguments.rows:,} rows, {len(sample.broken):,} broken"
        + (f", {arguments.patients:,} patients" if kind != "patients" else "")
    )
    print(f"{'step':<28} {'seconds':>8} {'rows/s':>9}  result")
    for step, seconds, note in results:
        print(f"{step:<28} {seconds:>8.1f} {arguments.rows / seconds:>9,.0f}  {note}")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
