"""Users, their staff profiles, and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel


class User(AbstractUser):
    """A person who logs in: staff of one or more branches (see tenancy.Membership)."""

    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, blank=True, default=""
    )

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Specialty(models.TextChoices):
    GENERAL = "general", _("General dentistry")
    ORTHODONTICS = "orthodontics", _("Orthodontics")
    ENDODONTICS = "endodontics", _("Endodontics")
    PERIODONTICS = "periodontics", _("Periodontics")
    PROSTHODONTICS = "prosthodontics", _("Prosthodontics")
    ORAL_SURGERY = "oral_surgery", _("Oral surgery")
    IMPLANTOLOGY = "implantology", _("Implantology")
    PAEDIATRIC = "paediatric", _("Paediatric dentistry")
    COSMETIC = "cosmetic", _("Cosmetic dentistry")
    HYGIENE = "hygiene", _("Hygiene")


class Seniority(models.TextChoices):
    JUNIOR = "junior", _("Junior")
    SENIOR = "senior", _("Senior")
    PRINCIPAL = "principal", _("Principal")


colour_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("Use a colour like #1f77b4."))


class StaffProfile(TimeStampedModel):
    """What the clinic knows about a staff member beyond their login."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    title = models.CharField(_("title"), max_length=60, blank=True)
    specialty = models.CharField(
        _("specialty"), max_length=32, choices=Specialty.choices, blank=True
    )
    seniority = models.CharField(
        _("seniority"), max_length=16, choices=Seniority.choices, blank=True
    )
    licence_number = models.CharField(_("licence number"), max_length=60, blank=True)
    calendar_colour = models.CharField(
        _("calendar colour"), max_length=7, default="#4c78a8", validators=[colour_validator]
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    # Procedure categories (clinical.ProcedureCategory values) this clinician may perform.
    procedure_categories = models.JSONField(_("qualified for"), default=list, blank=True)

    def __str__(self) -> str:
        return str(self.user)


class ApiToken(TimeStampedModel):
    """A bearer token for the REST API. Only a hash is kept; the secret is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
