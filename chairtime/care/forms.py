"""Forms of care: a call's outcome, the filters of the task and recall lists, a rule.

The pages and the API read their input through these same forms; the services check what
the forms cannot (a closed task, a note too long, ranges that depend on the rule's kind).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.care.choices import AssignTo, OffsetUnit, Outcome, TaskKind, TaskStatus
from chairtime.care.rules import KINDS_WITH_CATEGORIES, NOTE_MAX, OFFSET_UNITS
from chairtime.care.selectors import RecallFilters, TaskFilters
from chairtime.clinical.models import ProcedureCategory
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role

FAR = timedelta(days=366 * 20)  # dates further than this from today are typing mistakes


def _blank(choices: Any, label: Any) -> list[tuple[str, Any]]:
    return [("", label), *choices]


class AttemptForm(forms.Form):
    """One call: how it went and a note. `expected_attempts` is the count the caller saw."""

    # Offered as choices; the service checks the value (the API's message, word for word).
    outcome = forms.CharField(label=_("Outcome"), widget=forms.RadioSelect(choices=Outcome.choices))
    # The length is checked by the service (one message for the page and the API); the
    # browser stops typing at the same length.
    note = forms.CharField(
        label=_("Note"), required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX}),
    )  # fmt: skip
    expected_attempts = forms.IntegerField(
        required=False, min_value=0, max_value=100, widget=forms.HiddenInput
    )


class TaskFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=_blank(TaskKind.choices, _("any"))
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_blank(TaskStatus.choices, _("any"))
    )
    assignee = forms.ChoiceField(label=_("Assigned to"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, people: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [  # type: ignore[attr-defined]
            ("", _("anyone")),
            ("me", _("me or my role")),
            ("nobody", _("a role, nobody by name")),
            *((f"role:{value}", label) for value, label in Role.choices),
            *((str(user.pk), str(user)) for user in people),
        ]

    def filters(self, *, patient_id: int | None = None) -> TaskFilters:
        data = self.cleaned_data
        return TaskFilters(
            kind=data.get("kind", ""), status=data.get("status", ""),
            assignee=data.get("assignee", ""), is_overdue=bool(data.get("overdue")),
            patient_id=patient_id,
        )  # fmt: skip


class RecallFilterForm(forms.Form):
    """The recall list's filters; the branch is one the user may see care work in."""

    due_from = forms.DateField(
        label=_("Due from"), required=False, widget=forms.DateInput({"type": "date"})
    )
    due_to = forms.DateField(
        label=_("Due until"), required=False, widget=forms.DateInput({"type": "date"})
    )
    doctor = forms.ModelChoiceField(
        label=_("Doctor (preferred or last)"), queryset=User.objects.none(), required=False,
        empty_label=_("Every doctor"),
    )  # fmt: skip
    branch = forms.TypedChoiceField(label=_("Branch"), coerce=int, required=False)
    attempts_min = forms.IntegerField(
        label=_("Calls at least"), required=False, min_value=0, max_value=10
    )
    attempts_max = forms.IntegerField(
        label=_("Calls at most"), required=False, min_value=0, max_value=10
    )

    def __init__(
        self, *args: Any, branches: list[Branch], doctors: QuerySet[User], today: date,
        **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["branch"].choices = [(b.pk, b.name) for b in branches]  # type: ignore[attr-defined]
        self.fields["doctor"].queryset = doctors  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("due_from", "due_to"):
            day = cleaned.get(name)
            if day is not None and abs(day - self.today) > FAR:
                self.add_error(name, _("Give a date within twenty years of today."))
        low, high = cleaned.get("due_from"), cleaned.get("due_to")
        if low is not None and high is not None and low > high:
            self.add_error("due_to", _("Give an end on or after the start."))
        fewest, most = cleaned.get("attempts_min"), cleaned.get("attempts_max")
        if fewest is not None and most is not None and fewest > most:
            self.add_error("attempts_max", _("Give a maximum not below the minimum."))
        return cleaned

    def filters(self, default_due_to: date) -> RecallFilters:
        data = self.cleaned_data if self.is_bound else {}
        doctor = data.get("doctor")
        due_to = data.get("due_to")
        has_range = bool(data.get("due_from") or due_to)
        return RecallFilters(
            due_from=data.get("due_from"), due_to=due_to if has_range else default_due_to,
            doctor_id=doctor.pk if doctor else None, attempts_min=data.get("attempts_min"),
            attempts_max=data.get("attempts_max"),
        )  # fmt: skip


UNIT_LABELS: dict[str, Any] = {
    OffsetUnit.HOURS: _("Hours before the appointment"),
    OffsetUnit.DAYS: _("Days"),
    OffsetUnit.MONTHS: _("Months since the last visit"),
}
OFFSET_LABELS: dict[str, Any] = {
    TaskKind.POST_TREATMENT_DAY1: _("Days after the treatment"),
    TaskKind.POST_TREATMENT_DAY7: _("Days after the treatment"),
    TaskKind.TREATMENT_CONTINUATION: _("Days after the acceptance with nothing booked"),
    TaskKind.RECALL_DUE: _("Days before the recall date"),
    TaskKind.COMPLAINT_FOLLOW_UP: _("Days after the complaint"),
    TaskKind.BIRTHDAY: _("Days before the birthday"),
    TaskKind.NO_SHOW_FOLLOW_UP: _("Hours after the no-show"),
}


class RuleForm(forms.Form):
    """One rule's settings. The service checks the ranges (they depend on the kind)."""

    is_enabled = forms.BooleanField(label=_("Make these tasks"), required=False)
    offset = forms.IntegerField(label=_("When"))
    categories = forms.MultipleChoiceField(
        label=_("Procedure categories"), required=False, choices=ProcedureCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every category."),
    )  # fmt: skip
    assign_to = forms.ChoiceField(label=_("Give the tasks to"), choices=AssignTo.choices)
    assign_role = forms.ChoiceField(
        label=_("Role"), choices=Role.choices,
        help_text=_("Also who gets them when the patient has no doctor or consultant."),
    )  # fmt: skip
    max_attempts = forms.IntegerField(label=_("Calls at most"))
    cool_off_days = forms.IntegerField(
        label=_("Days between calls"), help_text=_("After a call nobody answered.")
    )
    hand_over_after_days = forms.IntegerField(
        label=_("Hand over to reactivation after (days)"),
        help_text=_("Past the recall date, once every call was made."),
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.fields["offset"].label = OFFSET_LABELS.get(kind) or UNIT_LABELS[OFFSET_UNITS[kind]]
        if kind not in KINDS_WITH_CATEGORIES:
            del self.fields["categories"]
        if kind != TaskKind.RECALL_DUE:
            del self.fields["hand_over_after_days"]
