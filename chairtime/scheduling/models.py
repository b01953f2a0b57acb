"""Branch resources for the appointment book. Chairs for now; hours and bookings follow."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.models import Branch


class Chair(TimeStampedModel):
    """A dental chair (operatory) in a branch: the unit the clinic sells time on."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="chairs")
    name = models.CharField(_("name"), max_length=60)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["branch_id", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["branch", "name"], name="chair_name_unique")]

    def __str__(self) -> str:
        return self.name
