"""Forms of lab cases and labs. The pages and the API read input through these; the
services check everything the forms cannot (the lab's organisation and state, the
appointment's branch and patient, the due date against the order date)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.labs.choices import CaseKind, LabCaseStatus
from chairtime.labs.models import MAX_TURNAROUND_DAYS, Lab
from chairtime.labs.selectors import CaseFilters
from chairtime.labs.services import NOTES_MAX, SHADE_MAX, STEP_NOTE_MAX


def _blank(choices: Any, label: Any) -> list[tuple[str, Any]]:
    return [("", label), *choices]


def _lab_choices(labs: list[Lab]) -> list[tuple[str, str]]:
    return [(str(lab.pk), lab.name if lab.is_active else f"{lab.name} ✕") for lab in labs]


class CaseFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_blank(LabCaseStatus.choices, _("any"))
    )
    lab = forms.ChoiceField(label=_("Lab"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, labs: list[Lab], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lab"].choices = _blank(_lab_choices(labs), _("any"))  # type: ignore[attr-defined]

    def filters(self) -> CaseFilters:
        data = self.cleaned_data
        return CaseFilters(
            status=data.get("status", ""),
            lab_id=int(data["lab"]) if data.get("lab") else None,
            is_overdue=bool(data.get("overdue")),
        )


class CaseForm(forms.Form):
    """A new case. Teeth are typed as text ("11, 21"); the service parses and checks them."""

    lab = forms.ChoiceField(label=_("Lab"))
    kind = forms.ChoiceField(label=_("Kind of work"), choices=CaseKind.choices)
    teeth = forms.CharField(
        label=_("Teeth (FDI)"), required=False, max_length=200,
        help_text=_("Separated by commas or spaces: 11, 21"),
    )  # fmt: skip
    shade = forms.CharField(
        label=_("Shade"), required=False, widget=forms.TextInput({"maxlength": SHADE_MAX})
    )
    notes = forms.CharField(
        label=_("Notes for the lab"), required=False,
        widget=forms.Textarea({"rows": 3, "maxlength": NOTES_MAX}),
    )  # fmt: skip
    due_on = forms.DateField(
        label=_("Due back"), required=False, widget=forms.DateInput({"type": "date"}),
        help_text=_("Empty: the lab's turnaround from the day it is sent."),
    )  # fmt: skip
    patient_number = forms.CharField(label=_("Patient number"), required=False, max_length=40)
    appointment = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    plan_item = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, labs: list[Lab], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lab"].choices = _blank(  # type: ignore[attr-defined]
            _lab_choices([lab for lab in labs if lab.is_active]), _("choose a lab")
        )


class StepForm(forms.Form):
    due_on = forms.DateField(
        label=_("Due back"), required=False, widget=forms.DateInput({"type": "date"})
    )
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.TextInput({"maxlength": STEP_NOTE_MAX})
    )


class LabForm(forms.Form):
    """A lab: its contact, its turnaround (a default and optionally one per kind)."""

    name = forms.CharField(label=_("Name"), max_length=120)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=40)
    email = forms.CharField(label=_("Email"), required=False, max_length=254)
    default_turnaround_days = forms.IntegerField(
        label=_("Turnaround (days)"), min_value=1, max_value=MAX_TURNAROUND_DAYS, initial=7
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for value, label in CaseKind.choices:
            self.fields[f"turnaround_{value}"] = forms.IntegerField(
                label=label, required=False, min_value=1, max_value=MAX_TURNAROUND_DAYS,
                help_text=_("days; empty: the default"),
            )  # fmt: skip

    def kind_fields(self) -> list[forms.BoundField]:
        return [self[f"turnaround_{value}"] for value in CaseKind.values]

    def values(self) -> dict[str, Any]:
        """What the service takes."""
        data = self.cleaned_data
        return {
            "name": data["name"], "phone": data.get("phone", ""), "email": data.get("email", ""),
            "default_turnaround_days": data["default_turnaround_days"],
            "is_active": bool(data.get("is_active")),
            "turnaround_days": {
                kind: data[f"turnaround_{kind}"]
                for kind in CaseKind.values
                if data.get(f"turnaround_{kind}") is not None
            },
        }  # fmt: skip

    @staticmethod
    def initial_of(lab: Lab) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": lab.name, "phone": lab.phone, "email": lab.email,
            "default_turnaround_days": lab.default_turnaround_days, "is_active": lab.is_active,
        }  # fmt: skip
        for kind, days in lab.turnaround_days.items():
            initial[f"turnaround_{kind}"] = days
        return initial
