"""Choice lists of care tasks: what a task is about, where it stands, how a call went."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TaskKind(models.TextChoices):
    """Why the clinic calls the patient (one rule per kind and organisation)."""

    POST_TREATMENT_DAY1 = "post_treatment_day1", _("Post-treatment call, day 1")
    POST_TREATMENT_DAY7 = "post_treatment_day7", _("Post-treatment call, day 7")
    TREATMENT_CONTINUATION = "treatment_continuation", _("Treatment continuation")
    RECALL_DUE = "recall_due", _("Recall due")
    REACTIVATION_6M = "reactivation_6m", _("Reactivation, 6 months absent")
    REACTIVATION_12M = "reactivation_12m", _("Reactivation, 12 months absent")
    CONFIRMATION_CALL = "confirmation_call", _("Confirmation call")
    COMPLAINT_FOLLOW_UP = "complaint_follow_up", _("Complaint follow-up")
    BIRTHDAY = "birthday", _("Birthday call")
    NO_SHOW_FOLLOW_UP = "no_show_follow_up", _("No-show follow-up")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Outcome(models.TextChoices):
    """How one call went; every outcome but "no answer" closes the task."""

    REACHED = "reached", _("Reached")
    BOOKED = "booked", _("Booked")
    DECLINED = "declined", _("Declined")
    NO_ANSWER = "no_answer", _("No answer")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    DO_NOT_CONTACT = "do_not_contact", _("Asked not to be contacted")


class CancelReason(models.TextChoices):
    """Why a task was cancelled: its reason vanished before anyone closed it."""

    BOOKED = "booked", _("The patient has a booking")
    CONFIRMED = "confirmed", _("The appointment was confirmed")
    APPOINTMENT_CANCELLED = "appointment_cancelled", _("The appointment was cancelled")
    APPOINTMENT_STARTED = "appointment_started", _("The appointment time has come")
    APPOINTMENT_MOVED = "appointment_moved", _("The appointment was moved")
    NO_SHOW_UNDONE = "no_show_undone", _("The no-show mark was taken back")
    PLAN_CLOSED = "plan_closed", _("Nothing of the plan is left to book")
    COMPLAINT_RESOLVED = "complaint_resolved", _("The complaint was resolved")
    VISITED = "visited", _("The patient has visited since")
    RECALL_MOVED = "recall_moved", _("The recall date has changed")
    SUPERSEDED = "superseded", _("Replaced by a later task")
    DAY_PASSED = "day_passed", _("The day has passed")
    DO_NOT_CONTACT = "do_not_contact", _("The patient asked not to be contacted")
    PATIENT_GONE = "patient_gone", _("The record was merged or closed")


class AssignTo(models.TextChoices):
    """Who gets a rule's tasks."""

    ROLE = "role", _("Everyone in a role")
    DOCTOR = "doctor", _("The patient's doctor")
    CONSULTANT = "consultant", _("The patient's consultant")


class OffsetUnit(models.TextChoices):
    HOURS = "hours", _("hours")
    DAYS = "days", _("days")
    MONTHS = "months", _("months")
