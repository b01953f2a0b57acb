"""The patient form: the single validator for the patient pages and the patient API."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import phonenumbers
from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.marketing.models import Channel
from chairtime.patients.choices import (
    AlertKind,
    AlertSeverity,
    ChatApp,
    ConsentOrigin,
    ConsentPurpose,
    ContactChannel,
    NameOrder,
    PatientStatus,
    PreferredTime,
    Sex,
)
from chairtime.patients.models import Patient, Tag
from chairtime.patients.services import ConsentChoice, PatientData, PhoneData
from chairtime.tenancy.access import BranchAccess, list_user_branches
from chairtime.tenancy.models import Branch
from chairtime.tenancy.roles import Role

OLDEST_AGE_YEARS = 130
NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,19}$")


def parse_phone(raw: str, country: str) -> str:
    """A phone number as E.164; a national number is read in the branch's country."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    hint = (
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        if example
        else "+84 91 234 56 78"
    )
    error = forms.ValidationError(
        _("“%(value)s” is not a valid phone number. Write it like %(example)s."),
        code="invalid_phone",
        params={"value": raw, "example": hint},
    )
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        raise error from None
    if not phonenumbers.is_valid_number(parsed):
        raise error
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def doctors_of(branch: Branch) -> QuerySet[User]:
    return (
        User.objects.filter(
            is_active=True,
            memberships__organization_id=branch.organization_id,
            memberships__role=Role.DOCTOR,
        )
        .distinct()
        .order_by("last_name", "first_name")
    )


