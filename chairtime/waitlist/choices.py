"""Choice lists of the waitlist."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EntryStatus(models.TextChoices):
    ACTIVE = "active", _("Waiting")
    BOOKED = "booked", _("Booked")
    REMOVED = "removed", _("Removed")
    EXPIRED = "expired", _("Expired")


class PartOfDay(models.TextChoices):
    """When the patient can come, in the branch's local time."""

    ANY = "any", _("Any time")
    MORNING = "morning", _("Morning (before 12:00)")
    AFTERNOON = "afternoon", _("Afternoon (12:00-17:00)")
    EVENING = "evening", _("Evening (from 17:00)")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class ReleaseReason(models.TextChoices):
    """Why the slot was free: the appointment book's release, or a person's hand."""

    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")
    RESCHEDULED = "rescheduled", _("Moved")
    MANUAL = "manual", _("Filled by hand")


class OfferStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FILLED = "filled", _("Filled from the waitlist")
    GONE = "gone", _("Taken in the book meanwhile")


class InviteState(models.TextChoices):
    INVITED = "invited", _("Invited")
    CLAIMED = "claimed", _("Claimed")
    TAKEN = "taken", _("Taken by another")
    GONE = "gone", _("Slot gone")
    UNAVAILABLE = "unavailable", _("Could not be booked")
    CLOSED = "closed", _("No longer waiting")


class Tier(models.IntegerChoices):
    """Rocks, pebbles, sand: the order a freed slot is offered in."""

    ROCK = 0, _("VIP")
    PEBBLE = 1, _("Potential")
    SAND = 2, _("Others")
