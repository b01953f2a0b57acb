"""Care tasks (ADR 11): the calls the clinic owes its patients, the rules that make them,
and every attempt made.

The clinic, not the doctor, keeps the relationship: rules create tasks from what happened
(a treatment, an accepted plan, a recall coming due, an absence, a complaint, a birthday)
and assign them to a role or a person; staff record each call; a task whose reason
vanished is cancelled with that reason. `cause_key` is unique per organisation, so the
hourly generation can run any number of times, even twice at once, and create each task
once.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from chairtime.care.choices import AssignTo, CancelReason, Outcome, TaskKind, TaskStatus
from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.models import Branch, Organization
from chairtime.tenancy.roles import Role


class CareRule(models.Model):
    """How one kind of task is made in an organisation: on or off, when (`offset`, in the
    kind's unit: hours before a confirmation call, days after a treatment, months of
    absence…), for which procedure categories, for whom, and how hard to try.

    Missing rows mean the defaults (chairtime.care.rules.DEFAULT_RULES); the services
    create them on first use."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="care_rules"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=TaskKind.choices)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    offset = models.PositiveSmallIntegerField(_("when"))
    # Procedure categories (clinical.ProcedureCategory) the rule applies to; [] = all.
    categories = models.JSONField(_("procedure categories"), default=list, blank=True)
    assign_to = models.CharField(
        _("assign to"), max_length=12, choices=AssignTo.choices, default=AssignTo.ROLE
    )
    # The role that gets the tasks (assign_to "role"), and the fallback when the patient
    # has no doctor or consultant to give them to.
    assign_role = models.CharField(
        _("role"), max_length=32, choices=Role.choices, default=Role.RECEPTIONIST
    )
    max_attempts = models.PositiveSmallIntegerField(_("attempts at most"), default=3)
    cool_off_days = models.PositiveSmallIntegerField(_("days between attempts"), default=2)
    # Recall only: due more than this many days ago with every attempt used, the patient
    # leaves the recall list for a reactivation task.
    hand_over_after_days = models.PositiveSmallIntegerField(
        _("hand over to reactivation after (days)"), default=60
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["organization_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind"], name="care_rule_unique"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="care_rule_attempts"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.kind}"


class CareTask(TimeStampedModel):
    """One call the clinic owes a patient, in a branch, due at a time.

    `next_attempt_at` is when to call next: the due time at first, pushed by the cool-off
    after a call nobody answered. Every outcome but "no answer" closes the task (done);
    so does the last allowed "no answer". A task whose reason vanished is cancelled with
    `cancel_reason`. `attempts` counts the `TaskAttempt` rows, numbered 1, 2, 3…
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="care_tasks")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="care_tasks"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=TaskKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN
    )
    due_at = models.DateTimeField(_("due"))
    next_attempt_at = models.DateTimeField(_("next call"))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="care_tasks",
        verbose_name=_("assigned to"),
    )
    assigned_role = models.CharField(_("role"), max_length=32, choices=Role.choices, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("attempts at most"))
    cool_off_days = models.PositiveSmallIntegerField(_("days between attempts"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(
        _("cancelled because"), max_length=24, choices=CancelReason.choices, blank=True
    )
    # What caused it: a key unique in the organisation ("recall_due:patient:12:2030-05-01"),
    # the date it is about (recall due, last visit, birthday), and the row behind it.
    cause_key = models.CharField(max_length=120)
    cause_on = models.DateField(null=True, blank=True)
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="care_tasks",
    )
    plan = models.ForeignKey(
        "clinical.TreatmentPlan",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="care_tasks",
    )
    complaint = models.ForeignKey(
        "crm.Complaint", on_delete=models.SET_NULL, null=True, blank=True, related_name="care_tasks"
    )

    class Meta:
        ordering = ["next_attempt_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "cause_key"], name="care_task_cause_unique"
            ),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="care_task_max_min"),
            models.CheckConstraint(
                condition=Q(attempts__lte=F("max_attempts")), name="care_task_attempts_max"
            ),
            models.CheckConstraint(
                condition=Q(status=TaskStatus.OPEN) | Q(closed_at__isnull=False),
                name="care_task_closed_has_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["branch", "status", "next_attempt_at"], name="care_task_queue_idx"
            ),
            models.Index(fields=["assigned_to", "status"], name="care_task_assignee_idx"),
            models.Index(fields=["patient", "status"], name="care_task_patient_idx"),
            models.Index(fields=["branch", "kind", "status"], name="care_task_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.patient_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN


class TaskAttemptQuerySet(models.QuerySet["TaskAttempt"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise TypeError("Task attempts are append-only")

    def delete(self) -> NoReturn:
        raise TypeError("Task attempts are append-only")


class TaskAttempt(models.Model):
    """One call made for a task: when, by whom, how it went. Append-only; numbered per task
    (unique), so the same attempt can never be counted twice."""

    task = models.ForeignKey(CareTask, on_delete=models.PROTECT, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)

    objects = TaskAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["task_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["task", "number"], name="care_attempt_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.task_id}#{self.number} {self.outcome}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise TypeError("Task attempts are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Task attempts are append-only")
