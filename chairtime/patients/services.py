"""Writes to the patient record. Each runs in one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import diff, record_event
from chairtime.core.errors import InvalidInput
from chairtime.core.text import digits, fold
from chairtime.marketing.models import Channel
from chairtime.patients.choices import ConsentOrigin, NameOrder, PatientStatus, Sex
from chairtime.patients.models import (
    Consent,
    MedicalAlert,
    Patient,
    PatientChatId,
    PatientPhone,
    Tag,
)
from chairtime.tenancy.models import Branch, Organization


@dataclass(frozen=True)
class PhoneData:
    number: str  # E.164, already validated
    kind: str = "mobile"


@dataclass
class PatientData:
    """Validated input for creating or changing a patient (forms and the API build it)."""

    family_name: str
    home_branch: Branch
    given_name: str = ""
    name_order: str = NameOrder.GIVEN_FIRST
    display_name: str = ""
    number: str = ""
    birth_date: date | None = None
    sex: str = Sex.UNKNOWN
    email: str = ""
    preferred_language: str = ""
    preferred_doctor: User | None = None
    preferred_times: list[str] = field(default_factory=list)
    source_channel: Channel | None = None
    referred_by_patient: Patient | None = None
    referred_by_staff: User | None = None
    referrer_external: str = ""
    tags: list[Tag] = field(default_factory=list)
    notes: str = ""
    status: str = PatientStatus.ACTIVE
    phones: list[PhoneData] = field(default_factory=list)
    chat_ids: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsentChoice:
    channel: str
    purpose: str
    is_granted: bool


def compose_display_name(*, family_name: str, given_name: str, name_order: str) -> str:
    """ "Nguyễn Văn An" (family first) or "Ana García López" (given first)."""
    parts = (
        [family_name, given_name]
        if name_order == NameOrder.FAMILY_FIRST
        else [given_name, family_name]
    )
    joined = " ".join(part.strip() for part in parts if part.strip())
    # Chinese names are written without a space: 王 + 小明 -> 王小明.
    if joined and all(_is_cjk(ch) for ch in joined.replace(" ", "")):
        joined = joined.replace(" ", "")
    return joined


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def build_search_key(
    *, display_name: str, family_name: str, given_name: str, number: str, phones: Iterable[str]
) -> str:
    """Folded names (spaced and unspaced), the patient number and phone digits."""
    names = fold(f"{display_name} {family_name} {given_name}")
    unspaced = fold(family_name + given_name).replace(" ", "")
    phone_digits = " ".join(digits(phone) for phone in phones)
    return " ".join(filter(None, [names, unspaced, fold(number), phone_digits]))


def _next_patient_number(organization: Organization) -> str:
    """Take the organisation's next free number under a row lock: never the same twice.

    Numbers staff typed by hand may already use the pattern ("P000042" from the old
    system), so a taken one is skipped rather than refused.
    """
    while True:
        Organization.objects.filter(pk=organization.pk).update(
            patient_number_seq=F("patient_number_seq") + 1
        )
        # The UPDATE holds the row lock until commit, so this read sees our own increment.
        sequence = Organization.objects.values_list("patient_number_seq", flat=True).get(
            pk=organization.pk
        )
        number = f"P{sequence:06d}"
        taken = Patient.objects.filter(organization=organization, number__iexact=number)
        if not taken.exists():
            return number


def allocate_patient_numbers(organization: Organization, count: int) -> list[str]:
    """Take `count` next free numbers at once (imports): one sequence update per block.

    Same numbers as `_next_patient_number` would give one by one: the sequence moves on
    under the organisation's row lock (call inside a transaction), and numbers already
    taken by hand are skipped.
    """
    numbers: list[str] = []
    while len(numbers) < count:
        wanted = count - len(numbers)
        Organization.objects.filter(pk=organization.pk).update(
            patient_number_seq=F("patient_number_seq") + wanted
        )
        last = Organization.objects.values_list("patient_number_seq", flat=True).get(
            pk=organization.pk
        )
        block = [f"P{sequence:06d}" for sequence in range(last - wanted + 1, last + 1)]
        folded = Patient.objects.filter(organization=organization).annotate(
            number_folded=Lower("number")
        )
        if len(block[0]) == len(block[-1]):
            # A range reads the unique index on the lower-cased number, not the whole table.
            folded = folded.filter(
                number_folded__gte=block[0].lower(), number_folded__lte=block[-1].lower()
            )
        else:  # "P999999" to "P1000000" do not sort as text
            folded = folded.filter(number_folded__in=[number.lower() for number in block])
        taken = {number.lower() for number in folded.values_list("number", flat=True)}
        numbers.extend(number for number in block if number.lower() not in taken)
    return numbers


_SCALAR_FIELDS = (
    "family_name", "given_name", "name_order", "birth_date", "sex", "email",
    "preferred_language", "preferred_doctor", "preferred_times", "source_channel",
    "referred_by_patient", "referred_by_staff", "referrer_external", "notes", "status",
    "home_branch",
)  # fmt: skip


def _snapshot(patient: Patient) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(patient, name) for name in _SCALAR_FIELDS}
    values.update(number=patient.number, display_name=patient.display_name)
    for name in (
        "preferred_doctor",
        "source_channel",
        "referred_by_patient",
        "referred_by_staff",
        "home_branch",
    ):
        values[name] = getattr(patient, f"{name}_id")
    if patient.pk:
        values["phones"] = sorted(patient.phones.values_list("number", flat=True))
        values["tags"] = sorted(patient.tags.values_list("name", flat=True))
        values["chat_ids"] = sorted(f"{c.app}:{c.handle}" for c in patient.chat_ids.all())
    return values


def _apply(patient: Patient, data: PatientData) -> None:
    # A display name that was composed from the names (not typed by staff) follows them
    # when they change; one typed by staff ("Bà Tư", "Dr. Ana") is kept as typed.
    composed_before = patient.pk is not None and patient.display_name == _composed(patient)
    typed = data.display_name.strip()
    for name in _SCALAR_FIELDS:
        setattr(patient, name, getattr(data, name))
    if not typed or (composed_before and typed == patient.display_name):
        typed = ""
    patient.display_name = typed or _composed(patient)


def _composed(patient: Patient) -> str:
    return compose_display_name(
        family_name=patient.family_name,
        given_name=patient.given_name,
        name_order=patient.name_order,
    )


def _save_related(patient: Patient, data: PatientData) -> None:
    patient.phones.all().delete()
    PatientPhone.objects.bulk_create(
        PatientPhone(patient=patient, number=phone.number, kind=phone.kind, is_primary=index == 0)
        for index, phone in enumerate(data.phones)
    )
    patient.chat_ids.all().delete()
    PatientChatId.objects.bulk_create(
        PatientChatId(patient=patient, app=app, handle=handle)
        for app, handle in data.chat_ids.items()
        if handle
    )
    patient.tags.set(data.tags)
    patient.search_key = build_search_key(
        display_name=patient.display_name, family_name=patient.family_name,
        given_name=patient.given_name, number=patient.number,
        phones=[phone.number for phone in data.phones],
    )  # fmt: skip
    patient.save(update_fields=["search_key"])


def _check_referrer(data: PatientData, patient: Patient | None) -> None:
    referrer = data.referred_by_patient
    if referrer is None:
        return
    if referrer.organization_id != data.home_branch.organization_id:
        raise InvalidInput.on("referred_by_patient", _("No patient with this number."))
    if patient is not None and referrer.pk == patient.pk:
        raise InvalidInput.on("referred_by_patient", _("A patient cannot refer themselves."))


def _save_checked(patient: Patient) -> None:
    """Save, turning a lost race for the same patient number into the form's own error."""
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError:
        if (
            Patient.objects.filter(
                organization_id=patient.organization_id, number__iexact=patient.number
            )
            .exclude(pk=patient.pk)
            .exists()
        ):
            raise InvalidInput.on("number", _("Another patient already has this number.")) from None
        raise


