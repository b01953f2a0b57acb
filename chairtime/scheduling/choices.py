"""Choice lists of the appointment book."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CONFIRMED = "confirmed", _("Confirmed")
    ARRIVED = "arrived", _("Arrived")
    SEATED = "seated", _("In the chair")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")


# Appointments that no longer hold their resources (and are outside the overlap rules).
RELEASED_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


class CancelledBy(models.TextChoices):
    PATIENT = "patient", _("The patient")
    CLINIC = "clinic", _("The clinic")


class TimeOffKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday")
    LEAVE = "leave", _("Leave")
    TRAINING = "training", _("Training")
    OTHER = "other", _("Other")
