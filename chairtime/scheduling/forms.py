"""Forms of the appointment book: find a slot, book it, move an appointment, cancel one.

They check what the page sends (that the patient, procedure, chair and doctor are this
branch's); whether the time is free is the booking services' question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.clinical.models import Procedure
from chairtime.core.errors import InvalidInput
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import CancelledBy
from chairtime.scheduling.models import Appointment, Chair
from chairtime.scheduling.selectors import (
    Slot,
    list_branch_assistants,
    list_branch_doctors,
    list_chairs,
)
from chairtime.scheduling.services import BookingRequest
from chairtime.tenancy.models import Branch

LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
FIRST_YEAR, LAST_YEAR = 1900, 2999


@dataclass(frozen=True)
class SlotChoice:
    """An opening the user picked: when (an instant), which chair, doctor and assistant."""

    starts_at: datetime
    chair: Chair
    doctor: User
    assistant: User | None = None


def slot_value(starts_at: datetime, chair_id: int, doctor_id: int, assistant_id: int | None) -> str:
    """An opening as one form value: the instant in UTC (never ambiguous) and the ids."""
    instant = starts_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{instant}|{chair_id}|{doctor_id}|{assistant_id or ''}"


def value_of(slot: Slot) -> str:
    return slot_value(
        slot.opening.interval.start,
        slot.chair.pk,
        slot.doctor.pk,
        slot.assistant.pk if slot.assistant else None,
    )


def parse_instant(text: str) -> datetime | None:
    """An aware instant written in ISO 8601 (in a year the calendars reach), else None."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or not FIRST_YEAR <= moment.year <= LAST_YEAR:
        return None
    return moment


def within_reach(moment: date) -> None:
    """Refuse a year nobody books in or reports on (and that date arithmetic cannot go
    past): for dates and times alike, on every page and in the API."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise forms.ValidationError(
            _("Give a date between %(first)s and %(last)s."),
            code="out_of_range", params={"first": FIRST_YEAR, "last": LAST_YEAR},
        )  # fmt: skip


def _local_minute_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local", "step": 900}, format=LOCAL_MINUTE)


class SlotField(forms.CharField):
    """One opening, written by `slot_value`; only this branch's chairs and staff."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(label=_("Opening"), required=False, **kwargs)
        self.branch: Branch | None = None

    def clean(self, value: Any) -> SlotChoice | None:
        text = super().clean(value)
        if not text:
            return None
        parts = text.split("|")
        error = forms.ValidationError(_("Choose one of the openings."), code="invalid_slot")
        if len(parts) != 4 or self.branch is None:
            raise error
        moment = parse_instant(parts[0])
        chair = _pick(list_chairs(branch=self.branch).filter(is_active=True), parts[1])
        doctor = _pick(list_branch_doctors(branch=self.branch), parts[2])
        assistant = _pick(list_branch_assistants(branch=self.branch), parts[3])
        if moment is None or chair is None or doctor is None or (parts[3] and assistant is None):
            raise error
        return SlotChoice(moment, chair, doctor, assistant)


def _pick(rows: Any, raw: str) -> Any:
    return rows.filter(pk=int(raw)).first() if raw.isdigit() else None


