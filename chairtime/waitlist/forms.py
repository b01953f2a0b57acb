"""Forms of the waitlist pages: adding an entry and filtering the list. The rules about an
entry are the service's (services.add_entry); the form only parses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.clinical.forms import doctors_in
from chairtime.clinical.models import Procedure
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch
from chairtime.waitlist.choices import EntryStatus, PartOfDay, Weekday


class EntryForm(forms.Form):
    patient = forms.CharField(label=_("Patient number"), max_length=20)
    procedure = forms.ModelChoiceField(label=_("Procedure"), queryset=Procedure.objects.none())
    doctor = forms.ModelChoiceField(
        label=_("Doctor"), queryset=User.objects.none(), required=False,
        empty_label=_("Any qualified doctor"),
    )  # fmt: skip
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days"), choices=Weekday.choices, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple, help_text=_("None ticked: any day."),
    )  # fmt: skip
    part_of_day = forms.ChoiceField(
        label=_("Time of day"), choices=PartOfDay.choices, initial=PartOfDay.ANY
    )
    earliest_on = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    latest_on = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.branch = branch
        procedures = Procedure.objects.filter(
            organization_id=branch.organization_id, is_active=True
        )
        self.fields["procedure"].queryset = procedures.order_by("code")  # type: ignore[attr-defined]
        self.fields["doctor"].queryset = doctors_in(branch)  # type: ignore[attr-defined]

    def clean_patient(self) -> Patient:
        number = self.cleaned_data["patient"].strip()
        patient = Patient.objects.filter(
            organization_id=self.branch.organization_id, number__iexact=number
        ).first()
        if patient is None:
            raise forms.ValidationError(_("No patient has this number."))
        return patient


class EntryFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), choices=EntryStatus.choices, required=False, initial=EntryStatus.ACTIVE
    )
    procedure = forms.ModelChoiceField(
        label=_("Procedure"), queryset=Procedure.objects.none(), required=False,
        empty_label=_("Any procedure"),
    )  # fmt: skip
    search = forms.CharField(label=_("Patient"), max_length=100, required=False)

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        procedures = Procedure.objects.filter(organization_id=branch.organization_id)
        self.fields["procedure"].queryset = procedures.order_by("code")  # type: ignore[attr-defined]
