"""The appointment book: chairs, hours, time off, equipment, appointments."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.scheduling.choices import (
    RELEASED_STATUSES,
    AppointmentStatus,
    CancelledBy,
    TimeOffKind,
)
from chairtime.tenancy.models import Branch, OpeningHours


class Chair(TimeStampedModel):
    """A dental chair (operatory) in a branch: the unit the clinic sells time on."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="chairs")
    name = models.CharField(_("name"), max_length=60)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["branch_id", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["branch", "name"], name="chair_name_unique")]

    def __str__(self) -> str:
        return self.name


class ChairHours(models.Model):
    """When a chair can be used on a weekday; a chair without rows follows the branch's
    opening hours."""

    chair = models.ForeignKey(Chair, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=OpeningHours.Weekday.choices)
    starts_at = models.TimeField(_("from"))
    ends_at = models.TimeField(_("until"))

    class Meta:
        ordering = ["chair_id", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="chair_hours_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chair} {self.weekday} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class WorkingHours(models.Model):
    """When a staff member works in a branch on a weekday. Several rows make a split day;
    the gap between them is their break."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="working_hours")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="working_hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=OpeningHours.Weekday.choices)
    starts_at = models.TimeField(_("from"))
    ends_at = models.TimeField(_("until"))

    class Meta:
        ordering = ["staff_id", "weekday", "starts_at"]
        indexes = [models.Index(fields=["branch", "staff"], name="working_hours_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="working_hours_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} {self.weekday} {self.starts_at:%H:%M}-{self.ends_at:%H:%M}"


class TimeOff(TimeStampedModel):
    """Time nobody may book: a branch holiday (no staff member) or one person's leave."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="time_off")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="time_off",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=TimeOffKind.choices)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["branch", "ends_at"], name="time_off_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(starts_at__lt=F("ends_at")), name="time_off_order"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d}"


class Equipment(TimeStampedModel):
    """Shared equipment with a capacity: one CBCT scanner, two implant motors. Procedures
    name the equipment they need by `code`."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="equipment")
    code = models.SlugField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=100)
    capacity = models.PositiveSmallIntegerField(_("units"), default=1)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "equipment"
        constraints = [
            models.UniqueConstraint(fields=["branch", "code"], name="equipment_code_unique"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="equipment_capacity"),
        ]

    def __str__(self) -> str:
        return self.name


class DoctorProcedureDuration(models.Model):
    """A doctor who is slower or faster than the catalogue's duration for a procedure."""

    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="procedure_durations"
    )
    procedure = models.ForeignKey(
        "clinical.Procedure", on_delete=models.CASCADE, related_name="doctor_durations"
    )
    minutes = models.PositiveSmallIntegerField(_("minutes"), validators=[MinValueValidator(5)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["doctor", "procedure"], name="doctor_duration_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.doctor} {self.procedure_id}: {self.minutes} min"


class AppointmentSeries(TimeStampedModel):
    """Appointments booked together at a fixed interval (monthly orthodontic adjustments):
    all of them are checked, and all or none are booked."""

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="series")
    interval_days = models.PositiveSmallIntegerField(_("every (days)"))
    count = models.PositiveSmallIntegerField(_("occurrences"))

    def __str__(self) -> str:
        return f"{self.count} x every {self.interval_days} days"


class Appointment(TimeStampedModel):
    """A patient's booked chair time with a doctor for a procedure.

    [starts_at, ends_at) is the procedure; the chair, doctor and assistant stay blocked
    until `blocked_until` (the cleaning buffer). Every status change is timestamped, so
    punctuality, lead time and late cancellations are known afterwards. Two appointments
    never overlap on a doctor, assistant, chair or patient unless flagged `is_overbooked`:
    services check it, and the database refuses it (an exclusion constraint on
    PostgreSQL, triggers on SQLite; see migration 0003).
    """

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="appointments"
    )
    procedure = models.ForeignKey(
        "clinical.Procedure", on_delete=models.PROTECT, related_name="appointments"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="doctor_appointments"
    )
    assistant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assistant_appointments",
    )
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="appointments")
    equipment = models.ManyToManyField(Equipment, blank=True, related_name="appointments")
    series = models.ForeignKey(
        AppointmentSeries,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="appointments",
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    blocked_until = models.DateTimeField()
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    is_walk_in = models.BooleanField(_("walk-in"), default=False)
    is_overbooked = models.BooleanField(_("overbooked"), default=False)
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    seated_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    no_show_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(
        _("cancelled by"), max_length=10, choices=CancelledBy.choices, blank=True
    )
    cancel_reason = models.CharField(_("reason"), max_length=200, blank=True)
    is_late_cancellation = models.BooleanField(_("late cancellation"), default=False)
    rescheduled_count = models.PositiveSmallIntegerField(default=0)
    notes = models.CharField(_("notes"), max_length=500, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["branch", "starts_at"], name="appointment_branch_day_idx"),
            models.Index(fields=["doctor", "starts_at"], name="appointment_doctor_idx"),
            models.Index(fields=["chair", "starts_at"], name="appointment_chair_idx"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_idx"),
            # The SQLite no-overlap trigger looks up each resource's appointments.
            models.Index(fields=["assistant", "starts_at"], name="appointment_assistant_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="appointment_order"
            ),
            models.CheckConstraint(
                condition=Q(ends_at__lte=F("blocked_until")), name="appointment_buffer_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} {self.patient_id} {self.procedure_id}"

    @property
    def is_active(self) -> bool:
        return self.status not in RELEASED_STATUSES


class CalendarFeedToken(TimeStampedModel):
    """The secret in a staff member's calendar feed URL (their appointments in one branch,
    for a phone's calendar app). Only a hash is kept; the URL is shown once. Making a new
    one revokes the old, so a leaked URL is stopped by making another."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed_tokens"
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, related_name="calendar_feed_tokens"
    )
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "branch"],
                condition=Q(revoked_at__isnull=True),
                name="calendar_feed_token_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.branch_id} ({self.prefix}…)"
