"""Forms of the outbox and inbox pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.messaging.choices import SENDABLE_CHANNELS, InboundKind, MessageStatus
from chairtime.patients.choices import ContactChannel
from chairtime.tenancy.models import Branch

_ANY = [("", _("Any"))]


class OutboxFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=_ANY + list(MessageStatus.choices)
    )
    channel = forms.ChoiceField(
        label=_("Channel"), required=False,
        choices=_ANY + [(c.value, c.label) for c in ContactChannel if c in SENDABLE_CHANNELS],
    )  # fmt: skip
    branch = forms.ChoiceField(label=_("Branch"), required=False)
    day = forms.DateField(
        label=_("Day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, branches: list[Branch], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", _("All my branches")), *((str(b.pk), b.name) for b in branches)]
        self.fields["branch"].choices = choices  # type: ignore[attr-defined]


class InboxFilterForm(forms.Form):
    show = forms.ChoiceField(
        label=_("Show"), required=False,
        choices=[("open", _("Not handled")), ("all", _("All"))],
    )  # fmt: skip
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=_ANY + list(InboundKind.choices)
    )


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"), max_length=1600, widget=forms.Textarea(attrs={"rows": 3})
    )


class ResolveForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("sent", _("It was sent")), ("resend", _("It was not sent: send again"))]
    )
