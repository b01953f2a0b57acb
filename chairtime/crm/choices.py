"""Choice lists of the patient CRM."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerGroup(models.TextChoices):
    """The four groups the seeds handle differently ("rocks, pebbles, sand")."""

    LOYAL = "loyal", _("Loyal / VIP")
    POTENTIAL = "potential", _("Potential")
    LOW_VALUE = "low_value", _("Low-value")
    NEGATIVE = "negative", _("Negative / at risk")


class TreatmentStatus(models.TextChoices):
    NOTHING_PLANNED = "nothing_planned", _("Nothing planned")
    CONSULTED = "consulted", _("Consulted, not treated")
    IN_TREATMENT = "in_treatment", _("In treatment")
    COMPLETED = "completed", _("Treatment completed")


class ReferrerKind(models.TextChoices):
    NONE = "none", _("Nobody")
    PATIENT = "patient", _("A patient")
    STAFF = "staff", _("A staff member")
    EXTERNAL = "external", _("An outside partner")


class ComplaintCategory(models.TextChoices):
    WAITING = "waiting", _("Waiting time")
    ATTITUDE = "attitude", _("Staff attitude")
    RESULT = "result", _("Treatment result")
    PAIN = "pain", _("Pain or discomfort")
    BILLING = "billing", _("Price or billing")
    HYGIENE = "hygiene", _("Hygiene")
    COMMUNICATION = "communication", _("Communication")
    OTHER = "other", _("Other")


class ComplaintSeverity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class ComplaintStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")


class ImportKind(models.TextChoices):
    PATIENTS = "patients", _("Patients")
    VISITS = "visits", _("Visit history")
    PAYMENTS = "payments", _("Payment history")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("All or nothing: import only if every row is good")
    GOOD_ROWS = "good_rows", _("Import the good rows and report the rest")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Uploaded")
    CHECKING = "checking", _("Checking")
    CHECKED = "checked", _("Checked")
    IMPORTING = "importing", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class DateFormat(models.TextChoices):
    """How the file writes dates; day-first and month-first cannot be told apart by guessing."""

    ISO = "iso", _("Year-month-day (2024-03-31)")
    DAY_FIRST = "day_first", _("Day/month/year (31/03/2024)")
    MONTH_FIRST = "month_first", _("Month/day/year (03/31/2024)")


class ExternalKind(models.TextChoices):
    PATIENT = "patient", _("Patient")
    VISIT = "visit", _("Visit")
    PAYMENT = "payment", _("Payment")


class DuplicateReason(models.TextChoices):
    PHONE = "phone", _("Same phone")
    EMAIL = "email", _("Same email")
    NAME_BIRTH_DATE = "name_birth_date", _("Same name and birth date")