class SlotSearchForm(forms.Form):
    """What the slot finder needs: a procedure, optionally a doctor, patient and earliest
    time; `chair` is the chair the user clicked (its opening is offered first)."""

    procedure = forms.ModelChoiceField(label=_("Procedure"), queryset=Procedure.objects.none())
    doctor = forms.ModelChoiceField(
        label=_("Doctor"),
        queryset=User.objects.none(),
        required=False,
        empty_label=_("Any qualified doctor"),
    )
    earliest = forms.DateTimeField(
        label=_("From"), required=False, widget=_local_minute_input(),
        input_formats=[LOCAL_MINUTE], validators=[within_reach],
    )  # fmt: skip
    patient = forms.ModelChoiceField(
        label=_("Patient"), queryset=Patient.objects.none(), required=False,
        widget=forms.HiddenInput,
    )  # fmt: skip
    chair = forms.ModelChoiceField(
        label=_("Chair"), queryset=Chair.objects.none(), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.branch = branch
        self.fields["procedure"].queryset = Procedure.objects.filter(  # type: ignore[attr-defined]
            organization_id=branch.organization_id, is_active=True
        )
        self.fields["doctor"].queryset = list_branch_doctors(branch=branch)  # type: ignore[attr-defined]
        self.fields["patient"].queryset = Patient.objects.for_branch(branch)  # type: ignore[attr-defined]
        self.fields["chair"].queryset = list_chairs(branch=branch).filter(is_active=True)  # type: ignore[attr-defined]


class BookingForm(SlotSearchForm):
    """Book a patient into one of the openings the slot finder offered."""

    patient = forms.ModelChoiceField(
        label=_("Patient"),
        queryset=Patient.objects.none(),
        error_messages={"required": _("Search for the patient and choose them.")},
    )
    slot = SlotField()
    notes = forms.CharField(
        label=_("Notes"), max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip
    overbook = forms.BooleanField(
        label=_("Book even if the time is taken (overbook)"), required=False
    )

    def __init__(self, *args: Any, branch: Branch, can_overbook: bool, **kwargs: Any) -> None:
        super().__init__(*args, branch=branch, **kwargs)
        self.fields["slot"].branch = branch  # type: ignore[attr-defined]
        if not can_overbook:
            del self.fields["overbook"]

    def clean_slot(self) -> SlotChoice:
        slot: SlotChoice | None = self.cleaned_data.get("slot")
        if slot is None:
            raise forms.ValidationError(_("Choose one of the openings."), code="required")
        return slot

    def to_request(self) -> BookingRequest:
        c = self.cleaned_data
        slot: SlotChoice = c["slot"]
        return BookingRequest(
            patient=c["patient"], procedure=c["procedure"], doctor=slot.doctor,
            chair=slot.chair, starts_at=slot.starts_at, assistant=slot.assistant,
            notes=c["notes"].strip(), overbook=bool(c.get("overbook")),
        )  # fmt: skip


class MoveForm(forms.Form):
    """A new time, chair and doctor for an appointment, typed or picked from the openings."""

    starts_at = forms.DateTimeField(
        label=_("New time"), required=False, widget=_local_minute_input(),
        input_formats=[LOCAL_MINUTE], validators=[within_reach],
    )  # fmt: skip
    chair = forms.ModelChoiceField(label=_("Chair"), queryset=Chair.objects.none())
    doctor = forms.ModelChoiceField(label=_("Doctor"), queryset=User.objects.none())
    slot = SlotField()
    overbook = forms.BooleanField(
        label=_("Move even if the time is taken (overbook)"), required=False
    )

    def __init__(
        self, *args: Any, appointment: Appointment, can_overbook: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        branch = appointment.branch
        self.fields["chair"].queryset = list_chairs(branch=branch).filter(is_active=True)  # type: ignore[attr-defined]
        self.fields["doctor"].queryset = list_branch_doctors(branch=branch)  # type: ignore[attr-defined]
        self.fields["slot"].branch = branch  # type: ignore[attr-defined]
        if not can_overbook:
            del self.fields["overbook"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        slot: SlotChoice | None = cleaned.get("slot")
        if slot is not None:  # an opening carries its own time, chair and doctor
            cleaned.update(starts_at=slot.starts_at, chair=slot.chair, doctor=slot.doctor)
            for name in ("chair", "doctor"):
                self.errors.pop(name, None)
        elif cleaned.get("starts_at") is None and "starts_at" not in self.errors:
            self.add_error("starts_at", _("Give the new date and time."))
        return cleaned


class CancelForm(forms.Form):
    cancelled_by = forms.ChoiceField(
        label=_("Cancelled by"), choices=CancelledBy.choices, widget=forms.RadioSelect
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)


def add_service_errors(
    form: forms.Form, error: InvalidInput, *, aliases: dict[str, str] | None = None
) -> None:
    """Show a service's refusal beside the field it names; `aliases` sends a service
    field to the form field that stands for it (a booking's time, chair and doctor are
    the opening that was picked). Anything else goes above the form."""
    aliases = aliases or {}
    for name, messages in error.errors.items():
        field: str | None = aliases.get(name, name)
        if field not in form.fields:
            field = None
        for message in messages:
            form.add_error(field, message)


BOOKING_ALIASES = {"starts_at": "slot", "chair": "slot", "doctor": "slot", "assistant": "slot"}
MOVE_ALIASES = {"assistant": "starts_at"}
