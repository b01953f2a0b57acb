"""The patient record. A patient belongs to the organisation, with a home branch."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
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
    PhoneKind,
    Sex,
)
from chairtime.patients.querysets import PatientQuerySet
from chairtime.tenancy.models import Branch, Organization


class Tag(TimeStampedModel):
    """A free label the organisation puts on patients ("orthodontic lead", "corporate")."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="tag_unique")]

    def __str__(self) -> str:
        return self.name


class Patient(TimeStampedModel):
    """One person the organisation treats: "the patient belongs to the clinic, not the doctor".

    Names: `family_name` and `given_name` as the patient writes them (a Spanish patient's two
    surnames both go in `family_name`), `name_order` decides how they read together, and
    `display_name` is what staff call them. `search_key` is the folded text that search
    matches (names without case or diacritics, number, phone digits); services keep it.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="patients"
    )
    home_branch = models.ForeignKey(
        Branch,
        on_delete=models.PROTECT,
        related_name="home_patients",
        verbose_name=_("home branch"),
    )
    number = models.CharField(_("patient number"), max_length=20)
    family_name = models.CharField(_("family name"), max_length=100)
    given_name = models.CharField(_("given name"), max_length=100, blank=True)
    name_order = models.CharField(
        _("name order"), max_length=16, choices=NameOrder.choices, default=NameOrder.GIVEN_FIRST
    )
    display_name = models.CharField(_("display name"), max_length=200)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    sex = models.CharField(_("sex"), max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    email = models.EmailField(_("email"), blank=True)
    preferred_language = models.CharField(
        _("preferred language"), max_length=10, choices=settings.LANGUAGES, blank=True
    )
    preferred_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="preferred_by_patients",
        verbose_name=_("preferred doctor"),
    )
    preferred_times = models.JSONField(_("preferred times"), default=list, blank=True)
    source_channel = models.ForeignKey(
        Channel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patients",
        verbose_name=_("source channel"),
    )
    referred_by_patient = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referred_patients",
        verbose_name=_("referred by patient"),
    )
    referred_by_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referred_patients",
        verbose_name=_("referred by staff member"),
    )
    referrer_external = models.CharField(_("external referrer"), max_length=200, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="patients", verbose_name=_("tags"))
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=PatientStatus.choices, default=PatientStatus.ACTIVE
    )
    first_seen_on = models.DateField(_("first seen on"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="merged_records",
        verbose_name=_("merged into"),
    )
    search_key = models.TextField(editable=False, default="")

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            # "p-77" and "P-77" are the same number to staff reading it out on the phone.
            models.UniqueConstraint(
                "organization", Lower("number"), name="patient_number_unique_ci"
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "home_branch", "display_name"], name="patient_branch_idx"
            ),
            models.Index(fields=["organization", "display_name"], name="patient_org_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.number})"


class PatientPhone(models.Model):
    """A phone number in E.164 form (+84912345678)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(_("phone"), max_length=20, db_index=True)
    kind = models.CharField(
        _("kind"), max_length=10, choices=PhoneKind.choices, default=PhoneKind.MOBILE
    )
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "number"], name="patient_phone_unique"),
            models.UniqueConstraint(
                fields=["patient"], condition=Q(is_primary=True), name="patient_one_primary_phone"
            ),
        ]

    def __str__(self) -> str:
        return self.number


class PatientChatId(models.Model):
    """The patient's account on a chat app (a Zalo phone/ID, a WeChat ID)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="chat_ids")
    app = models.CharField(_("app"), max_length=12, choices=ChatApp.choices)
    handle = models.CharField(_("ID"), max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "app"], name="patient_chat_app_unique")
        ]

    def __str__(self) -> str:
        return f"{self.app}:{self.handle}"


class Consent(models.Model):
    """One recorded consent or refusal for a channel and purpose; the newest one counts.

    Rows are never changed: a change of mind is a new row, so the history answers
    "who agreed to what, when, and how do we know".
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(_("channel"), max_length=12, choices=ContactChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=12, choices=ConsentPurpose.choices)
    is_granted = models.BooleanField(_("granted"))
    origin = models.CharField(_("origin"), max_length=16, choices=ConsentOrigin.choices)
    recorded_at = models.DateTimeField(_("recorded at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["patient", "channel", "purpose", "-recorded_at"], name="consent_current_idx"
            )
        ]

    def __str__(self) -> str:
        verb = "yes" if self.is_granted else "no"
        return f"{self.channel}/{self.purpose}: {verb}"


class MedicalAlert(TimeStampedModel):
    """Something every clinician must know before treating: allergy, condition, medication."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medical_alerts")
    kind = models.CharField(_("kind"), max_length=12, choices=AlertKind.choices)
    description = models.CharField(_("description"), max_length=200)
    severity = models.CharField(
        _("severity"), max_length=10, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["-is_active", "-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.description}"
