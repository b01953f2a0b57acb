"""Acquisition channels: where patients and leads come from."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.models import Organization


class ChannelFamily(models.TextChoices):
    PUBLIC = "public", _("Public domain")  # bought reach: ads, search, KOLs, partners
    PRIVATE = "private", _("Private domain")  # owned reach: referrals, dormant patients, groups


class ChannelKind(models.TextChoices):
    SEARCH_ADS = "search_ads", _("Search ads")
    SOCIAL_ADS = "social_ads", _("Social ads")
    KOL = "kol", _("Key opinion leader")
    PARTNER = "partner", _("Cross-industry partner")
    CONTENT = "content", _("Content platform")
    WEBSITE = "website", _("Website")
    WALK_IN = "walk_in", _("Walk-in")
    PHONE = "phone", _("Phone")
    REFERRAL = "referral", _("Referral")
    KOC = "koc", _("Key opinion consumer")
    COMMUNITY = "community", _("Community group")
    DORMANT = "dormant", _("Dormant patient reactivation")
    OTHER = "other", _("Other")


class Channel(TimeStampedModel):
    """A source of patients, in the public or the private domain of the organisation."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="channels"
    )
    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(_("code"), max_length=40)
    family = models.CharField(_("family"), max_length=10, choices=ChannelFamily.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=ChannelKind.choices)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="channel_code_unique")
        ]

    def __str__(self) -> str:
        return self.name
