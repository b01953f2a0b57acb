"""Query helpers for patients: the tenant filter and search."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

from chairtime.core.text import digits, fold

if TYPE_CHECKING:
    from chairtime.patients.models import Patient  # noqa: F401
    from chairtime.tenancy.models import Branch


class PatientQuerySet(models.QuerySet["Patient"]):
    def for_branch(self, branch: Branch) -> PatientQuerySet:
        """Patients a user working in this branch may see: the whole organisation's."""
        return self.filter(organization_id=branch.organization_id)

    def matching(self, query: str) -> PatientQuerySet:
        """Every word of the query appears in the folded name, number or phone digits."""
        result = self
        for word in fold(query).split():
            phone_digits = digits(word)
            if len(phone_digits) >= 6 and len(phone_digits) >= len(word) - 1:
                # "0912 345" and "+84912345" both reach the stored digits; a leading 0 of a
                # national number is dropped so it matches the E.164 digits too.
                word = phone_digits.lstrip("0")
            result = result.filter(search_key__contains=word)
        return result
