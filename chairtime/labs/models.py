"""Dental labs and the cases the clinic sends them (ADR 12).

A lab belongs to the organisation (every branch may send it work) and publishes its
turnaround in days, one default and optionally one per kind of work. A lab case belongs to
a branch and a patient: what is made (kind, teeth, shade), where it stands (ordered, sent,
received, quality-checked, or returned for a remake, or cancelled) with the time of each
step, when it is due back, and what it is for: the appointment that needs it and the plan
item it makes. The day view and the morning meeting flag appointments whose case is not
back.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.labs.choices import NOT_BACK_STATUSES, CaseKind, LabCaseStatus
from chairtime.tenancy.models import Branch, Organization

MAX_TURNAROUND_DAYS = 120


class Lab(TimeStampedModel):
    """A dental laboratory the organisation works with. `turnaround_days` maps a case kind
    to its days ("crown": 7); kinds without an entry take `default_turnaround_days`. An
    inactive lab keeps its cases but takes no new ones."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="labs")
    name = models.CharField(_("name"), max_length=120)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    email = models.EmailField(_("email"), blank=True)
    default_turnaround_days = models.PositiveSmallIntegerField(_("turnaround (days)"), default=7)
    turnaround_days = models.JSONField(_("turnaround per kind (days)"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="lab_name_unique"),
            models.CheckConstraint(
                condition=Q(default_turnaround_days__gte=1)
                & Q(default_turnaround_days__lte=MAX_TURNAROUND_DAYS),
                name="lab_turnaround_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def turnaround_for(self, kind: str) -> int:
        """Days the lab takes for a kind of work."""
        days = self.turnaround_days.get(kind)
        return int(days) if isinstance(days, int) and days > 0 else self.default_turnaround_days


class LabCase(TimeStampedModel):
    """One piece of lab work for a patient of a branch.

    `due_on` is when it should be back: given when ordering (`is_due_on_fixed`), else the
    lab's turnaround from the order, counted again from the day it is sent (and from the
    day it goes back for a remake). The step times (`sent_at`, `received_at`…) keep the
    latest time of each step; `remake_count` counts the returns."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="lab_cases")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="lab_cases"
    )
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField(_("kind"), max_length=20, choices=CaseKind.choices)
    teeth = models.JSONField(_("teeth"), default=list, blank=True)
    shade = models.CharField(_("shade"), max_length=30, blank=True)
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=LabCaseStatus.choices, default=LabCaseStatus.ORDERED
    )
    due_on = models.DateField(_("due back"), null=True, blank=True)
    is_due_on_fixed = models.BooleanField(default=False)
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lab_cases",
        verbose_name=_("appointment"),
    )
    plan_item = models.ForeignKey(
        "clinical.TreatmentItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="lab_cases",
        verbose_name=_("plan item"),
    )
    ordered_at = models.DateTimeField(_("ordered"))
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    received_at = models.DateTimeField(_("received"), null=True, blank=True)
    checked_at = models.DateTimeField(_("quality-checked"), null=True, blank=True)
    returned_at = models.DateTimeField(_("returned for remake"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    remake_count = models.PositiveSmallIntegerField(_("remakes"), default=0)
    step_note = models.CharField(_("last note"), max_length=200, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=LabCaseStatus.values), name="lab_case_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status=LabCaseStatus.ORDERED)
                | Q(status=LabCaseStatus.CANCELLED)
                | Q(sent_at__isnull=False),
                name="lab_case_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["branch", "status", "due_on"], name="lab_case_queue_idx"),
            models.Index(fields=["lab", "status"], name="lab_case_lab_idx"),
            models.Index(fields=["patient"], name="lab_case_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.patient_id} ({self.status})"

    @property
    def is_back(self) -> bool:
        return self.status in (LabCaseStatus.RECEIVED, LabCaseStatus.QUALITY_CHECKED)

    @property
    def is_pending(self) -> bool:
        """Not back and not cancelled: the clinic still waits for it."""
        return self.status in NOT_BACK_STATUSES

    @property
    def teeth_label(self) -> str:
        return ", ".join(str(tooth) for tooth in self.teeth)
