"""The procedure catalogue (organisation-wide) and its prices (per branch)."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.models import Branch, Organization


class ProcedureCategory(models.TextChoices):
    HYGIENE = "hygiene", _("Hygiene")
    DIAGNOSTIC = "diagnostic", _("Diagnostic")
    RESTORATIVE = "restorative", _("Restorative")
    ENDODONTIC = "endodontic", _("Endodontic")
    PERIODONTIC = "periodontic", _("Periodontic")
    ORTHODONTIC = "orthodontic", _("Orthodontic")
    IMPLANT = "implant", _("Implant")
    PROSTHETIC = "prosthetic", _("Prosthetic")
    COSMETIC = "cosmetic", _("Cosmetic")
    SURGERY = "surgery", _("Surgery")
    PAEDIATRIC = "paediatric", _("Paediatric")


class LadderTier(models.TextChoices):
    """The product ladder, from a first taste to the procedures that carry the brand."""

    EXPERIENCE = "experience", _("Experience")
    CONVERSION = "conversion", _("Conversion")
    REGULAR = "regular", _("Regular")
    FLAGSHIP = "flagship", _("Flagship")
    WORD_OF_MOUTH = "word_of_mouth", _("Word of mouth")
    BRAND = "brand", _("Brand")


class Procedure(TimeStampedModel):
    """One entry of the organisation's catalogue: what can be done in a chair.

    `names` holds the name per language code ("en", "vi", "zh-hans", "es"); `name` is the
    organisation's own default, used when a language has no entry.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="procedures"
    )
    code = models.CharField(_("code"), max_length=20)
    name = models.CharField(_("name"), max_length=200)
    names = models.JSONField(_("names per language"), default=dict, blank=True)
    category = models.CharField(_("category"), max_length=20, choices=ProcedureCategory.choices)
    ladder_tier = models.CharField(_("ladder tier"), max_length=20, choices=LadderTier.choices)
    default_duration_minutes = models.PositiveSmallIntegerField(
        _("default duration (minutes)"), validators=[MinValueValidator(5)]
    )
    needs_lab_case = models.BooleanField(_("needs a lab case"), default=False)
    needs_assistant = models.BooleanField(_("needs an assistant"), default=False)
    recall_interval_months = models.PositiveSmallIntegerField(
        _("recall interval (months)"), null=True, blank=True
    )
    # Codes of the shared equipment it needs (scheduling.Equipment.code): ["cbct"].
    equipment_codes = models.JSONField(_("equipment needed"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["category", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="procedure_code_unique"),
            models.CheckConstraint(
                condition=Q(default_duration_minutes__gte=5), name="procedure_duration_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.localized_name()}"

    def localized_name(self, language: str | None = None) -> str:
        language = (language or get_language() or "en").lower()
        return str(self.names.get(language) or self.names.get(language.split("-")[0]) or self.name)


class ProcedurePrice(TimeStampedModel):
    """A procedure's price and standard cost in one branch, in that branch's currency."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="procedure_prices")
    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="prices")
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=2)
    standard_cost = models.DecimalField(
        _("standard cost"), max_digits=14, decimal_places=2, default=Decimal("0")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["branch", "procedure"], name="procedure_price_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="procedure_price_positive"),
            models.CheckConstraint(
                condition=Q(standard_cost__gte=0), name="procedure_cost_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.procedure.code} @ {self.branch.code}: {self.price} {self.branch.currency}"


DEFAULT_BUFFER_MINUTES = 10
SURGICAL_BUFFER_MINUTES = 15
SURGICAL_CATEGORIES = frozenset({ProcedureCategory.SURGERY, ProcedureCategory.IMPLANT})


class CleaningBuffer(models.Model):
    """Minutes of cleaning and disinfection a chair needs after a procedure of a category.

    Without a row the default applies: 15 minutes after surgery and implants, 10 after the
    rest."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="cleaning_buffers"
    )
    category = models.CharField(_("category"), max_length=20, choices=ProcedureCategory.choices)
    minutes = models.PositiveSmallIntegerField(_("minutes"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "category"], name="buffer_unique")
        ]

    def __str__(self) -> str:
        return f"{self.category}: {self.minutes} min"

    @staticmethod
    def default_minutes(category: str) -> int:
        return (
            SURGICAL_BUFFER_MINUTES if category in SURGICAL_CATEGORIES else DEFAULT_BUFFER_MINUTES
        )
