"""`manage.py import_patients FILE`: import patients, or with `--kind visits` / `--kind
payments` their visit or payment history, from another system's CSV or Excel file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from chairtime.core.errors import InvalidInput
from chairtime.crm.choices import DateFormat, ImportKind, ImportMode, ImportStatus
from chairtime.crm.importing.reading import ENCODINGS
from chairtime.crm.importing.selectors import row_error_lines
from chairtime.crm.importing.services import check_job, create_job, run_job, set_mapping
from chairtime.crm.models import ImportJob
from chairtime.tenancy.models import Branch


class Command(BaseCommand):
    help = (
        "Import patients (or their visit or payment history: --kind) from a CSV or .xlsx "
        "file; rows imported before are skipped."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--kind", choices=ImportKind.values, default=ImportKind.PATIENTS,
            help="what the file holds; history rows name their patient by the patients "
            "file's ID from the same --source",
        )  # fmt: skip
        parser.add_argument("--organization", required=True, help="the organisation's slug")
        parser.add_argument(
            "--branch", required=True,
            help="branch code: the default home branch (history: the branch of rows whose "
            "patient is unknown)",
        )  # fmt: skip
        parser.add_argument("--source", required=True, help="the system the file comes from")
        parser.add_argument("--mapping", help='JSON: {"family_name": "Last name", ...}')
        parser.add_argument("--encoding", choices=[code for code, _ in ENCODINGS], default="utf-8")
        parser.add_argument("--date-format", choices=DateFormat.values, default=DateFormat.ISO)
        parser.add_argument("--country", default="", help="for local phone numbers (VN, CN, ...)")
        parser.add_argument("--mode", choices=ImportMode.values, default=ImportMode.GOOD_ROWS)
        parser.add_argument("--dry-run", action="store_true", help="check only, import nothing")
        parser.add_argument("--max-errors", type=int, default=200, help="bad rows to print")

    def handle(self, *args: Any, **options: Any) -> None:
        branch = Branch.objects.filter(
            organization__slug=options["organization"], code=options["branch"]
        ).first()
        if branch is None:
            raise CommandError("--branch: no such branch in that organisation")
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            with path.open("rb") as handle:
                job = create_job(
                    actor=None, branch=branch, upload=File(handle, name=path.name),
                    kind=options["kind"], source_system=options["source"], encoding=options["encoding"],
                    date_format=options["date_format"], default_country=options["country"],
                )  # fmt: skip
            if job.status == ImportStatus.FAILED:
                raise CommandError(job.failure)
            mapping = json.loads(options["mapping"]) if options["mapping"] else job.mapping
            job = set_mapping(job, mapping, options["mode"])
        except InvalidInput as error:
            raise CommandError(str(error)) from None
        except json.JSONDecodeError as error:
            raise CommandError(f"--mapping: not JSON ({error})") from None
        try:
            job = self._with_bar(job, options)
        except InvalidInput as error:  # all or nothing, with bad rows: nothing imported
            job.refresh_from_db()
            self._report(job, options["max_errors"])
            raise CommandError(str(error)) from None
        self._report(job, options["max_errors"])
        if job.status == ImportStatus.FAILED:
            raise CommandError(job.failure)

    def _with_bar(self, job: ImportJob, options: dict[str, Any]) -> ImportJob:
        bar = tqdm(total=job.total_rows, unit="rows", disable=options["verbosity"] == 0)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            if options["dry_run"]:
                return check_job(job, progress)
            return run_job(job, progress)
        finally:
            bar.close()

    def _report(self, job: ImportJob, max_errors: int) -> None:
        for index, (line, field, code, message) in enumerate(row_error_lines(job)):
            if index >= max_errors:
                self.stdout.write(f"... and more: {job.bad_rows} bad rows in all")
                break
            self.stdout.write(f"line {line}, {field}: {message} [{code}]")
        self.stdout.write(
            f"{job.original_name}: {job.total_rows} rows, {job.good_rows} good, "
            f"{job.bad_rows} bad, {job.skipped_rows} already imported, "
            f"{job.created_rows} {job.kind} created ({job.get_status_display()})"
        )
