"""Reads of the waitlist: the entries, who fits a freed slot and in which order, the
offers and their invites.

The ranking is "rocks, pebbles, sand" (the seed's front-desk rule): VIPs first (the CRM's
loyal/VIP group, or the VIP tag the day view shows), then potential customers, then the
rest (a patient without a computed profile counts with the rest); within a group, who has
waited longest. Only entries whose need fits the gap are ranked (`fits`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from chairtime.accounts.models import StaffProfile, User
from chairtime.clinical.models import CleaningBuffer, Procedure
from chairtime.core.errors import InvalidInput
from chairtime.crm.choices import CustomerGroup
from chairtime.crm.models import PatientProfile
from chairtime.messaging.addresses import mobile_number, normalize_address
from chairtime.messaging.automation.defaults import DEFAULT_CHANNELS
from chairtime.patients.choices import ConsentPurpose, ContactChannel, PatientStatus
from chairtime.patients.models import Consent, Patient, PatientChatId, PatientPhone
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.scheduling.models import Appointment, DoctorProcedureDuration
from chairtime.scheduling.selectors import VIP_TAG
from chairtime.tenancy.models import Branch, Membership
from chairtime.tenancy.roles import Role
from chairtime.waitlist.choices import EntryStatus, PartOfDay, Tier
from chairtime.waitlist.models import OfferInvite, SlotOffer, WaitlistEntry

# Part of the day by the local start time: [from, until).
PARTS_OF_DAY: dict[str, tuple[time, time]] = {
    PartOfDay.MORNING: (time(0), time(12)),
    PartOfDay.AFTERNOON: (time(12), time(17)),
    PartOfDay.EVENING: (time(17), time.max),
}
GONE = (PatientStatus.MERGED, PatientStatus.DECEASED)
LOOK_AROUND = timedelta(hours=3)  # appointments read around a gap (longer than any buffer)


# --- entries --------------------------------------------------------------------------------
@dataclass(frozen=True)
class EntryFilters:
    status: str = EntryStatus.ACTIVE
    procedure_id: int | None = None
    doctor_id: int | None = None
    search: str = ""


def list_entries(*, branch: Branch, filters: EntryFilters | None = None) -> QuerySet[WaitlistEntry]:
    """The branch's entries, longest waiting first."""
    filters = filters or EntryFilters()
    rows = WaitlistEntry.objects.filter(branch=branch).select_related(
        "patient", "procedure", "doctor", "appointment"
    )
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.procedure_id is not None:
        rows = rows.filter(procedure_id=filters.procedure_id)
    if filters.doctor_id is not None:
        rows = rows.filter(doctor_id=filters.doctor_id)
    if filters.search.strip():
        rows = rows.filter(patient__display_name__icontains=filters.search.strip())
    return rows.order_by("waiting_since", "id")


def qualified_doctor_ids(branch: Branch, procedure: Procedure) -> list[int]:
    """Active doctors of the branch (or of the whole organisation) qualified for the
    procedure's category."""
    doctors = (
        Membership.objects.filter(organization_id=branch.organization_id, role=Role.DOCTOR)
        .filter(Q(branch=branch) | Q(branch__isnull=True))
        .filter(user__is_active=True)
        .values_list("user_id", flat=True)
    )
    profiles = StaffProfile.objects.filter(user_id__in=list(doctors)).values_list(
        "user_id", "procedure_categories"
    )
    return sorted(pk for pk, categories in profiles if procedure.category in (categories or []))


def list_branch_doctors(branch: Branch) -> list[User]:
    members = Membership.objects.filter(organization_id=branch.organization_id, role=Role.DOCTOR)
    members = members.filter(Q(branch=branch) | Q(branch__isnull=True))
    ids = list(members.values_list("user_id", flat=True))
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("last_name", "pk"))


