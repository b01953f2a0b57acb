"""The procedure catalogue (organisation-wide) and its prices (per branch)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
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


# --- treatment plans ----------------------------------------------------------------------
LADDER_RANK: dict[str, int] = {tier: rank for rank, tier in enumerate(LadderTier.values, 1)}


class PlanStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    DECLINED = "declined", _("Declined")
    EXPIRED = "expired", _("Expired")


OPEN_PLAN_STATUSES = frozenset({PlanStatus.ACCEPTED, PlanStatus.IN_PROGRESS})


class OptionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    DECLINED = "declined", _("Declined")


class ItemStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    SCHEDULED = "scheduled", _("Scheduled")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")


class AcceptanceMethod(models.TextChoices):
    SIGNATURE = "signature", _("Signed")
    VERBAL = "verbal", _("Verbal consent, recorded")


class TreatmentPlan(TimeStampedModel):
    """What a doctor diagnosed and a consultant presented to a patient, as one or more
    options (alternatives). Accepting an option declines the others; a proposed plan not
    accepted by `expires_on` expires. The plan's status follows its accepted option's items:
    accepted → in progress (first item done) → completed (every item done or cancelled)."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="treatment_plans")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="treatment_plans"
    )
    title = models.CharField(_("title"), max_length=200)
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="diagnosed_plans"
    )
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="presented_plans",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=PlanStatus.choices, default=PlanStatus.PROPOSED
    )
    presented_at = models.DateTimeField(_("presented at"))
    expires_on = models.DateField(_("expires on"))
    accepted_at = models.DateTimeField(null=True, blank=True)
    # Who recorded the acceptance (staff), how, and the evidence: a drawn signature (a PNG
    # data URL) with the signer's name, or the staff witness of a verbal consent.
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acceptance_method = models.CharField(
        _("acceptance"), max_length=10, choices=AcceptanceMethod.choices, blank=True
    )
    signature = models.TextField(_("signature"), blank=True)
    signed_name = models.CharField(_("signed by"), max_length=200, blank=True)
    verbal_witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acceptance_note = models.CharField(_("note"), max_length=500, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(_("reason"), max_length=300, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["-presented_at", "-id"]
        indexes = [
            models.Index(fields=["branch", "status", "accepted_at"], name="plan_branch_status_idx"),
            models.Index(fields=["patient", "presented_at"], name="plan_patient_idx"),
            models.Index(fields=["status", "expires_on"], name="plan_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"


class TreatmentOption(TimeStampedModel):
    """One alternative of a plan ("implant" or "bridge"); its items are the treatment."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="options")
    label = models.CharField(_("option"), max_length=120)
    position = models.PositiveSmallIntegerField(default=1)
    is_recommended = models.BooleanField(_("recommended"), default=False)
    status = models.CharField(
        _("status"), max_length=10, choices=OptionStatus.choices, default=OptionStatus.OPEN
    )

    class Meta:
        ordering = ["plan_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "position"], name="option_position_unique"),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(status="accepted"),
                name="option_one_accepted_per_plan",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class TreatmentItem(TimeStampedModel):
    """One procedure of an option, on teeth (FDI numbers) and surfaces where it applies.

    `amount` = quantity x unit price - discount, kept by the services. `appointment` is the
    booking that will do it (scheduled); the performed procedure links back when done."""

    option = models.ForeignKey(TreatmentOption, on_delete=models.CASCADE, related_name="items")
    phase = models.PositiveSmallIntegerField(_("phase"), default=1)
    position = models.PositiveSmallIntegerField(default=1)
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="plan_items")
    teeth = models.JSONField(_("teeth"), default=list, blank=True)
    surfaces = models.CharField(_("surfaces"), max_length=5, blank=True)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount = models.DecimalField(
        _("discount"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    discount_reason = models.CharField(_("discount reason"), max_length=200, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    status = models.CharField(
        _("status"), max_length=10, choices=ItemStatus.choices, default=ItemStatus.PLANNED
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="plan_items",
    )
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["option_id", "phase", "position", "id"]
        indexes = [models.Index(fields=["status", "option"], name="plan_item_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="plan_item_quantity_min"),
            models.CheckConstraint(condition=Q(phase__gte=1), name="plan_item_phase_min"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="plan_item_price_min"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="plan_item_discount_min"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="plan_item_amount_min"),
        ]

    def __str__(self) -> str:
        return f"{self.procedure.code} {self.teeth_label}"

    @property
    def teeth_label(self) -> str:
        return ", ".join(str(tooth) for tooth in self.teeth)


class PerformedProcedure(TimeStampedModel):
    """A procedure done in a chair: production. Recorded when a visit is completed (from the
    plan or ad hoc), with the doctor, assistant, chair and chair time used; its `amount` is
    the fee charged (quantity x unit price - discount), which billing invoices."""

    branch = models.ForeignKey(
        Branch, on_delete=models.PROTECT, related_name="performed_procedures"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="performed_procedures"
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="performed_procedures",
    )
    plan_item = models.ForeignKey(
        TreatmentItem,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="performed",
    )
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="performed")
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="performed_as_doctor"
    )
    assistant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="performed_as_assistant",
    )
    chair = models.ForeignKey(
        "scheduling.Chair", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    performed_at = models.DateTimeField(_("performed at"))
    chair_minutes = models.PositiveSmallIntegerField(_("chair time (minutes)"))
    teeth = models.JSONField(_("teeth"), default=list, blank=True)
    surfaces = models.CharField(_("surfaces"), max_length=5, blank=True)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount = models.DecimalField(
        _("discount"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-performed_at", "-id"]
        indexes = [
            models.Index(fields=["branch", "performed_at"], name="performed_branch_idx"),
            models.Index(fields=["patient", "performed_at"], name="performed_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="performed_quantity_min"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="performed_amount_min"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="performed_discount_min"),
        ]

    def __str__(self) -> str:
        return f"{self.performed_at:%Y-%m-%d} {self.procedure.code}"


class LadderStep(models.Model):
    """A patient reaching a higher rung of the product ladder than ever before: the first
    performed procedure of that tier when it beat their previous highest. The newest step
    is the patient's highest tier; the steps in order are how they moved up."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="ladder_steps"
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    tier = models.CharField(_("tier"), max_length=20, choices=LadderTier.choices)
    rank = models.PositiveSmallIntegerField()
    previous_tier = models.CharField(
        _("previous tier"), max_length=20, choices=LadderTier.choices, blank=True
    )
    reached_at = models.DateTimeField(_("reached at"))
    performed = models.ForeignKey(
        PerformedProcedure, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["patient_id", "rank"]
        indexes = [models.Index(fields=["branch", "reached_at"], name="ladder_branch_idx")]
        constraints = [
            models.UniqueConstraint(fields=["patient", "tier"], name="ladder_step_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.tier} @ {self.reached_at:%Y-%m-%d}"
