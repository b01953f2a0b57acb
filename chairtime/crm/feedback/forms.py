"""Forms of patient feedback: recording and handling complaints, answering a survey."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.crm.choices import ComplaintCategory, ComplaintSeverity, ComplaintStatus

SCORES = [(score, str(score)) for score in range(11)]


def _blank(choices: Any, label: Any) -> list[tuple[str, Any]]:
    return [("", label), *choices]


class ComplaintForm(forms.Form):
    patient = forms.IntegerField(label=_("patient number (ID)"), min_value=1)
    category = forms.ChoiceField(label=_("category"), choices=ComplaintCategory.choices)
    severity = forms.ChoiceField(label=_("severity"), choices=ComplaintSeverity.choices)
    description = forms.CharField(
        label=_("what happened"), widget=forms.Textarea(attrs={"rows": 4}), max_length=5000
    )
    received_at = forms.DateTimeField(
        label=_("complaint received at"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for now."),
    )  # fmt: skip
    doctor = forms.ModelChoiceField(
        label=_("doctor concerned"), queryset=User.objects.none(), required=False
    )
    owner = forms.ModelChoiceField(label=_("owner"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, staff: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = staff  # type: ignore[attr-defined]
        self.fields["owner"].queryset = staff  # type: ignore[attr-defined]


class ComplaintUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("status"), choices=ComplaintStatus.choices)
    owner = forms.ModelChoiceField(label=_("owner"), queryset=User.objects.none(), required=False)
    resolution = forms.CharField(
        label=_("resolution"), widget=forms.Textarea(attrs={"rows": 3}), required=False,
        max_length=5000,
    )  # fmt: skip

    def __init__(self, *args: Any, staff: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff  # type: ignore[attr-defined]


class ComplaintFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("status"), required=False, choices=_blank(ComplaintStatus.choices, _("any"))
    )
    severity = forms.ChoiceField(
        label=_("severity"), required=False, choices=_blank(ComplaintSeverity.choices, _("any"))
    )
    category = forms.ChoiceField(
        label=_("category"), required=False, choices=_blank(ComplaintCategory.choices, _("any"))
    )
    owner = forms.ModelChoiceField(label=_("owner"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, staff: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = staff  # type: ignore[attr-defined]


class SurveyAnswerForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend or colleague?"),
        choices=SCORES, coerce=int, widget=forms.RadioSelect,
    )  # fmt: skip
    comment = forms.CharField(
        label=_("Anything you would like to tell us?"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )  # fmt: skip


class MonthsForm(forms.Form):
    months = forms.IntegerField(label=_("months"), min_value=1, max_value=36, required=False)