# --- who can be reached ---------------------------------------------------------------------
def _usable(channel: str, address: str, region: str) -> str:
    if not address:
        return ""
    try:
        if channel in (ContactChannel.SMS, ContactChannel.ZALO):
            return mobile_number(address, region=region)
        return normalize_address(channel, address, region=region)
    except InvalidInput:
        return ""


def reachable_channels(
    patient_ids: Iterable[int], *, region: str
) -> dict[int, list[tuple[str, str]]]:
    """Per patient, the (channel, address) pairs a service message can go on, in the
    default order (chat apps, SMS, e-mail): a usable address whose newest service consent
    is not a refusal. A patient absent from the answer cannot be reached at all."""
    ids = list(set(patient_ids))
    emails = dict(
        Patient.objects.filter(pk__in=ids).exclude(status__in=GONE).values_list("pk", "email")
    )
    addresses: dict[int, dict[str, str]] = defaultdict(dict)
    for patient_id, number in (
        PatientPhone.objects.filter(patient_id__in=list(emails), kind="mobile")
        .order_by("patient_id", "-is_primary", "pk")
        .values_list("patient_id", "number")
    ):
        if ContactChannel.SMS not in addresses[patient_id]:
            addresses[patient_id][ContactChannel.SMS] = _usable(ContactChannel.SMS, number, region)
    for patient_id, app, handle in PatientChatId.objects.filter(
        patient_id__in=list(emails), app__in=[ContactChannel.ZALO, ContactChannel.WECHAT]
    ).values_list("patient_id", "app", "handle"):
        found = _usable(app, handle, region)
        if app == ContactChannel.ZALO and not found:  # a Zalo account is a phone number
            found = addresses[patient_id].get(ContactChannel.SMS, "")
        addresses[patient_id][app] = found
    for patient_id, email in emails.items():
        addresses[patient_id][ContactChannel.EMAIL] = _usable(ContactChannel.EMAIL, email, region)
    refused = _service_refusals(list(emails))
    answer: dict[int, list[tuple[str, str]]] = {}
    for patient_id, by_channel in addresses.items():
        usable = [
            (str(channel), by_channel[channel])
            for channel in DEFAULT_CHANNELS
            if by_channel.get(channel) and (patient_id, channel) not in refused
        ]
        if usable:
            answer[patient_id] = usable
    return answer


def _service_refusals(patient_ids: list[int]) -> set[tuple[int, str]]:
    """(patient, channel) whose newest service consent row is a refusal."""
    newest: dict[tuple[int, str], bool] = {}
    rows = (
        Consent.objects.filter(patient_id__in=patient_ids, purpose=ConsentPurpose.SERVICE)
        .order_by("patient_id", "channel", "-recorded_at", "-id")
        .values_list("patient_id", "channel", "is_granted")
    )
    for patient_id, channel, is_granted in rows:
        newest.setdefault((patient_id, channel), is_granted)
    return {key for key, granted in newest.items() if not granted}


def patient_tiers(patient_ids: Iterable[int]) -> dict[int, int]:
    """Rock (VIP), pebble (potential) or sand (others) per patient."""
    ids = list(set(patient_ids))
    groups = dict(
        PatientProfile.objects.filter(patient_id__in=ids).values_list("patient_id", "group")
    )
    tagged = set(
        Patient.tags.through.objects.filter(
            patient_id__in=ids, tag__name__iexact=VIP_TAG
        ).values_list("patient_id", flat=True)
    )
    tiers: dict[int, int] = {}
    for pk in ids:
        if pk in tagged or groups.get(pk) == CustomerGroup.LOYAL:
            tiers[pk] = Tier.ROCK
        elif groups.get(pk) == CustomerGroup.POTENTIAL:
            tiers[pk] = Tier.PEBBLE
        else:
            tiers[pk] = Tier.SAND
    return tiers


# --- the gap and who fits it ----------------------------------------------------------------
@dataclass(frozen=True)
class Gap:
    """A freed slot: on this chair with this doctor, from `starts_at` until `ends_at`."""

    branch: Branch
    chair_id: int
    doctor_id: int
    starts_at: datetime
    ends_at: datetime
    assistant_id: int | None = None
    source_patient_id: int | None = None


