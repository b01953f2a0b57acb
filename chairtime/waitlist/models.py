"""The waitlist (ASAP list) and the offers of freed slots (ADR 13).

A patient waits for a procedure in a branch, perhaps with one doctor, at the times they
can come (`WaitlistEntry`). When a slot frees, the refill offers it to the best-ranked
entries that fit it (`SlotOffer`, one `OfferInvite` per patient invited, each with its own
claim link); the first valid claim books the slot and the others are told it is gone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.models import Branch
from chairtime.waitlist.choices import (
    EntryStatus,
    InviteState,
    OfferStatus,
    PartOfDay,
    ReleaseReason,
    Tier,
    Weekday,
)


class WaitlistEntry(TimeStampedModel):
    """A patient waiting for an earlier slot for a procedure in a branch.

    `weekdays` lists the days they can come (0 = Monday; empty: any day), `part_of_day`
    the time of day, `earliest_on`/`latest_on` the dates (local to the branch). One active
    entry per patient and procedure; it becomes `booked` when a claim books it (the
    appointment is kept), `removed` by staff, `expired` when `latest_on` has passed.
    """

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="waitlist")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    procedure = models.ForeignKey(
        "clinical.Procedure", on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="waitlist_entries",
        verbose_name=_("doctor"),
    )
    weekdays = models.JSONField(_("weekdays"), default=list, blank=True)
    part_of_day = models.CharField(
        _("time of day"), max_length=10, choices=PartOfDay.choices, default=PartOfDay.ANY
    )
    earliest_on = models.DateField(_("from"), null=True, blank=True)
    latest_on = models.DateField(_("until"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    waiting_since = models.DateTimeField(_("waiting since"))  # the ranking's "longest waiting"
    status = models.CharField(
        _("status"), max_length=10, choices=EntryStatus.choices, default=EntryStatus.ACTIVE
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["waiting_since", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [
            models.Index(fields=["branch", "status", "waiting_since"], name="waitlist_branch_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "procedure"],
                condition=Q(status="active"),
                name="waitlist_one_active_entry",
            ),
            models.CheckConstraint(
                condition=Q(earliest_on__isnull=True)
                | Q(latest_on__isnull=True)
                | Q(earliest_on__lte=F("latest_on")),
                name="waitlist_dates_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} {self.procedure_id} ({self.status})"

    @property
    def weekday_labels(self) -> str:
        return ", ".join(str(Weekday(day).label) for day in self.weekdays)


class SlotOffer(TimeStampedModel):
    """A freed slot offered to the waitlist: the chair and doctor, from `starts_at` (the
    freed start, or later when it frees at short notice) until `ends_at`.

    One per freed interval of an appointment (`source_appointment`, `freed_starts_at`), so
    the automatic refill and a click on "Fill this gap" make one offer, not two. Each
    invitee's procedure comes from their own entry, so patients waiting for different
    procedures that fit can be offered the same slot. The first claim books it (`filled`,
    `appointment`); a booking made by hand meanwhile makes it `gone`.
    """

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="slot_offers")
    chair = models.ForeignKey(
        "scheduling.Chair", on_delete=models.PROTECT, related_name="slot_offers"
    )
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="slot_offers"
    )
    assistant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    source_appointment = models.ForeignKey(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="slot_offers"
    )
    freed_starts_at = models.DateTimeField()
    reason = models.CharField(_("freed by"), max_length=12, choices=ReleaseReason.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["branch", "starts_at"], name="slot_offer_branch_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["source_appointment", "freed_starts_at"], name="slot_offer_one_per_gap"
            ),
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")), name="slot_offer_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} chair {self.chair_id} ({self.status})"


class OfferInvite(TimeStampedModel):
    """One patient invited to take a slot, through their own claim link (`/w/<token>`).

    Only the SHA-256 of the token is kept. `rank` is the place in the ranking (1 = first
    asked) and `tier` the patient's group (VIP, potential, others) when invited.
    """

    offer = models.ForeignKey(SlotOffer, on_delete=models.CASCADE, related_name="invites")
    entry = models.ForeignKey(WaitlistEntry, on_delete=models.PROTECT, related_name="invites")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    procedure = models.ForeignKey("clinical.Procedure", on_delete=models.PROTECT, related_name="+")
    rank = models.PositiveSmallIntegerField(_("rank"))
    tier = models.PositiveSmallIntegerField(_("group"), choices=Tier.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(_("expires"))
    state = models.CharField(
        _("state"), max_length=12, choices=InviteState.choices, default=InviteState.INVITED
    )
    channel = models.CharField(_("channel"), max_length=12, blank=True)
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["offer_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["offer", "entry"], name="offer_invite_once"),
        ]

    def __str__(self) -> str:
        return f"offer {self.offer_id} #{self.rank} {self.patient_id} ({self.state})"