class PatientForm(forms.Form):
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    given_name = forms.CharField(label=_("Given name"), max_length=100, required=False)
    name_order = forms.ChoiceField(label=_("Name order"), choices=NameOrder.choices)
    display_name = forms.CharField(
        label=_("Display name"), max_length=200, required=False,
        help_text=_("Leave empty to compose it from the names."),
    )  # fmt: skip
    number = forms.CharField(
        label=_("Patient number"), max_length=20, required=False,
        help_text=_("Leave empty to give the next free number."),
    )  # fmt: skip
    home_branch = forms.ModelChoiceField(label=_("Home branch"), queryset=Branch.objects.none())
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        # <input type="date"> only takes ISO dates; the locale's format would blank it.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    sex = forms.ChoiceField(label=_("Sex"), choices=Sex.choices, initial=Sex.UNKNOWN)
    phone = forms.CharField(label=_("Mobile phone"), max_length=40, required=False)
    phone_alt = forms.CharField(label=_("Other phone"), max_length=40, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    zalo_id = forms.CharField(label=_("Zalo ID"), max_length=100, required=False)
    wechat_id = forms.CharField(label=_("WeChat ID"), max_length=100, required=False)
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"), choices=[("", "—"), *settings.LANGUAGES], required=False
    )
    preferred_doctor = forms.ModelChoiceField(
        label=_("Preferred doctor"), queryset=User.objects.none(), required=False
    )
    preferred_times = forms.MultipleChoiceField(
        label=_("Can usually come"), choices=PreferredTime.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    source_channel = forms.ModelChoiceField(
        label=_("Came through"), queryset=Channel.objects.none(), required=False
    )
    referred_by_number = forms.CharField(
        label=_("Referred by patient (number)"), max_length=20, required=False
    )
    referred_by_staff = forms.ModelChoiceField(
        label=_("Referred by staff member"), queryset=User.objects.none(), required=False
    )
    referrer_external = forms.CharField(
        label=_("External referrer"), max_length=200, required=False
    )
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags"), queryset=Tag.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    notes = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=PatientStatus.choices, initial=PatientStatus.ACTIVE
    )
    consent_service = forms.MultipleChoiceField(
        label=_("Agrees to service messages by"), choices=ContactChannel.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    consent_marketing = forms.MultipleChoiceField(
        label=_("Agrees to marketing messages by"), choices=ContactChannel.choices, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    consent_origin = forms.ChoiceField(
        label=_("Consent given through"),
        choices=[("", "—"), *ConsentOrigin.choices],
        required=False,
    )

    CONSENT_FIELDS = ("consent_service", "consent_marketing", "consent_origin")

    def __init__(
        self, *args: Any, access: BranchAccess, patient: Patient | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.access = access
        self.patient = patient
        branch = access.branch
        self.fields["home_branch"].queryset = list_user_branches_in_org(access)  # type: ignore[attr-defined]
        self.fields["home_branch"].initial = branch.pk
        self.fields["preferred_doctor"].queryset = doctors_of(branch)  # type: ignore[attr-defined]
        self.fields["referred_by_staff"].queryset = (  # type: ignore[attr-defined]
            User.objects.filter(memberships__organization_id=branch.organization_id).distinct()
        )
        self.fields["source_channel"].queryset = Channel.objects.filter(  # type: ignore[attr-defined]
            organization_id=branch.organization_id, is_active=True
        )
        self.fields["tags"].queryset = Tag.objects.filter(organization_id=branch.organization_id)  # type: ignore[attr-defined]
        if patient is None:  # Vietnamese and Chinese names put the family name first
            family_first = branch.locale.split("_")[0] in {"vi", "zh"}
            self.fields["name_order"].initial = (
                NameOrder.FAMILY_FIRST if family_first else NameOrder.GIVEN_FIRST
            )
        if patient is not None:
            for name in self.CONSENT_FIELDS:
                del self.fields[name]  # consents change through their own form, with origin

    # --- field rules ------------------------------------------------------------------
    def _country(self) -> str:
        home = self.cleaned_data.get("home_branch")
        return home.country if isinstance(home, Branch) else self.access.branch.country

    def clean_phone(self) -> str:
        raw = self.cleaned_data["phone"].strip()
        return parse_phone(raw, self._country()) if raw else ""

    def clean_phone_alt(self) -> str:
        raw = self.cleaned_data["phone_alt"].strip()
        return parse_phone(raw, self._country()) if raw else ""

    def clean_birth_date(self) -> date | None:
        born: date | None = self.cleaned_data["birth_date"]
        if born is None:
            return None
        today = timezone.localdate()
        if born > today:
            raise forms.ValidationError(_("The birth date is in the future."), code="future")
        if born.year < today.year - OLDEST_AGE_YEARS:
            raise forms.ValidationError(
                _("The birth date is more than %(years)s years ago."),
                code="too_old", params={"years": OLDEST_AGE_YEARS},
            )  # fmt: skip
        return born

    def clean_number(self) -> str:
        number: str = self.cleaned_data["number"].strip()
        if not number:
            return ""
        if not NUMBER_PATTERN.match(number):
            raise forms.ValidationError(
                _("Use letters, digits and dashes only (at most 20)."), code="number_format"
            )
        taken = Patient.objects.filter(
            organization_id=self.access.branch.organization_id, number__iexact=number
        )
        if self.patient is not None:
            taken = taken.exclude(pk=self.patient.pk)
        if taken.exists():
            raise forms.ValidationError(_("Another patient already has this number."), code="taken")
        return number

    def clean_referred_by_number(self) -> Patient | None:
        number = self.cleaned_data["referred_by_number"].strip()
        if not number:
            return None
        referrer = Patient.objects.filter(
            organization_id=self.access.branch.organization_id, number__iexact=number
        ).first()
        if referrer is None:
            raise forms.ValidationError(_("No patient with this number."), code="unknown_referrer")
        if self.patient is not None and referrer.pk == self.patient.pk:
            raise forms.ValidationError(
                _("A patient cannot refer themselves."), code="self_referral"
            )
        return referrer

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "consent_origin" in self.fields:
            wants_consent = cleaned.get("consent_service") or cleaned.get("consent_marketing")
            if wants_consent and not cleaned.get("consent_origin"):
                self.add_error(
                    "consent_origin", _("Say where this consent comes from (form, verbal, …).")
                )
        if cleaned.get("phone") and cleaned.get("phone") == cleaned.get("phone_alt"):
            self.add_error("phone_alt", _("This is the same number as the mobile phone."))
        return cleaned

    # --- results ----------------------------------------------------------------------
    def to_data(self) -> PatientData:
        c = self.cleaned_data
        phones = [PhoneData(c["phone"], "mobile")] if c["phone"] else []
        if c["phone_alt"]:
            phones.append(PhoneData(c["phone_alt"], "home"))
        return PatientData(
            family_name=c["family_name"].strip(), given_name=c["given_name"].strip(),
            name_order=c["name_order"], display_name=c["display_name"].strip(),
            number=c["number"], home_branch=c["home_branch"], birth_date=c["birth_date"],
            sex=c["sex"], email=c["email"], preferred_language=c["preferred_language"],
            preferred_doctor=c["preferred_doctor"], preferred_times=list(c["preferred_times"]),
            source_channel=c["source_channel"], referred_by_patient=c["referred_by_number"],
            referred_by_staff=c["referred_by_staff"], referrer_external=c["referrer_external"],
            tags=list(c["tags"]), notes=c["notes"], status=c["status"], phones=phones,
            chat_ids={ChatApp.ZALO: c["zalo_id"].strip(), ChatApp.WECHAT: c["wechat_id"].strip()},
        )  # fmt: skip

    def consent_choices(self) -> list[ConsentChoice]:
        c = self.cleaned_data
        return [
            ConsentChoice(channel, purpose, True)
            for purpose, field in ((ConsentPurpose.SERVICE, "consent_service"),
                                   (ConsentPurpose.MARKETING, "consent_marketing"))
            for channel in c.get(field, [])
        ]  # fmt: skip

    @classmethod
    def initial_for(cls, patient: Patient) -> dict[str, Any]:
        """The form's starting values for editing a patient."""
        phones = list(patient.phones.all())
        chats = {chat.app: chat.handle for chat in patient.chat_ids.all()}
        return {
            "family_name": patient.family_name, "given_name": patient.given_name,
            "name_order": patient.name_order, "display_name": patient.display_name,
            "number": patient.number, "home_branch": patient.home_branch_id,
            "birth_date": patient.birth_date, "sex": patient.sex,
            "phone": phones[0].number if phones else "",
            "phone_alt": phones[1].number if len(phones) > 1 else "",
            "email": patient.email, "zalo_id": chats.get(ChatApp.ZALO, ""),
            "wechat_id": chats.get(ChatApp.WECHAT, ""),
            "preferred_language": patient.preferred_language,
            "preferred_doctor": patient.preferred_doctor_id,
            "preferred_times": patient.preferred_times,
            "source_channel": patient.source_channel_id,
            "referred_by_number": patient.referred_by_patient.number if patient.referred_by_patient else "",
            "referred_by_staff": patient.referred_by_staff_id,
            "referrer_external": patient.referrer_external,
            "tags": list(patient.tags.values_list("pk", flat=True)),
            "notes": patient.notes, "status": patient.status,
        }  # fmt: skip


def list_user_branches_in_org(access: BranchAccess) -> QuerySet[Branch]:
    """Branches a patient may call home: the user's own, in the active organisation."""
    return list_user_branches(access.user).filter(organization_id=access.branch.organization_id)


class ConsentForm(forms.Form):
    """Change consents on an existing patient: every box, plus where the change came from."""

    consent_service = PatientForm.base_fields["consent_service"]
    consent_marketing = PatientForm.base_fields["consent_marketing"]
    origin = forms.ChoiceField(label=_("Consent given through"), choices=ConsentOrigin.choices)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def choices(self) -> list[ConsentChoice]:
        c = self.cleaned_data
        return [
            ConsentChoice(channel, purpose, channel in c.get(field, []))
            for purpose, field in ((ConsentPurpose.SERVICE, "consent_service"),
                                   (ConsentPurpose.MARKETING, "consent_marketing"))
            for channel in ContactChannel.values
        ]  # fmt: skip


class MedicalAlertForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=AlertKind.choices)
    description = forms.CharField(label=_("Description"), max_length=200)
    severity = forms.ChoiceField(label=_("Severity"), choices=AlertSeverity.choices)
