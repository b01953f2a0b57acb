"""`manage.py recompute_profiles`: recompute patient profiles and customer groups now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chairtime.crm.profiles.compute import recompute_organization
from chairtime.tenancy.models import Organization


class Command(BaseCommand):
    help = "Recompute every patient's profile, RFM scores and customer group."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="the organisation's short name (slug)")

    def handle(self, *args: Any, **options: Any) -> None:
        organizations = Organization.objects.order_by("pk")
        if options["organization"]:
            organizations = organizations.filter(slug=options["organization"])
            if not organizations.exists():
                raise CommandError(
                    f"--organization: no organisation called {options['organization']!r}"
                )
        for organization in organizations:
            result = recompute_organization(organization, progress=options["verbosity"] > 0)
            self.stdout.write(
                f"{organization.slug}: {result.patients} patients, "
                f"{result.changed_groups} group changes in {result.seconds:.1f} s"
            )
