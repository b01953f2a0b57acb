"""The patient CRM: computed profiles and groups, segments, complaints, NPS surveys,
imports with external IDs, and merges (ADR 9).

`PatientProfile` is one narrow row per patient holding every number the filter reads
(copied patient fields included), so a segment over a million patients is one table scan
or one index range, never a join per condition. Only `crm.profiles` writes it.

`HistoricalVisit` and `HistoricalPayment` are what another system recorded before the
clinic moved to Chairtime: imported, read-only, never turned into appointments or
invoices (ADR 9, "Imported history").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chairtime.clinical.models import LadderTier
from chairtime.core.models import TimeStampedModel
from chairtime.crm.choices import (
    ComplaintCategory,
    ComplaintSeverity,
    ComplaintStatus,
    CustomerGroup,
    DateFormat,
    ExternalKind,
    ImportKind,
    ImportMode,
    ImportStatus,
    ReferrerKind,
    TreatmentStatus,
)
from chairtime.marketing.models import Channel
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch, Organization


def _money() -> models.DecimalField:  # type: ignore[type-arg]
    return models.DecimalField(max_digits=14, decimal_places=2, default=0)


class PatientProfile(models.Model):
    """What the clinic knows about a patient in numbers: visits, money, treatment, group.

    Rebuilt for one patient when an event changes its inputs and for the whole
    organisation by a nightly task. Money columns are in `currency` (the home branch's);
    invoices in other currencies are left out of them.
    """

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, primary_key=True, related_name="profile"
    )
    # No index of its own: every index below starts with it (one less to keep up on each
    # of a million writes in a full run).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # Copies of the patient's own fields the filter reads (kept by crm.profiles).
    home_branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="+")
    birth_date = models.DateField(null=True, blank=True)
    birth_month = models.PositiveSmallIntegerField(null=True, blank=True)
    source_channel = models.ForeignKey(
        Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    preferred_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    referrer_kind = models.CharField(
        max_length=10, choices=ReferrerKind.choices, default=ReferrerKind.NONE
    )
    referred_by_patient = models.ForeignKey(
        Patient, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    referred_by_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # One bit per (channel, purpose) currently granted: see crm.profiles.consent_bit().
    consent_bits = models.PositiveIntegerField(default=0)

    # Visits (completed appointments) and attendance.
    first_visit_on = models.DateField(null=True, blank=True)
    last_visit_on = models.DateField(null=True, blank=True)
    visit_count = models.PositiveIntegerField(default=0)
    paid_visit_count = models.PositiveIntegerField(default=0)  # visit days with an invoice
    window_paid_visits = models.PositiveIntegerField(default=0)  # in the RFM window
    promo_visit_count = models.PositiveIntegerField(default=0)  # paid visits using a promotion
    usual_interval_days = models.PositiveIntegerField(null=True, blank=True)
    next_appointment_at = models.DateTimeField(null=True, blank=True)
    no_show_count = models.PositiveIntegerField(default=0)  # in the last 12 months
    late_cancel_count = models.PositiveIntegerField(default=0)  # in the last 12 months
    no_show_rate = models.PositiveSmallIntegerField(null=True, blank=True)  # percent, all time
    on_time_rate = models.PositiveSmallIntegerField(null=True, blank=True)  # percent of arrivals

    # Money, in `currency`.
    currency = models.CharField(max_length=3, blank=True)
    spend_total = _money()
    spend_365d = _money()
    window_spend = _money()  # in the RFM window
    balance = _money()

    # Treatment.
    treatment_status = models.CharField(
        max_length=16, choices=TreatmentStatus.choices, default=TreatmentStatus.NOTHING_PLANNED
    )
    has_open_plan = models.BooleanField(default=False)  # accepted items not yet done
    ladder_tier = models.CharField(max_length=20, choices=LadderTier.choices, blank=True)
    recall_due_on = models.DateField(null=True, blank=True)

    # Relationship.
    referral_count = models.PositiveIntegerField(default=0)  # patients this one referred
    last_complaint_at = models.DateTimeField(null=True, blank=True)
    last_detractor_at = models.DateTimeField(null=True, blank=True)
    last_nps_score = models.PositiveSmallIntegerField(null=True, blank=True)

    # RFM, 1 (lowest) to 5; 0 when the patient has no paid visit to score.
    r_score = models.PositiveSmallIntegerField(default=0)
    f_score = models.PositiveSmallIntegerField(default=0)
    m_score = models.PositiveSmallIntegerField(default=0)

    group = models.CharField(
        max_length=10, choices=CustomerGroup.choices, default=CustomerGroup.POTENTIAL
    )
    group_rule = models.CharField(max_length=40, blank=True)  # the rule that decided: "why"
    group_evidence = models.JSONField(default=dict, blank=True)  # the figures it compared
    group_since = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["organization", "group"], name="profile_group_idx"),
            models.Index(fields=["organization", "home_branch"], name="profile_branch_idx"),
            models.Index(fields=["organization", "last_visit_on"], name="profile_last_visit_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(r_score__lte=5) & Q(f_score__lte=5) & Q(m_score__lte=5),
                name="profile_rfm_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.group}"


class GroupThresholds(models.Model):
    """The organisation's tunable numbers behind the four groups (defaults from the seeds)."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="group_thresholds"
    )
    rfm_window_months = models.PositiveSmallIntegerField(_("RFM window (months)"), default=24)
    loyal_paid_visits = models.PositiveSmallIntegerField(
        _("loyal: paid visits in the window"), default=4
    )
    loyal_referrals = models.PositiveSmallIntegerField(_("loyal: patients referred"), default=2)
    loyal_monetary_score = models.PositiveSmallIntegerField(
        _("loyal: spend score (1-5) at least"), default=5
    )
    potential_not_returned_days = models.PositiveSmallIntegerField(
        _("potential: days without a visit"), default=180
    )
    low_value_min_paid_visits = models.PositiveSmallIntegerField(
        _("low-value: paid visits at least"), default=2
    )
    low_value_promo_percent = models.PositiveSmallIntegerField(
        _("low-value: percent of paid visits with a promotion"), default=50
    )
    negative_recent_days = models.PositiveSmallIntegerField(
        _("at risk: days a complaint or detractor score counts"), default=180
    )
    negative_missed_count = models.PositiveSmallIntegerField(
        _("at risk: no-shows and late cancellations in 12 months"), default=3
    )
    late_cancel_hours = models.PositiveSmallIntegerField(
        _("late cancellation: hours before the start"), default=24
    )
    negative_absence_factor = models.PositiveSmallIntegerField(
        _("at risk: absent this many times their usual interval"), default=3
    )
    negative_absence_min_days = models.PositiveSmallIntegerField(
        _("at risk: absent at least this many days"), default=365
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"thresholds of {self.organization_id}"


class ProfileRun(models.Model):
    """One full recomputation of an organisation's profiles (the nightly run): when, how
    long, and the RFM cut points it found. Between runs, a patient whose numbers change is
    scored against these cut points (what last night's quintiles were), so a refresh needs
    no pass over the other profiles and gives the full run's score for an unchanged value.

    `*_cuts`: for score s = 2..5, the highest value that still scores below s; a value
    scores 1 + the number of cut points it exceeds. Dates as ISO text, money as text."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    patients = models.PositiveIntegerField()
    scored = models.PositiveIntegerField()  # patients with RFM scores (a paid visit)
    changed_groups = models.PositiveIntegerField()
    recency_cuts = models.JSONField(default=list)
    frequency_cuts = models.JSONField(default=list)
    monetary_cuts = models.JSONField(default=list)

    class Meta:
        ordering = ["-finished_at", "-id"]
        indexes = [models.Index(fields=["organization", "-finished_at"], name="profile_run_idx")]

    def __str__(self) -> str:
        return f"profiles of {self.organization_id} at {self.finished_at:%Y-%m-%d %H:%M}"


class GroupChange(models.Model):
    """A patient moved from one group to another (the first assignment has no `from_group`)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="group_changes")
    from_group = models.CharField(max_length=10, choices=CustomerGroup.choices, blank=True)
    to_group = models.CharField(max_length=10, choices=CustomerGroup.choices)
    rule = models.CharField(max_length=40)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "changed_at"], name="group_change_org_idx"),
            models.Index(fields=["patient", "changed_at"], name="group_change_patient_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.from_group or '-'} -> {self.to_group}"


class Segment(TimeStampedModel):
    """A named filter, re-evaluated whenever it is opened (never a frozen list)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    definition = models.JSONField(_("filter"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="segments"
    )
    is_shared = models.BooleanField(_("shared with the organisation"), default=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "owner", "name"], name="segment_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Complaint(TimeStampedModel):
    """A patient's complaint, owned by a staff member until it is resolved."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="complaints")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="complaints")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="complaints"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints_about",
        verbose_name=_("doctor concerned"),
    )
    category = models.CharField(_("category"), max_length=16, choices=ComplaintCategory.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=ComplaintSeverity.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN
    )
    description = models.TextField(_("what happened"))
    received_at = models.DateTimeField(_("received at"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints_owned",
        verbose_name=_("owner"),
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["branch", "status", "received_at"], name="complaint_branch_idx"),
            models.Index(fields=["patient", "received_at"], name="complaint_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ComplaintStatus.RESOLVED) | Q(resolved_at__isnull=False),
                name="complaint_resolved_has_time",
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.category} ({self.status})"


class NpsSurvey(TimeStampedModel):
    """ "How likely are you to recommend us?" (0-10 and a comment), answered through a link.

    One per completed visit; the token in the link is the only key a patient needs.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="nps_surveys")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="nps_surveys")
    appointment = models.OneToOneField(
        Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="nps_survey"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    token = models.CharField(max_length=64, unique=True)
    language = models.CharField(max_length=10, choices=settings.LANGUAGES)
    sent_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        indexes = [
            models.Index(fields=["branch", "answered_at"], name="nps_branch_idx"),
            models.Index(fields=["patient", "answered_at"], name="nps_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=10), name="nps_score_range"
            ),
            models.CheckConstraint(
                condition=Q(answered_at__isnull=True, score__isnull=True)
                | Q(answered_at__isnull=False, score__isnull=False),
                name="nps_answer_has_score",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.score}"


class ImportJob(TimeStampedModel):
    """One uploaded file on its way in: mapped, checked (the dry run), then imported."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(_("what the file holds"), max_length=10, choices=ImportKind.choices)
    source_system = models.CharField(_("system the file comes from"), max_length=40)
    original_name = models.CharField(max_length=200)
    stored_path = models.CharField(max_length=300)
    file_format = models.CharField(max_length=5)  # csv or xlsx
    encoding = models.CharField(_("encoding"), max_length=20, default="utf-8")
    date_format = models.CharField(
        _("date format"), max_length=12, choices=DateFormat.choices, default=DateFormat.ISO
    )
    default_country = models.CharField(_("country for local phone numbers"), max_length=2)
    mapping = models.JSONField(default=dict)  # our field -> the file's column header
    mode = models.CharField(
        _("mode"), max_length=16, choices=ImportMode.choices, default=ImportMode.GOOD_ROWS
    )
    status = models.CharField(max_length=10, choices=ImportStatus.choices)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    good_rows = models.PositiveIntegerField(default=0)
    bad_rows = models.PositiveIntegerField(default=0)
    skipped_rows = models.PositiveIntegerField(default=0)  # already imported (external ID)
    created_rows = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True)  # why the whole file failed, in the user's language
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.original_name} ({self.status})"


