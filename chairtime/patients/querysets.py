"""Query helpers for patients: the tenant filter and search."""

from __future__ import annotations

import re
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
        folded = fold(query)
        whole_phone = _phone_digits(folded)
        if whole_phone:
            # "0912 345 678" is one phone number typed in groups, not three words.
            return self.filter(
                models.Q(search_key__contains=whole_phone) | models.Q(search_key__contains=folded)
            )
        result = self
        for word in folded.split():
            condition = models.Q(search_key__contains=word)
            phone = _phone_digits(word)
            if phone:
                condition |= models.Q(search_key__contains=phone)
            result = result.filter(condition)
        return result


_PHONE_LIKE = re.compile(r"[+(]?[0-9][0-9 ().-]*")


def _phone_digits(text: str) -> str:
    """The digits to look for when the text is written like a phone number, else "".

    "0912 345 678", "+84 912 345 678" and "912345678" all reach the stored E.164 digits: a
    leading 0 (national) or 00 (international) is dropped. A patient number such as
    "P000001" is not a phone number (stripped to "1" it would match nearly everyone).
    """
    if not _PHONE_LIKE.fullmatch(text):
        return ""
    number = digits(text).lstrip("0")
    return number if len(number) >= 6 else ""
