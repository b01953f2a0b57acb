"""Choice lists of lab cases: what is made, and where a case stands."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class CaseKind(models.TextChoices):
    """What the lab makes (each lab publishes a turnaround per kind)."""

    CROWN = "crown", _("Crown")
    BRIDGE = "bridge", _("Bridge")
    IMPLANT_ABUTMENT = "implant_abutment", _("Implant abutment")
    ALIGNER = "aligner", _("Aligner")
    APPLIANCE = "appliance", _("Appliance")
    OTHER = "other", _("Other")


class LabCaseStatus(models.TextChoices):
    """ordered → sent → received → quality_checked; a received (or checked) case can be
    returned for a remake (it is at the lab again), and anything not checked can be
    cancelled."""

    ORDERED = "ordered", _("Ordered")
    SENT = "sent", _("Sent to the lab")
    RECEIVED = "received", pgettext_lazy("lab case", "Received")
    QUALITY_CHECKED = "quality_checked", _("Quality-checked")
    RETURNED = "returned", _("Returned for remake")
    CANCELLED = "cancelled", pgettext_lazy("lab case", "Cancelled")


S = LabCaseStatus
# Back: the work is in the clinic. Not back: still to come (the day view flags these).
BACK_STATUSES = (S.RECEIVED, S.QUALITY_CHECKED)
NOT_BACK_STATUSES = (S.ORDERED, S.SENT, S.RETURNED)


class LabStep(models.TextChoices):
    """The buttons of a case: each moves it from some statuses to one."""

    SEND = "send", _("Sent to the lab")
    RECEIVE = "receive", pgettext_lazy("lab case", "Received")
    CHECK = "check", _("Quality-checked")
    RETURN = "return", _("Returned for remake")
    CANCEL = "cancel", _("Cancel")


# step -> (statuses it may start from, status it leads to)
STEPS: dict[str, tuple[tuple[str, ...], str]] = {
    LabStep.SEND: ((S.ORDERED,), S.SENT),
    LabStep.RECEIVE: ((S.SENT, S.RETURNED), S.RECEIVED),
    LabStep.CHECK: ((S.RECEIVED,), S.QUALITY_CHECKED),
    LabStep.RETURN: ((S.RECEIVED, S.QUALITY_CHECKED), S.RETURNED),
    LabStep.CANCEL: ((S.ORDERED, S.SENT, S.RETURNED, S.RECEIVED), S.CANCELLED),
}