class ImportRowError(models.Model):
    """One bad row of an import: the line, the field and the reason (a code and its values,
    rendered in the reader's language)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    field = models.CharField(max_length=40)
    code = models.CharField(max_length=40)
    params = models.JSONField(default=dict)

    class Meta:
        ordering = ["line", "id"]
        indexes = [models.Index(fields=["job", "line"], name="import_error_line_idx")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.line} {self.field} {self.code}"


class ExternalId(models.Model):
    """The ID a record had in the system it was imported from: re-importing finds it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    system = models.CharField(max_length=40)
    kind = models.CharField(max_length=10, choices=ExternalKind.choices)
    external_id = models.CharField(max_length=100)
    object_id = models.BigIntegerField()
    job = models.ForeignKey(ImportJob, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "system", "kind", "external_id"],
                name="external_id_unique",
            )
        ]
        indexes = [models.Index(fields=["kind", "object_id"], name="external_id_object_idx")]

    def __str__(self) -> str:
        return f"{self.system}:{self.kind}:{self.external_id}"


class PatientMerge(models.Model):
    """Two records of one person made one. The merged patient stays (status "merged",
    `merged_into` the survivor) and `moved` lists every row that changed hands, so the
    merge can be explained afterwards."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    survivor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_kept")
    merged = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="merge_record")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    merged_at = models.DateTimeField()
    reason = models.CharField(_("reason"), max_length=200)
    moved = models.JSONField(default=dict)  # "app_label.model.field" -> [ids]
    merged_snapshot = models.JSONField(default=dict)  # the merged record's fields before

    class Meta:
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.merged_id} -> {self.survivor_id}"


class HistoricalVisit(models.Model):
    """A visit recorded by the system the clinic used before (imported, read-only).

    Not an appointment: it has no chair, no time and no procedure of the catalogue, and
    the book's rules (no overlap, numbering, lock dates) do not apply to the past of
    another system. It counts as a completed visit in the patient's profile; one with an
    amount above zero as a paid visit day. `doctor` is the staff member the file's text
    named, when one matched; `doctor_name` keeps the text either way."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="historical_visits")
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    visited_on = models.DateField(_("visited on"))
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("doctor"),
    )  # fmt: skip
    doctor_name = models.CharField(_("doctor (as written)"), max_length=200, blank=True)
    description = models.CharField(_("what was done"), max_length=300, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(max_length=3)
    source_system = models.CharField(_("imported from"), max_length=40)
    job = models.ForeignKey(ImportJob, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-visited_on", "-id"]
        verbose_name = _("imported visit")
        verbose_name_plural = _("imported visits")
        indexes = [models.Index(fields=["patient", "visited_on"], name="hist_visit_patient_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0),
                name="hist_visit_amount_not_negative",
            )
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.visited_on} ({self.source_system})"


class HistoricalPayment(models.Model):
    """A payment recorded by the system the clinic used before (imported, read-only).

    Not a `billing.Payment`: it is allocated to nothing, and cash-up, lock dates and
    balances do not see it. It adds to the patient's spend in the profile (in the
    profile's currency only). `method` is the file's text as written."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="historical_payments"
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    paid_on = models.DateField(_("paid on"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    method = models.CharField(_("method (as written)"), max_length=40, blank=True)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    source_system = models.CharField(_("imported from"), max_length=40)
    job = models.ForeignKey(ImportJob, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-paid_on", "-id"]
        verbose_name = _("imported payment")
        verbose_name_plural = _("imported payments")
        indexes = [models.Index(fields=["patient", "paid_on"], name="hist_payment_patient_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hist_payment_amount_positive")
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.amount} {self.currency} on {self.paid_on}"
