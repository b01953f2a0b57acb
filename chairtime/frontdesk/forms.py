"""Forms of the front desk's settings: the daily goal and the no-show fee rule. The
services check the values (the same messages for pages and the API); the forms read them."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.frontdesk.models import DEFAULT_FREEZE_AT


class DailyGoalForm(forms.Form):
    amount = forms.CharField(label=_("Production goal per day"), max_length=20)
    freeze_at = forms.TimeField(
        label=_("Freeze the day's scheduled production at"),
        initial=DEFAULT_FREEZE_AT,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


class FeeRuleForm(forms.Form):
    is_enabled = forms.BooleanField(label=_("Charge a no-show fee"), required=False)
    amount = forms.CharField(label=_("Fee"), max_length=20, required=False)
    from_count = forms.IntegerField(
        label=_("From the no-show number (in 12 months)"), min_value=1, max_value=50, initial=1
    )


class DayForm(forms.Form):
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
