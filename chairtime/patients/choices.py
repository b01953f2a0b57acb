"""Choice lists for patient fields."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNKNOWN = "unknown", _("Not stated")


class NameOrder(models.TextChoices):
    """How the display name is composed: "Nguyễn Văn An" and "王小明" put the family first."""

    FAMILY_FIRST = "family_first", _("Family name first")
    GIVEN_FIRST = "given_first", _("Given name first")


class PatientStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    DECEASED = "deceased", _("Deceased")
    MERGED = "merged", _("Merged into another record")


class PreferredTime(models.TextChoices):
    WEEKDAY_MORNINGS = "weekday_mornings", _("Weekday mornings")
    WEEKDAY_AFTERNOONS = "weekday_afternoons", _("Weekday afternoons")
    WEEKDAY_EVENINGS = "weekday_evenings", _("Weekday evenings")
    WEEKENDS = "weekends", _("Weekends")


class PhoneKind(models.TextChoices):
    MOBILE = "mobile", _("Mobile")
    HOME = "home", _("Home")
    WORK = "work", _("Work")


class ChatApp(models.TextChoices):
    ZALO = "zalo", _("Zalo")
    WECHAT = "wechat", _("WeChat")
    WHATSAPP = "whatsapp", _("WhatsApp")
    LINE = "line", _("LINE")
    MESSENGER = "messenger", _("Messenger")


class ContactChannel(models.TextChoices):
    """Channels a patient can consent to be contacted on."""

    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone call")
    ZALO = "zalo", _("Zalo")
    WECHAT = "wechat", _("WeChat")
    WHATSAPP = "whatsapp", _("WhatsApp")


class ConsentPurpose(models.TextChoices):
    SERVICE = "service", _("Service (reminders, follow-up)")
    MARKETING = "marketing", _("Marketing (offers, greetings)")


class ConsentOrigin(models.TextChoices):
    """Where a consent or a refusal came from: a regulator asks this first."""

    PAPER_FORM = "paper_form", _("Signed paper form")
    WEB_FORM = "web_form", _("Web form")
    VERBAL = "verbal", _("Verbal, recorded by staff")
    MESSAGE_REPLY = "message_reply", _("Reply to a message")
    IMPORT = "import", _("Imported from another system")


class AlertKind(models.TextChoices):
    ALLERGY = "allergy", _("Allergy")
    CONDITION = "condition", _("Medical condition")
    MEDICATION = "medication", _("Medication")
    PREGNANCY = "pregnancy", _("Pregnancy")
    OTHER = "other", _("Other")


class AlertSeverity(models.TextChoices):
    INFO = "info", _("Information")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")