@transaction.atomic
def create_patient(
    *,
    actor: User,
    data: PatientData,
    consents: Iterable[ConsentChoice] = (),
    consent_origin: str = "",
) -> Patient:
    """Register a patient with their phones, chat IDs, tags and first consents."""
    organization = data.home_branch.organization
    _check_referrer(data, None)
    patient = Patient(organization=organization)
    _apply(patient, data)
    patient.number = data.number.strip() or _next_patient_number(organization)
    _save_checked(patient)
    _save_related(patient, data)
    record_event(
        actor=actor, action=AuditAction.CREATE, target=patient, summary=patient.display_name,
        branch_id=patient.home_branch_id, patient_id=patient.pk,
        changes=diff({}, {k: v for k, v in _snapshot(patient).items() if v not in ("", None, [])}),
    )  # fmt: skip
    record_consents(actor=actor, patient=patient, choices=consents, origin=consent_origin)
    return patient


@transaction.atomic
def update_patient(*, actor: User, patient: Patient, data: PatientData) -> Patient:
    """Change a patient; the audit event lists every field that changed, before and after."""
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    before = _snapshot(locked)
    _check_referrer(data, locked)
    _apply(locked, data)
    if data.number.strip():
        locked.number = data.number.strip()
    _save_checked(locked)
    _save_related(locked, data)
    changes = diff(before, _snapshot(locked))
    if changes:
        record_event(
            actor=actor, action=AuditAction.UPDATE, target=locked, summary=locked.display_name,
            branch_id=locked.home_branch_id, patient_id=locked.pk, changes=changes,
        )  # fmt: skip
    return locked


