"""`manage.py simulate`: make a simulated organisation (see chairtime.simulation)."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chairtime.simulation.generator import SIZES, simulate
from chairtime.tenancy.models import Organization


class Command(BaseCommand):
    help = (
        "Generate a deterministic simulated clinic or chain (branches, staff, patients, "
        "working hours, appointment book, treatment plans, production and money)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", choices=sorted(SIZES), default="demo", help="a named size")
        parser.add_argument("--seed", type=int, help="random seed (same seed, same data)")
        parser.add_argument("--branches", type=int, help="override the size's branch count")
        parser.add_argument("--patients", type=int, help="override the size's patient count")
        parser.add_argument("--countries", help="comma-separated: VN,CN,ES,US")
        parser.add_argument(
            "--as-of", type=date.fromisoformat, help="the simulated today, YYYY-MM-DD"
        )
        parser.add_argument("--history-days", type=int, help="days of appointment history")
        parser.add_argument("--future-days", type=int, help="days of future bookings")
        parser.add_argument(
            "--no-treatment", action="store_true", help="no plans, production or money"
        )
        parser.add_argument("--slug", help="the organisation's short name (must be new)")
        parser.add_argument("--name", help="the organisation's name")

    def handle(self, *args: Any, **options: Any) -> None:
        config = SIZES[options["size"]]
        overrides = {
            "seed": options["seed"], "branches": options["branches"],
            "patients": options["patients"], "as_of": options["as_of"], "slug": options["slug"],
            "organization_name": options["name"], "history_days": options["history_days"],
            "future_days": options["future_days"],
            "countries": tuple(options["countries"].split(",")) if options["countries"] else None,
            "treatment": False if options["no_treatment"] else None,
        }  # fmt: skip
        config = dataclasses.replace(
            config, **{k: v for k, v in overrides.items() if v is not None}
        )
        if Organization.objects.filter(slug=config.slug).exists():
            raise CommandError(f"--slug: an organisation called {config.slug!r} exists already")
        try:
            result = simulate(config, progress=options["verbosity"] > 0)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"{result.organization.name}: {len(result.branches)} branches, {result.staff} staff, "
            f"{result.patients} patients in {result.seconds:.1f} s "
            f"({result.patients_per_second:,.0f} patients/s); {result.appointments} appointments "
            f"({result.appointments_per_second:,.0f}/s); {result.plans} treatment plans, "
            f"{result.performed} procedures performed, {result.invoices} invoices, "
            f"{result.payments} payments ({result.money_seconds:.1f} s); {result.complaints} "
            f"complaints, {result.surveys} NPS surveys ({result.answered_surveys} answered), "
            f"{result.profiles} patient profiles, {result.care.tasks} care tasks with "
            f"{result.care.attempts} calls, {result.messaging.messages} messages, "
            f"{result.waitlist.entries} waitlist entries ({result.waitlist.claimed} of "
            f"{result.waitlist.offers} offers claimed), {result.labs.cases} lab cases "
            f"({result.crm_seconds:.1f} s)"
        )
