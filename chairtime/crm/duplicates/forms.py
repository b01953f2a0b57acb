"""The merge form: which of the two records survives, and why they are one person."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.patients.models import Patient


class MergeForm(forms.Form):
    survivor = forms.TypedChoiceField(
        label=_("Record to keep"), coerce=int, widget=forms.RadioSelect,
        help_text=_("The other record's visits, plans, money, phones and consents move to it."),
    )  # fmt: skip
    reason = forms.CharField(label=_("Why they are the same person"), max_length=200)

    def __init__(self, *args: object, a: Patient, b: Patient, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.a, self.b = a, b
        self.fields["survivor"].choices = [  # type: ignore[attr-defined]
            (patient.pk, f"{patient.display_name} ({patient.number})") for patient in (a, b)
        ]

    def pair(self) -> tuple[Patient, Patient]:
        """(survivor, merged) as chosen."""
        chosen = self.cleaned_data["survivor"]
        return (self.a, self.b) if chosen == self.a.pk else (self.b, self.a)
