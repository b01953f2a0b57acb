"""The thresholds form: one whole number per setting (the service checks the ranges)."""

from __future__ import annotations

from typing import Any

from django import forms

from chairtime.crm.models import GroupThresholds
from chairtime.crm.profiles.groups import THRESHOLD_FIELDS
from chairtime.crm.profiles.services import LIMITS


def _label(name: str) -> Any:
    field = GroupThresholds._meta.get_field(name)
    return getattr(field, "verbose_name", name)


class ThresholdsForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in THRESHOLD_FIELDS:
            low, high = LIMITS[name]
            self.fields[name] = forms.IntegerField(
                label=_label(name),
                min_value=low,
                max_value=high,
            )

    @staticmethod
    def initial_for(thresholds: GroupThresholds) -> dict[str, int]:
        return {name: getattr(thresholds, name) for name in THRESHOLD_FIELDS}
