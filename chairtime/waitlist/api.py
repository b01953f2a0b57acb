"""API of the waitlist in the active branch (X-Branch): entries, the refill of a freed
slot, and the offers with their invites.

Reading needs schedule.view, writing schedule.book; missing and forbidden both answer
404. Entries go through the same service as the page, so the API refuses exactly what the
page refuses, with the same messages (422 naming the field).
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from chairtime.accounts.access import acting_user
from chairtime.accounts.models import User
from chairtime.clinical.models import Procedure
from chairtime.core.errors import InvalidInput
from chairtime.patients.models import Patient
from chairtime.scheduling.access import access_appointment
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability
from chairtime.waitlist.access import access_entry, access_offer
from chairtime.waitlist.choices import EntryStatus, PartOfDay
from chairtime.waitlist.models import OfferInvite, SlotOffer, WaitlistEntry
from chairtime.waitlist.selectors import EntryFilters, list_entries, list_invites, list_offers
from chairtime.waitlist.services import EntryData, add_entry, refill_appointment, remove_entry

router = Router(tags=["waitlist"])


class EntryOut(Schema):
    id: int
    branch_id: int
    patient_id: int
    patient_name: str
    procedure_id: int
    doctor_id: int | None
    weekdays: list[int]
    part_of_day: str
    earliest_on: date | None
    latest_on: date | None
    note: str
    status: str
    waiting_since: datetime
    appointment_id: int | None


class EntryIn(Schema):
    patient_id: int
    procedure_id: int
    doctor_id: int | None = None
    weekdays: list[int] = []
    part_of_day: str = PartOfDay.ANY
    earliest_on: date | None = None
    latest_on: date | None = None
    note: str = ""


class EntryQuery(Schema):
    status: str = EntryStatus.ACTIVE
    procedure_id: int | None = None
    doctor_id: int | None = None


class InviteOut(Schema):
    id: int
    rank: int
    tier: int
    patient_id: int
    procedure_id: int
    state: str
    channel: str
    expires_at: datetime
    message_id: int | None


class OfferOut(Schema):
    id: int
    branch_id: int
    chair_id: int
    doctor_id: int
    starts_at: datetime
    ends_at: datetime
    source_appointment_id: int
    reason: str
    status: str
    appointment_id: int | None
    invites: list[InviteOut]


class RefillOut(Schema):
    outcome: str
    offer: OfferOut | None
    invited: list[int]


def _entry_out(entry: WaitlistEntry) -> EntryOut:
    return EntryOut(
        id=entry.pk, branch_id=entry.branch_id, patient_id=entry.patient_id,
        patient_name=entry.patient.display_name, procedure_id=entry.procedure_id,
        doctor_id=entry.doctor_id, weekdays=list(entry.weekdays), part_of_day=entry.part_of_day,
        earliest_on=entry.earliest_on, latest_on=entry.latest_on, note=entry.note,
        status=entry.status, waiting_since=entry.waiting_since, appointment_id=entry.appointment_id,
    )  # fmt: skip


def _invite_out(invite: OfferInvite) -> InviteOut:
    return InviteOut(
        id=invite.pk, rank=invite.rank, tier=invite.tier, patient_id=invite.patient_id,
        procedure_id=invite.procedure_id, state=invite.state, channel=invite.channel,
        expires_at=invite.expires_at, message_id=invite.message_id,
    )  # fmt: skip


def _offer_out(offer: SlotOffer) -> OfferOut:
    return OfferOut(
        id=offer.pk, branch_id=offer.branch_id, chair_id=offer.chair_id, doctor_id=offer.doctor_id,
        starts_at=offer.starts_at, ends_at=offer.ends_at,
        source_appointment_id=offer.source_appointment_id, reason=offer.reason,
        status=offer.status, appointment_id=offer.appointment_id,
        invites=[_invite_out(i) for i in list_invites(offer)],
    )  # fmt: skip


@router.get("/entries", response=list[EntryOut], summary="The branch's waitlist")
def entry_list(request: HttpRequest, query: Query[EntryQuery]) -> list[EntryOut]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_VIEW)
    if query.status and query.status not in EntryStatus.values:
        raise InvalidInput.on("status", _("Choose one of the listed values."))
    filters = EntryFilters(status=query.status, procedure_id=query.procedure_id,
                           doctor_id=query.doctor_id)  # fmt: skip
    return [_entry_out(e) for e in list_entries(branch=access.branch, filters=filters)[:500]]


@router.get("/entries/{int:entry_id}", response=EntryOut, summary="One waitlist entry")
def entry_detail(request: HttpRequest, entry_id: int) -> EntryOut:
    return _entry_out(access_entry(api_branch_access(request), entry_id))


# The service names the model's fields; a client is told the payload's field it sent.
PAYLOAD_FIELDS = {"patient": "patient_id", "procedure": "procedure_id", "doctor": "doctor_id"}


def _payload_names(error: InvalidInput) -> InvalidInput:
    renamed: dict[str, list[str]] = {}
    for name, messages in error.errors.items():
        renamed.setdefault(PAYLOAD_FIELDS.get(name, name), []).extend(messages)
    return type(error)(renamed)  # a Conflict stays a Conflict (409)


def _lookup(payload: EntryIn, organization_id: int) -> EntryData:
    errors: dict[str, list[str]] = {}
    patient = Patient.objects.filter(pk=payload.patient_id, organization_id=organization_id).first()
    procedure = Procedure.objects.filter(
        pk=payload.procedure_id, organization_id=organization_id
    ).first()
    doctor = User.objects.filter(pk=payload.doctor_id).first() if payload.doctor_id else None
    if patient is None:
        errors["patient_id"] = [_("No such patient.")]
    if procedure is None:
        errors["procedure_id"] = [_("No such procedure.")]
    if payload.doctor_id and doctor is None:
        errors["doctor_id"] = [_("This doctor does not work in this branch.")]
    if errors or patient is None or procedure is None:
        raise InvalidInput(errors)
    return EntryData(
        patient=patient, procedure=procedure, doctor=doctor, weekdays=payload.weekdays,
        part_of_day=payload.part_of_day, earliest_on=payload.earliest_on,
        latest_on=payload.latest_on, note=payload.note,
    )  # fmt: skip


@router.post("/entries", response={201: EntryOut}, summary="Put a patient on the waitlist")
def entry_create(request: HttpRequest, payload: EntryIn) -> Status[EntryOut]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_BOOK)
    data = _lookup(payload, access.branch.organization_id)
    try:
        entry = add_entry(actor=acting_user(request), branch=access.branch, data=data)
    except InvalidInput as error:
        raise _payload_names(error) from None
    return Status(201, _entry_out(access_entry(access, entry.pk)))


@router.delete("/entries/{int:entry_id}", response=EntryOut, summary="Take a patient off the list")
def entry_delete(request: HttpRequest, entry_id: int) -> EntryOut:
    access = api_branch_access(request)
    entry = access_entry(access, entry_id, capability=Capability.SCHEDULE_BOOK)
    remove_entry(actor=acting_user(request), entry=entry)
    return _entry_out(access_entry(access, entry.pk))


@router.post(
    "/refill/{int:appointment_id}",
    response=RefillOut,
    summary="Offer a cancelled or missed appointment's slot to the waitlist",
    description="The same as the day view's “Fill this gap”. outcome: invited, nobody (no "
    "waiting patient fits), enough (the slot is offered and the invites are still open), "
    "closed (already filled) or too_late.",
)
def refill(request: HttpRequest, appointment_id: int) -> RefillOut:
    access = api_branch_access(request)
    appointment = access_appointment(access, appointment_id, capability=Capability.SCHEDULE_BOOK)
    result = refill_appointment(actor=acting_user(request), appointment=appointment)
    return RefillOut(
        outcome=result.outcome, offer=_offer_out(result.offer) if result.offer else None,
        invited=[i.pk for i in result.invited],
    )  # fmt: skip


@router.get("/offers", response=list[OfferOut], summary="Offers of freed slots, newest first")
def offer_list(request: HttpRequest, status: str = "") -> list[OfferOut]:
    access = api_branch_access(request)
    access.require(Capability.SCHEDULE_VIEW)
    return [_offer_out(o) for o in list_offers(branch=access.branch, status=status)[:200]]


@router.get("/offers/{int:offer_id}", response=OfferOut, summary="One offer and its invites")
def offer_detail(request: HttpRequest, offer_id: int) -> OfferOut:
    return _offer_out(access_offer(api_branch_access(request), offer_id))