def current_consents(patient: Patient) -> dict[tuple[str, str], Consent]:
    """The newest consent row per (channel, purpose)."""
    current: dict[tuple[str, str], Consent] = {}
    for consent in patient.consents.order_by("-recorded_at", "-id"):
        current.setdefault((consent.channel, consent.purpose), consent)
    return current


def _differs(choice: ConsentChoice, current: dict[tuple[str, str], Consent]) -> bool:
    """A first "yes", or a change of mind; a first "no" needs no row (silence is no)."""
    existing = current.get((choice.channel, choice.purpose))
    if existing is None:
        return choice.is_granted
    return existing.is_granted != choice.is_granted


@transaction.atomic
def record_consents(
    *, actor: User, patient: Patient, choices: Iterable[ConsentChoice], origin: str, note: str = ""
) -> list[Consent]:
    """Record the choices that differ from what is on file; an origin is required."""
    current = current_consents(patient)
    changed = [choice for choice in choices if _differs(choice, current)]
    if not changed:
        return []
    if origin not in ConsentOrigin.values:
        raise InvalidInput.on("consent_origin", _("Say where this consent comes from."))
    now = timezone.now()
    rows = Consent.objects.bulk_create(
        Consent(
            patient=patient, channel=c.channel, purpose=c.purpose, is_granted=c.is_granted,
            origin=origin, recorded_at=now, recorded_by=actor, note=note,
        )
        for c in changed
    )  # fmt: skip
    record_event(
        actor=actor, action=AuditAction.CREATE, target=rows[0], patient_id=patient.pk,
        branch_id=patient.home_branch_id, organization_id=patient.organization_id,
        summary=", ".join(f"{c.channel}/{c.purpose}={'yes' if c.is_granted else 'no'}" for c in changed),
        changes={"origin": (None, origin)},
    )  # fmt: skip
    return rows


@transaction.atomic
def add_medical_alert(
    *, actor: User, patient: Patient, kind: str, description: str, severity: str
) -> MedicalAlert:
    """Put an alert on the patient that clinicians see before treating."""
    alert = MedicalAlert.objects.create(
        patient=patient, kind=kind, description=description.strip(), severity=severity
    )
    record_event(
        actor=actor, action=AuditAction.CREATE, target=alert, summary=str(alert),
        patient_id=patient.pk, branch_id=patient.home_branch_id,
        organization_id=patient.organization_id,
    )  # fmt: skip
    return alert


@transaction.atomic
def record_patient_view(
    *, actor: User, patient: Patient, branch: Branch, ip_address: str | None
) -> None:
    """Note that the actor opened the patient's record (who looked at whom is audited)."""
    record_event(
        actor=actor, action=AuditAction.VIEW, target=patient, summary=patient.display_name,
        patient_id=patient.pk, branch_id=branch.pk, ip_address=ip_address,
    )  # fmt: skip
