"""Writes of patient feedback: complaints and their handling, NPS surveys and answers.

A complaint moves open → in progress → resolved (resolving needs the resolution written
down; a resolved complaint can be reopened). An NPS survey is made once per completed
visit and answered once, through the link, before it expires.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.crm.choices import ComplaintCategory, ComplaintSeverity, ComplaintStatus
from chairtime.crm.models import Complaint, NpsSurvey
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch, Membership

SURVEY_VALID_DAYS = 30
DESCRIPTION_MAX = 5000
COMMENT_MAX = 2000

# Where a complaint may go from each status (staying put is always allowed).
TRANSITIONS: dict[str, frozenset[str]] = {
    ComplaintStatus.OPEN: frozenset({ComplaintStatus.IN_PROGRESS, ComplaintStatus.RESOLVED}),
    ComplaintStatus.IN_PROGRESS: frozenset({ComplaintStatus.OPEN, ComplaintStatus.RESOLVED}),
    ComplaintStatus.RESOLVED: frozenset({ComplaintStatus.OPEN}),  # reopened
}


# --- complaints ---------------------------------------------------------------------------
def _member_of(user: AbstractBaseUser | None, organization_id: int, field: str) -> User | None:
    """The user when they work in the organisation; anyone else is bad input on `field`."""
    if user is None:
        return None
    if not Membership.objects.filter(user_id=user.pk, organization_id=organization_id).exists():
        raise InvalidInput.on(field, _("Choose a staff member of this organisation."))
    assert isinstance(user, User)
    return user


def _check_choice(value: str, choices: list[str], field: str) -> None:
    if value not in choices:
        raise InvalidInput.on(field, _("Choose one of the listed values."))


def record_complaint(
    *,
    actor: User,
    branch: Branch,
    patient: Patient,
    category: str,
    severity: str,
    description: str,
    received_at: datetime | None = None,
    appointment: Appointment | None = None,
    doctor: User | None = None,
    owner: User | None = None,
) -> Complaint:
    """Write down a patient's complaint in the branch, open, with who handles it."""
    errors: dict[str, list[str]] = {}
    if category not in ComplaintCategory.values:
        errors["category"] = [_("Choose one of the listed categories.")]
    if severity not in ComplaintSeverity.values:
        errors["severity"] = [_("Choose one of the listed severities.")]
    description = description.strip()
    if not description:
        errors["description"] = [_("Say what happened.")]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("Keep it under 5,000 characters.")]
    now = timezone.now()
    if received_at is not None and received_at > now + timedelta(minutes=5):
        errors["received_at"] = [_("A complaint cannot be received in the future.")]
    if patient.organization_id != branch.organization_id:
        errors["patient"] = [_("No such patient.")]
    if appointment is not None and (
        appointment.patient_id != patient.pk or appointment.branch_id != branch.pk
    ):
        errors["appointment"] = [_("Choose a visit of this patient in this branch.")]
    if errors:
        raise InvalidInput(errors)
    doctor = _member_of(doctor, branch.organization_id, "doctor")
    owner = _member_of(owner, branch.organization_id, "owner")
    with transaction.atomic():
        complaint = Complaint.objects.create(
            organization_id=branch.organization_id, branch=branch, patient=patient,
            appointment=appointment, doctor=doctor or (appointment.doctor if appointment else None),
            category=category, severity=severity, description=description,
            received_at=received_at or now, owner=owner, recorded_by=actor,
        )  # fmt: skip
        record_event(
            actor=actor, action=AuditAction.CREATE, target=complaint,
            summary=f"complaint {category} {severity}",
        )  # fmt: skip
    return complaint


def update_complaint(
    *,
    actor: User,
    complaint: Complaint,
    status: str | None = None,
    owner: User | None = None,
    resolution: str | None = None,
) -> Complaint:
    """Move a complaint on, hand it to someone, or write its resolution.

    Resolving needs a resolution (given now or written before); reopening clears when and
    by whom it was resolved but keeps the text for the record.
    """
    with transaction.atomic():
        locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
        before = _complaint_state(locked)
        new_status = locked.status if status is None else status
        _check_choice(new_status, ComplaintStatus.values, "status")
        if new_status != locked.status and new_status not in TRANSITIONS[locked.status]:
            raise InvalidInput.on(
                "status",
                _("A complaint cannot go from “%(from)s” to “%(to)s”.")
                % {
                    "from": ComplaintStatus(locked.status).label,
                    "to": ComplaintStatus(new_status).label,
                },
            )
        text = locked.resolution if resolution is None else resolution.strip()
        if len(text) > DESCRIPTION_MAX:
            raise InvalidInput.on("resolution", _("Keep it under 5,000 characters."))
        if new_status == ComplaintStatus.RESOLVED and not text:
            raise InvalidInput.on("resolution", _("Write how the complaint was resolved."))
        if owner is not None:
            locked.owner = _member_of(owner, locked.organization_id, "owner")
        if new_status != locked.status:
            _move(locked, new_status, actor)
        locked.status = new_status
        locked.resolution = text
        locked.save()
        changes = diff(before, _complaint_state(locked))
        if changes:
            record_event(
                actor=actor, action=AuditAction.UPDATE, target=locked,
                summary=f"complaint {locked.status}", changes=changes,
            )  # fmt: skip
    return locked