@dataclass(frozen=True)
class Candidate:
    entry: WaitlistEntry
    tier: int
    duration: timedelta
    channel: str
    address: str


@dataclass
class _Book:
    """The appointments around the gap: what holds the chair, doctor and assistant, and
    what each candidate patient already has."""

    resources: list[tuple[datetime, datetime]] = field(default_factory=list)
    patients: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)


def _book_around(gap: Gap, patient_ids: list[int]) -> _Book:
    book = _Book()
    active = Appointment.objects.exclude(status__in=RELEASED_STATUSES).filter(
        starts_at__lt=gap.ends_at + LOOK_AROUND, blocked_until__gt=gap.starts_at - LOOK_AROUND
    )
    holders = Q(chair_id=gap.chair_id) | Q(doctor_id=gap.doctor_id)
    if gap.assistant_id is not None:
        holders |= Q(assistant_id=gap.assistant_id)
    book.resources = list(active.filter(holders).values_list("starts_at", "blocked_until"))
    patients: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for patient_id, start, end in active.filter(patient_id__in=patient_ids).values_list(
        "patient_id", "starts_at", "ends_at"
    ):
        patients[patient_id].append((start, end))
    book.patients = patients
    return book


def _overlaps(
    intervals: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> bool:
    return any(a < end and start < b for a, b in intervals)


def prefers(entry: WaitlistEntry, local_start: datetime) -> bool:
    """Whether the patient can come then: weekday, time of day and dates (local)."""
    day: date = local_start.date()
    if entry.weekdays and local_start.weekday() not in entry.weekdays:
        return False
    if entry.part_of_day != PartOfDay.ANY:
        start, end = PARTS_OF_DAY[entry.part_of_day]
        if not start <= local_start.time() < end:
            return False
    if entry.earliest_on is not None and day < entry.earliest_on:
        return False
    return entry.latest_on is None or day <= entry.latest_on


def rank_candidates(gap: Gap, *, exclude_entry_ids: Iterable[int] = ()) -> list[Candidate]:
    """The active entries whose need fits the gap, best first.

    Fits: the entry's doctor (if any) is the gap's; that doctor is qualified for the
    procedure; the procedure with its cleaning buffer fits before the next booking on the
    chair, the doctor (and the assistant, when it needs one, which the gap must have) and
    its own length fits the gap; the patient can come then and has no appointment at that
    time; and a service message can reach them on some channel."""
    excluded = set(exclude_entry_ids)
    entries = [
        entry
        for entry in WaitlistEntry.objects.filter(branch=gap.branch, status=EntryStatus.ACTIVE)
        .filter(Q(doctor_id=gap.doctor_id) | Q(doctor__isnull=True))
        .exclude(patient_id=gap.source_patient_id or 0)
        .exclude(patient__status__in=GONE)
        .select_related("patient", "procedure")
        .order_by("waiting_since", "id")
        if entry.pk not in excluded
    ]
    if not entries:
        return []
    categories = set(
        StaffProfile.objects.filter(user_id=gap.doctor_id)
        .values_list("procedure_categories", flat=True)
        .first()
        or []
    )
    local_start = gap.starts_at.astimezone(gap.branch.zone)
    entries = [
        e
        for e in entries
        if e.procedure.category in categories
        and e.procedure.is_active
        and (gap.assistant_id is not None or not e.procedure.needs_assistant)
        and prefers(e, local_start)
    ]
    if not entries:
        return []
    durations = _durations(gap.doctor_id, [e.procedure for e in entries])
    buffers = _buffers(gap.branch.organization_id)
    patient_ids = [e.patient_id for e in entries]
    book = _book_around(gap, patient_ids)
    channels = reachable_channels(patient_ids, region=gap.branch.country)
    tiers = patient_tiers(patient_ids)
    found: list[Candidate] = []
    for entry in entries:
        duration = durations[entry.procedure_id]
        end = gap.starts_at + duration
        blocked_until = end + buffers.get(
            entry.procedure.category,
            timedelta(minutes=CleaningBuffer.default_minutes(entry.procedure.category)),
        )
        reach = channels.get(entry.patient_id)
        if (
            end > gap.ends_at
            or reach is None
            or _overlaps(book.resources, gap.starts_at, blocked_until)
            or _overlaps(book.patients.get(entry.patient_id, ()), gap.starts_at, end)
        ):
            continue
        channel, address = reach[0]
        found.append(Candidate(entry, tiers[entry.patient_id], duration, channel, address))
    found.sort(key=lambda c: (c.tier, c.entry.waiting_since, c.entry.pk))
    return found


def _durations(doctor_id: int, procedures: list[Procedure]) -> dict[int, timedelta]:
    own = dict(
        DoctorProcedureDuration.objects.filter(
            doctor_id=doctor_id, procedure_id__in=[p.pk for p in procedures]
        ).values_list("procedure_id", "minutes")
    )
    return {
        p.pk: timedelta(minutes=own.get(p.pk) or p.default_duration_minutes) for p in procedures
    }


def _buffers(organization_id: int) -> dict[str, timedelta]:
    return {
        category: timedelta(minutes=minutes)
        for category, minutes in CleaningBuffer.objects.filter(
            organization_id=organization_id
        ).values_list("category", "minutes")
    }


def is_slot_free(offer: SlotOffer, procedure: Procedure) -> bool:
    """Whether the offer's chair and doctor are still free for the procedure (nobody booked
    the slot by hand since it was offered)."""
    gap = Gap(offer.branch, offer.chair_id, offer.doctor_id, offer.starts_at, offer.ends_at,
              assistant_id=offer.assistant_id if procedure.needs_assistant else None)  # fmt: skip
    duration = _durations(offer.doctor_id, [procedure])[procedure.pk]
    buffer = _buffers(offer.branch.organization_id).get(
        procedure.category, timedelta(minutes=CleaningBuffer.default_minutes(procedure.category))
    )
    book = _book_around(gap, [])
    return not _overlaps(book.resources, offer.starts_at, offer.starts_at + duration + buffer)


def is_start_taken(offer: SlotOffer) -> bool:
    """Whether the offer's chair or doctor is now busy at its very start (booked by hand
    meanwhile): then nobody can have the slot, whatever their procedure."""
    return (
        Appointment.objects.exclude(status__in=RELEASED_STATUSES)
        .filter(Q(chair_id=offer.chair_id) | Q(doctor_id=offer.doctor_id))
        .filter(starts_at__lte=offer.starts_at, blocked_until__gt=offer.starts_at)
        .exists()
    )


# --- offers ---------------------------------------------------------------------------------
def list_offers(*, branch: Branch, status: str = "") -> QuerySet[SlotOffer]:
    rows = SlotOffer.objects.filter(branch=branch).select_related(
        "chair", "doctor", "source_appointment__patient", "appointment__patient"
    )
    if status:
        rows = rows.filter(status=status)
    return rows.order_by("-created_at", "-id")


def list_invites(offer: SlotOffer) -> QuerySet[OfferInvite]:
    return offer.invites.select_related("patient", "procedure", "message").order_by("rank")


def get_offer_for_appointment(appointment_id: int) -> SlotOffer | None:
    """The newest offer of a slot this appointment freed."""
    return (
        SlotOffer.objects.filter(source_appointment_id=appointment_id)
        .order_by("-created_at", "-id")
        .first()
    )


def get_invite_by_hash(token_hash: str) -> OfferInvite | None:
    return (
        OfferInvite.objects.select_related(
            "offer__branch", "offer__doctor", "offer__chair", "procedure", "patient",
            "offer__appointment",
        )
        .filter(token_hash=token_hash)
        .first()
    )  # fmt: skip
