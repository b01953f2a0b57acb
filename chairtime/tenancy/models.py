"""Organisations, their branches, and who works where in which role."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.roles import Role
from chairtime.tenancy.validators import (
    validate_country,
    validate_currency,
    validate_locale,
    validate_time_zone,
)


class Organization(TimeStampedModel):
    """A clinic business: one clinic or a chain. Patients belong here, shared by branches."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    # Next automatic patient number; taken under a row lock (see patients.services).
    patient_number_seq = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return self.name


class Branch(TimeStampedModel):
    """One clinic location: the tenant of all branch work (chairs, appointments, cash)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="branches"
    )
    name = models.CharField(_("name"), max_length=200)
    code = models.SlugField(_("code"), max_length=30)
    country = models.CharField(_("country"), max_length=2, validators=[validate_country])
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    currency = models.CharField(_("currency"), max_length=3, validators=[validate_currency])
    locale = models.CharField(
        _("locale"),
        max_length=16,
        validators=[validate_locale],
        help_text=_("For example vi_VN or es_ES"),
    )
    address = models.TextField(_("address"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    booking_horizon_days = models.PositiveSmallIntegerField(
        _("booking horizon (days)"),
        default=183,
        help_text=_("How far ahead appointments may be booked (six months by default)."),
    )
    plan_validity_days = models.PositiveSmallIntegerField(
        _("treatment plans valid for (days)"),
        default=90,
        help_text=_("A proposed plan not accepted within this many days expires."),
    )
    # Money dated on or before this day is closed: only `money.edit_locked` may change it.
    financial_lock_date = models.DateField(_("financial lock date"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="branch_code_unique")
        ]
        ordering = ["organization_id", "name"]
        verbose_name_plural = "branches"

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class OpeningHours(models.Model):
    """When a branch is open on one weekday; several rows make a split day."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    branch = models.ForeignKey(Branch, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(_("closes at"))

    class Meta:
        ordering = ["weekday", "opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("closes_at")), name="opening_hours_order"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="opening_hours_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class Membership(TimeStampedModel):
    """A user's role in one branch, or in every branch of an organisation (branch empty)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    branch = models.ForeignKey(
        Branch, on_delete=models.CASCADE, null=True, blank=True, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "branch", "role"],
                condition=Q(branch__isnull=False),
                name="membership_branch_role_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "organization", "role"],
                condition=Q(branch__isnull=True),
                name="membership_org_role_unique",
            ),
        ]

    def __str__(self) -> str:
        where = self.branch or self.organization
        return f"{self.user} · {self.get_role_display()} · {where}"

    def clean(self) -> None:  # pragma: no cover - admin-only guard
        super().clean()
        if self.branch is not None and self.branch.organization_id != self.organization_id:
            from django.core.exceptions import ValidationError

            raise ValidationError({"branch": _("The branch belongs to another organisation.")})