def _move(complaint: Complaint, new_status: str, actor: User) -> None:
    if new_status == ComplaintStatus.RESOLVED:
        complaint.resolved_at = timezone.now()
        complaint.resolved_by = actor
    else:
        complaint.resolved_at = None
        complaint.resolved_by = None


def _complaint_state(complaint: Complaint) -> dict[str, object]:
    return {
        "status": complaint.status,
        "owner": complaint.owner_id,
        "resolution": complaint.resolution,
    }


# --- NPS surveys --------------------------------------------------------------------------
def branch_language(branch: Branch) -> str:
    """The site language closest to the branch's locale ("zh_CN" -> "zh-hans")."""
    prefix = branch.locale.split("_")[0].lower()
    codes = [code for code, _name in settings.LANGUAGES]
    return next((code for code in codes if code.split("-")[0] == prefix), settings.LANGUAGE_CODE)


def create_survey(*, appointment: Appointment, now: datetime | None = None) -> NpsSurvey | None:
    """The survey of a completed visit, in the patient's language; None when the visit is
    not completed, the patient's record was merged away, or it already has its survey."""
    if appointment.status != AppointmentStatus.COMPLETED:
        return None
    patient = appointment.patient
    if patient.status == PatientStatus.MERGED:
        return None
    if NpsSurvey.objects.filter(appointment_id=appointment.pk).exists():
        return None
    now = now or timezone.now()
    branch = appointment.branch
    try:
        with transaction.atomic():
            survey = NpsSurvey.objects.create(
                organization_id=branch.organization_id, branch=branch, patient=patient,
                appointment=appointment, doctor_id=appointment.doctor_id,
                token=secrets.token_urlsafe(32),
                language=patient.preferred_language or branch_language(branch),
                sent_at=now, expires_at=now + timedelta(days=SURVEY_VALID_DAYS),
            )  # fmt: skip
            record_event(actor=None, action=AuditAction.CREATE, target=survey, summary="survey")
    except IntegrityError:  # another run made it between the check and the insert
        return None
    return survey


def create_surveys_for_day(*, branch: Branch, day: date, now: datetime | None = None) -> int:
    """Surveys for the branch's completed visits of one local day; safe to run again."""
    zone = branch.zone
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    visits = (
        Appointment.objects.filter(
            branch=branch,
            status=AppointmentStatus.COMPLETED,
            starts_at__gte=start,
            starts_at__lt=end,
            nps_survey__isnull=True,
        )
        .exclude(patient__status=PatientStatus.MERGED)
        .select_related("patient", "branch")
        .order_by("starts_at", "pk")
    )
    return sum(1 for visit in visits if create_survey(appointment=visit, now=now) is not None)


def create_surveys_for_yesterday(*, now: datetime | None = None) -> int:
    """Every active branch's surveys for its own yesterday (each in its time zone)."""
    now = now or timezone.now()
    made = 0
    for branch in Branch.objects.filter(is_active=True).order_by("pk"):
        yesterday = timezone.localdate(now, branch.zone) - timedelta(days=1)
        made += create_surveys_for_day(branch=branch, day=yesterday, now=now)
    return made


def answer_survey(
    *, token: str, score: object, comment: str = "", now: datetime | None = None
) -> NpsSurvey:
    """The patient's answer: a whole score 0-10 and an optional comment, once, before the
    survey expires. NotFound for an unknown token."""
    now = now or timezone.now()
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise InvalidInput.on("score", _("Choose a score from 0 to 10."))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise InvalidInput.on("comment", _("Keep the comment under 2,000 characters."))
    with transaction.atomic():
        survey = NpsSurvey.objects.select_for_update().filter(token=token).first()
        if survey is None:
            raise NotFound
        if survey.answered_at is not None:
            raise Conflict({"token": [_("This survey has already been answered.")]})
        if now >= survey.expires_at:
            raise InvalidInput.on("token", _("This survey has expired."))
        survey.score = score
        survey.comment = comment
        survey.answered_at = now
        survey.save(update_fields=["score", "comment", "answered_at", "updated_at"])
        record_event(
            actor=None, action=AuditAction.UPDATE, target=survey,
            summary=f"survey answered {score}",
        )  # fmt: skip
    return survey
