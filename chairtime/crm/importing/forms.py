"""Forms of the import pages: the upload and the column mapping."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.crm.choices import DateFormat, ImportKind, ImportMode
from chairtime.crm.importing.columns import columns_of
from chairtime.crm.importing.reading import ENCODINGS


class UploadForm(forms.Form):
    upload = forms.FileField(label=_("File (.csv or .xlsx)"))
    kind = forms.ChoiceField(
        label=_("What the file holds"), choices=ImportKind.choices, initial=ImportKind.PATIENTS,
        help_text=_(
            "Visit and payment history name each patient by their ID in the old system: "
            "import the patients file first, with the same system name."
        ),
    )  # fmt: skip
    source_system = forms.CharField(
        label=_("System the file comes from"), max_length=40,
        help_text=_("The same name on every file from that system: re-imports are recognised by it."),
    )  # fmt: skip
    encoding = forms.ChoiceField(label=_("Encoding (CSV)"), choices=ENCODINGS, initial="utf-8")
    date_format = forms.ChoiceField(
        label=_("Dates are written"), choices=DateFormat.choices, initial=DateFormat.ISO
    )
    default_country = forms.CharField(
        label=_("Country for local phone numbers"), max_length=2, required=False,
        help_text=_("Two letters, such as VN; empty: the branch's country."),
    )  # fmt: skip


class MappingForm(forms.Form):
    """One choice of column per field the file may hold, and the mode."""

    mode = forms.ChoiceField(
        label=_("Bad rows"), choices=ImportMode.choices, widget=forms.RadioSelect
    )

    def __init__(self, *args: Any, kind: str, headers: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *((header, header) for header in headers)]
        self.field_names = []
        for column in columns_of(kind):
            name = f"column_{column.field}"
            self.fields[name] = forms.ChoiceField(
                label=str(column.label), choices=choices, required=column.required
            )
            self.field_names.append(column.field)

    def mapping(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[f"column_{name}"]
            for name in self.field_names
            if self.cleaned_data.get(f"column_{name}")
        }

    @classmethod
    def initial_for(cls, mapping: dict[str, str], mode: str) -> dict[str, str]:
        return {"mode": mode, **{f"column_{name}": header for name, header in mapping.items()}}
