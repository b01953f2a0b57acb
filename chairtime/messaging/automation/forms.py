"""Forms of templates, rules and "send to a segment": the one validator of the pages and
the API (ADR 2). The forms check shapes and choices; the services check the rest (the
variables of a text, the ranges that depend on a rule's kind), with the same messages."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from chairtime.clinical.models import ProcedureCategory
from chairtime.crm.models import Segment
from chairtime.messaging.automation.services import RuleData, TemplateData
from chairtime.messaging.choices import SENDABLE_CHANNELS, OffsetUnit, RuleKind, TemplateCode
from chairtime.patients.choices import ContactChannel
from chairtime.tenancy.models import Branch

CHANNEL_CHOICES = [(c.value, c.label) for c in ContactChannel if c in SENDABLE_CHANNELS]
EVERY_BRANCH = ""
CHANNEL_FIELDS = ("channel_1", "channel_2", "channel_3", "channel_4")


def _branch_choices(branches: list[Branch], *, whole: bool) -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = [(EVERY_BRANCH, _("Every branch"))] if whole else []
    return choices + [(str(b.pk), b.name) for b in branches]


class BranchScoped(forms.Form):
    branch = forms.ChoiceField(label=_("Branch"), required=False)

    def __init__(self, *args: Any, branches: list[Branch], whole: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.branches = {str(b.pk): b for b in branches}
        self.whole = whole
        self.fields["branch"].choices = _branch_choices(branches, whole=whole)  # type: ignore[attr-defined]

    def clean_branch(self) -> str:
        """Every branch (empty) only for someone who holds the capability in each."""
        value = str(self.cleaned_data.get("branch") or "")
        if not value and not self.whole:
            raise forms.ValidationError(_("Choose one of your branches."))
        return value

    def chosen_branch(self) -> Branch | None:
        return self.branches.get(self.cleaned_data.get("branch") or "")


class TemplateForm(BranchScoped):
    code = forms.ChoiceField(label=_("Purpose"), choices=TemplateCode.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=CHANNEL_CHOICES)
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    subject = forms.CharField(
        label=_("Subject"), required=False, max_length=200, help_text=_("E-mail only.")
    )
    body = forms.CharField(
        label=_("Text"), strip=False, max_length=5000,
        widget=forms.Textarea(attrs={"rows": 7}),
        help_text=_("Variables in braces, such as {patient_name}."),
    )  # fmt: skip

    def template_data(self) -> TemplateData:
        """What the service saves (after is_valid())."""
        data = self.cleaned_data
        return TemplateData(
            code=data["code"], channel=data["channel"], language=data["language"],
            subject=data["subject"], body=data["body"], branch=self.chosen_branch(),
        )  # fmt: skip


class PreviewForm(forms.Form):
    """What the preview renders: the template as typed (not saved)."""

    code = forms.ChoiceField(choices=TemplateCode.choices)
    channel = forms.ChoiceField(choices=CHANNEL_CHOICES)
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    subject = forms.CharField(required=False, max_length=200)
    body = forms.CharField(required=False, strip=False, max_length=5000)


class ChannelOrder(forms.Form):
    """Channels in order of preference: the first where the patient has an address."""

    channel_1 = forms.ChoiceField(label=_("First choice"), choices=CHANNEL_CHOICES)
    channel_2 = forms.ChoiceField(
        label=_("Then"), required=False, choices=[("", _("—")), *CHANNEL_CHOICES]
    )
    channel_3 = forms.ChoiceField(
        label=_("Then"), required=False, choices=[("", _("—")), *CHANNEL_CHOICES]
    )
    channel_4 = forms.ChoiceField(
        label=_("Then"), required=False, choices=[("", _("—")), *CHANNEL_CHOICES]
    )

    def channels(self) -> list[str]:
        return [self.cleaned_data[name] for name in CHANNEL_FIELDS if self.cleaned_data.get(name)]

    @staticmethod
    def initial_of(channels: list[str]) -> dict[str, str]:
        return dict(zip(CHANNEL_FIELDS, channels, strict=False))


class RuleForm(BranchScoped, ChannelOrder):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=RuleKind.choices)
    is_enabled = forms.BooleanField(label=_("On"), required=False)
    offset_value = forms.IntegerField(
        label=_("Offset"), required=False, min_value=0, max_value=1000,
        help_text=_("Before the appointment, or after the visit or the presentation."),
    )  # fmt: skip
    offset_unit = forms.ChoiceField(label=_("Unit"), choices=OffsetUnit.choices)
    procedure_categories = forms.MultipleChoiceField(
        label=_("Procedure categories"), required=False, choices=ProcedureCategory.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Instructions after a visit only. None ticked: every category not "
                    "covered by a rule of its own."),
    )  # fmt: skip
    send_on = forms.DateField(
        label=_("Send on"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Holiday greetings and messages to a segment."),
    )  # fmt: skip
    send_at = forms.TimeField(
        label=_("At (local time)"), widget=forms.TimeInput(attrs={"type": "time"}),
        help_text=_("Greetings and messages to a segment, in each branch's time zone."),
    )  # fmt: skip
    offer = forms.CharField(label=_("Offer or news"), required=False, max_length=160)
    segment = forms.ChoiceField(label=_("Segment"), required=False)

    def __init__(self, *args: Any, segments: list[Segment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.segments = {str(s.pk): s for s in segments}
        self.fields["segment"].choices = [("", _("—")), *((str(s.pk), s.name) for s in segments)]  # type: ignore[attr-defined]

    def chosen_segment(self) -> Segment | None:
        return self.segments.get(self.cleaned_data.get("segment") or "")

    def rule_data(self) -> RuleData:
        """What the service saves (after is_valid())."""
        data = self.cleaned_data
        return RuleData(
            name=data["name"], kind=data["kind"], channels=self.channels(),
            is_enabled=data["is_enabled"], offset_value=data["offset_value"] or 0,
            offset_unit=data["offset_unit"], procedure_categories=list(data["procedure_categories"]),
            send_on=data["send_on"], send_at=data["send_at"], offer=data["offer"],
            segment=self.chosen_segment(), branch=self.chosen_branch(),
        )  # fmt: skip


class SegmentSendForm(BranchScoped, ChannelOrder):
    segment = forms.ChoiceField(label=_("Segment"))
    offer = forms.CharField(
        label=_("Offer or news"), max_length=160, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Fills {offer} in the “Message to a segment” template of each language."),
    )  # fmt: skip
    campaign_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, segments: list[Segment], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("campaign_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.segments = {str(s.pk): s for s in segments}
        self.fields["segment"].choices = [(str(s.pk), s.name) for s in segments]  # type: ignore[attr-defined]

    def chosen_segment(self) -> Segment | None:
        return self.segments.get(self.cleaned_data.get("segment") or "")
