"""The simulated clinic's waitlist (issue 7): who waited for an earlier slot, the freed
slots offered to them, and who claimed one.

Run after the book, the money and the CRM (the ranking reads the customer groups), and
before the care, messaging and lab steps (they read the book this step adds to).

- Entries: a few percent of each branch's active patients (`ENTRY_SHARE`) put on the list
  over the last `ENTRY_DAYS` days: half with accepted treatment still to book (the plan
  item's procedure), a quarter with a booking weeks ahead who want an earlier date (that
  booking's procedure), a quarter asking for a check-up or a cleaning soon. Only
  procedures a doctor of the branch does; a preferred doctor sometimes, varied weekdays,
  times of day and dates. Some are removed by staff later; those whose last day passed
  are expired, as the daily task (`waitlist.tasks.expire_entries_task`) would have.
- Offers: every appointment cancelled (before now) whose time lies from now to
  `FUTURE_DAYS` ahead is replayed at the moment it was released,
  in time order, as the product's refill does it: offered from 30 minutes after the
  release (rounded up to 5 minutes) if anything still fits, to the first
  `INVITES_PER_OFFER` of the product's own ranking (`waitlist.selectors.rank_candidates`,
  rocks, pebbles, sand), each invite live for `OFFER_VALID`. When nobody claimed in time
  and the slot is still far enough ahead, the front desk sometimes presses "Fill this gap"
  and the next ones are asked.
- Claims: each invitee clicks with `CLICK_CHANCE` at some moment before the link expires
  (about 40% of offers end claimed); the first click wins, the others are told it is
  taken. The winner is checked against the book with the appointment book's own checks
  (the engine's `check_proposal`, as `book_appointment` does: working hours, overlaps of
  chair, doctor, assistant, patient and equipment) and booked as a plain row under the
  database's no-double-booking guard; a refused click makes that invite `unavailable`.
  The entry is booked; an "earlier date" patient's later booking is cancelled. Clicks
  after now have not happened (live invites).

Rows are plain (ADR 5): no services, no audit events, no messages (the invites record the
channel the product would have used). Everything random comes from `rng`; the ranking
reads the database, so each claim's appointment and entry are written before the next
gap is ranked.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock

from django.db import transaction
from django.db.models import Q

from chairtime.accounts.models import StaffProfile, User
from chairtime.clinical.models import OptionStatus, Procedure, TreatmentItem
from chairtime.clinical.selectors import unscheduled_items
from chairtime.core.errors import InvalidInput
from chairtime.engine.checks import check_proposal
from chairtime.engine.types import (
    Interval,
    Proposal,
    assistant_key,
    chair_key,
    doctor_key,
    equipment_key,
    patient_key,
)
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient
from chairtime.scheduling.calendars import ScheduleScope, load_schedule, window_around
from chairtime.scheduling.choices import RELEASED_STATUSES, AppointmentStatus, CancelledBy
from chairtime.scheduling.models import Appointment
from chairtime.scheduling.services import buffer_for, duration_for, equipment_for
from chairtime.simulation.bookings import APPOINTMENT_COLUMNS
from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
from chairtime.tenancy.models import Branch, Membership, Organization
from chairtime.tenancy.roles import Role
from chairtime.waitlist.choices import (
    EntryStatus,
    InviteState,
    OfferStatus,
    PartOfDay,
    ReleaseReason,
)
from chairtime.waitlist.models import OfferInvite, SlotOffer, WaitlistEntry
from chairtime.waitlist.selectors import Candidate, Gap, rank_candidates
from chairtime.waitlist.services import INVITES_PER_OFFER, MIN_NOTICE, OFFER_VALID, ROUND_TO

ENTRY_SHARE = 0.04  # of a branch's active patients on the list at some time
ENTRY_DAYS = 42  # entries were made over these last days
# Released appointments replayed: those cancelled before now for a time from now to this
# many days ahead. Not earlier ones: a claimed slot already past would be a completed visit
# with no procedure performed or paid (the money was simulated before this step).
FUTURE_DAYS = 21
EARLIER_AHEAD = timedelta(days=10)  # "earlier date" patients have a booking this far ahead
COMMON_CODES = ("EXAM", "SCALE")  # asked for by patients with nothing planned
CLICK_CHANCE = 0.2  # an invitee clicks the link in time
FILL_AGAIN = 0.6  # the front desk presses "Fill this gap" once the first invites lapsed
ROUNDS = 2
REMOVED_SHARE = 0.08  # entries taken off the list by staff (found a time by phone, moved)
DOCTOR_PREFERENCE = 0.3
PARTS = ((PartOfDay.ANY, 45), (PartOfDay.MORNING, 20), (PartOfDay.AFTERNOON, 20),
         (PartOfDay.EVENING, 15))  # fmt: skip
EARLIER_NOTE = "Has a booking on {day}; wants an earlier date."
MOVED_EARLIER = "Took an earlier slot from the waitlist"
BOOKED_NOTE = "Booked from the waitlist."


@dataclass
class WaitlistResult:
    entries: int = 0
    booked: int = 0  # entries booked by a claim
    removed: int = 0
    expired: int = 0
    active: int = 0  # still waiting at now
    gaps: int = 0  # released appointments replayed
    offers: int = 0
    invites: int = 0
    claimed: int = 0  # offers filled by a claim
    unavailable: int = 0  # clicks the book refused
    moved_earlier: int = 0  # later bookings cancelled after a claim
    seconds: float = 0.0


@dataclass
class _Entry:
    id: int
    patient_id: int
    procedure_id: int
    doctor_id: int | None
    waiting_since: datetime
    later_appointment_id: int | None = None  # the booking an "earlier date" patient has
    removed_at: datetime | None = None
    status: str = EntryStatus.ACTIVE
    closed_at: datetime | None = None
    appointment_id: int | None = None


@dataclass
class _Offer:
    id: int
    source: Appointment
    starts_at: datetime
    reason: str
    created_at: datetime
    status: str = OfferStatus.OPEN
    appointment_id: int | None = None
    closed_at: datetime | None = None
    invites: list[_Invite] = field(default_factory=list)


@dataclass
class _Invite:
    id: int
    candidate: Candidate
    rank: int
    token_hash: str
    expires_at: datetime
    created_at: datetime
    state: str = InviteState.INVITED
    answered_at: datetime | None = None


def simulate_waitlist(
    config: object, organization: Organization, branches: Sequence[Branch],
    rng: random.Random, now: datetime,
) -> WaitlistResult:  # fmt: skip
    """The waitlist of an organisation whose book, plans and profiles are made."""
    started = time.perf_counter()
    result = WaitlistResult()
    with transaction.atomic():
        for branch in branches:
            _Branch(branch, rng, now, result).run()
    result.seconds = time.perf_counter() - started
    return result


class _Branch:
    def __init__(
        self, branch: Branch, rng: random.Random, now: datetime, result: WaitlistResult
    ) -> None:
        self.branch, self.rng, self.now, self.result = branch, rng, now, result
        self.zone = branch.zone
        self.procedures = {
            p.pk: p for p in Procedure.objects.filter(organization_id=branch.organization_id)
        }
        self.doctors = _doctor_categories(branch)
        self.users = {u.pk: u for u in User.objects.filter(pk__in=list(self.doctors))}
        clerks = Membership.objects.filter(branch=branch, role=Role.RECEPTIONIST)
        self.clerks = sorted(clerks.values_list("user_id", flat=True))
        self.entries: list[_Entry] = []
        self.offers: list[_Offer] = []
        self.latest: dict[int, date | None] = {}  # entry -> its last day
        self.next_appointment = next_id(Appointment)
        self.next_offer, self.next_invite = next_id(SlotOffer), next_id(OfferInvite)

    def run(self) -> None:
        self._make_entries()
        self._write_entries()
        self._replay_releases()
        self._close_entries()
        self._write_offers()
        reset_sequences(Appointment, Appointment.equipment.through, WaitlistEntry, SlotOffer,
                        OfferInvite)  # fmt: skip

    # --- entries ---------------------------------------------------------------------------
    def _make_entries(self) -> None:
        """Who waits: plan items to book, earlier dates, check-ups; one entry a patient."""
        rng, now = self.rng, self.now
        patients = dict(
            Patient.objects.filter(home_branch=self.branch, status=PatientStatus.ACTIVE)
            .order_by("pk")
            .values_list("pk", "preferred_doctor_id")
        )
        waiting = set(
            WaitlistEntry.objects.filter(patient_id__in=list(patients), status=EntryStatus.ACTIVE)
            .values_list("patient_id", flat=True)
        )  # fmt: skip
        upcoming: dict[int, tuple[int, int, datetime]] = {}
        for pk, patient_id, procedure_id, starts_at in (
            Appointment.objects.filter(branch=self.branch, starts_at__gte=now)
            .exclude(status__in=RELEASED_STATUSES)
            .order_by("starts_at", "pk")
            .values_list("pk", "patient_id", "procedure_id", "starts_at")
        ):
            upcoming.setdefault(patient_id, (pk, procedure_id, starts_at))
        planned: dict[int, int] = {}
        for patient_id, procedure_id in (
            TreatmentItem.objects.filter(unscheduled_items())
            .filter(option__status=OptionStatus.ACCEPTED, option__plan__branch=self.branch)
            .order_by("option__plan__accepted_at", "pk")
            .values_list("option__plan__patient_id", "procedure_id")
        ):
            planned.setdefault(patient_id, procedure_id)
        free = [p for p in patients if p not in waiting]
        plan_pool = [p for p in free if p in planned and p not in upcoming]
        earlier_pool = [p for p in free if p in upcoming and upcoming[p][2] >= now + EARLIER_AHEAD]
        common_pool = [p for p in free if p not in upcoming and p not in planned]
        common = [pk for pk, p in self.procedures.items() if p.code in COMMON_CODES]
        target = round(len(patients) * ENTRY_SHARE)
        chosen: list[tuple[int, int, int | None]] = []  # patient, procedure, later booking
        for pool, share in ((plan_pool, 0.5), (earlier_pool, 0.25), (common_pool, 0.25)):
            picked = rng.sample(pool, min(len(pool), round(target * share)))
            for patient_id in sorted(picked):
                if pool is plan_pool:
                    chosen.append((patient_id, planned[patient_id], None))
                elif pool is earlier_pool:
                    booking, procedure_id, _starts = upcoming[patient_id]
                    chosen.append((patient_id, procedure_id, booking))
                elif common:
                    chosen.append((patient_id, rng.choice(common), None))
        first = next_id(WaitlistEntry)
        for patient_id, procedure_id, later in chosen:
            doctors = self._qualified(procedure_id)
            if not doctors:
                continue  # nobody here does it: the product refuses such an entry
            doctor = None
            if rng.random() < DOCTOR_PREFERENCE:
                preferred = patients[patient_id]
                doctor = preferred if preferred in doctors else rng.choice(doctors)
            since = now - timedelta(days=rng.uniform(0, ENTRY_DAYS))
            local = since.astimezone(self.zone)
            since = datetime.combine(local.date(), clock(rng.randint(8, 18), rng.randrange(0, 60, 5)),
                                     tzinfo=self.zone)  # fmt: skip
            if since >= now:
                since -= timedelta(days=1)
            entry = _Entry(first + len(self.entries), patient_id, procedure_id, doctor, since,
                           later_appointment_id=later)  # fmt: skip
            if rng.random() < REMOVED_SHARE:
                entry.removed_at = since + timedelta(days=rng.uniform(2, 20))
            self.entries.append(entry)

    def _qualified(self, procedure_id: int) -> list[int]:
        category = self.procedures[procedure_id].category
        return [pk for pk, categories in self.doctors.items() if category in categories]

    def _preferences(self, entry: _Entry) -> tuple[list[int], str, date | None, date | None]:
        rng = self.rng
        weekdays = [] if rng.random() < 0.55 else sorted(rng.sample(range(6), rng.randint(2, 5)))
        part = rng.choices([p for p, _w in PARTS], weights=[w for _p, w in PARTS])[0]
        day = entry.waiting_since.astimezone(self.zone).date()
        earliest = day + timedelta(days=rng.randint(3, 10)) if rng.random() < 0.1 else None
        latest = None
        if rng.random() < 0.4:
            latest = max(day + timedelta(days=rng.randint(14, 60)), earliest or day)
        return weekdays, str(part), earliest, latest

    def _write_entries(self) -> None:
        rows = []
        for entry in self.entries:
            weekdays, part, earliest, latest = self._preferences(entry)
            self.latest[entry.id] = latest
            note = ""
            if entry.later_appointment_id is not None:
                later = Appointment.objects.values_list("starts_at", flat=True).get(
                    pk=entry.later_appointment_id
                )
                note = EARLIER_NOTE.format(day=later.astimezone(self.zone).date().isoformat())
            clerk = self.rng.choice(self.clerks) if self.clerks else None
            rows.append((
                entry.id, self.branch.pk, entry.patient_id, entry.procedure_id, entry.doctor_id,
                weekdays, part, earliest, latest, note, entry.waiting_since, EntryStatus.ACTIVE,
                clerk, entry.waiting_since, entry.waiting_since,
            ))  # fmt: skip
        insert_rows(WaitlistEntry, ENTRY_COLUMNS, rows)
        self.result.entries += len(rows)

    # --- offers and claims -----------------------------------------------------------------
    def _replay_releases(self) -> None:
        now = self.now
        released = (
            Appointment.objects.filter(
                branch=self.branch,
                status__in=RELEASED_STATUSES,
                starts_at__gte=now,
                starts_at__lt=now + timedelta(days=FUTURE_DAYS),
            )
            .filter(Q(cancelled_at__lt=now) | Q(no_show_at__lt=now))
            .order_by("starts_at", "pk")
        )
        gaps = sorted(released, key=lambda a: (_released_at(a), a.starts_at, a.pk))
        for appointment in gaps:
            self.result.gaps += 1
            self._refill(appointment)

    def _refill(self, source: Appointment) -> None:
        """The automatic refill at the release, then perhaps one "Fill this gap"."""
        released_at = _released_at(source)
        offered_start = max(source.starts_at, _round_up(released_at + MIN_NOTICE))
        if offered_start >= source.ends_at:
            return
        gap = Gap(self.branch, source.chair_id, source.doctor_id, offered_start, source.ends_at,
                  assistant_id=source.assistant_id, source_patient_id=source.patient_id)  # fmt: skip
        reason = (
            ReleaseReason.NO_SHOW
            if source.status == AppointmentStatus.NO_SHOW
            else ReleaseReason.CANCELLED
        )
        offer: _Offer | None = None
        at = released_at
        for _round in range(ROUNDS):
            if at + MIN_NOTICE > offered_start or at >= self.now:
                return
            asked = [i.candidate.entry.pk for i in offer.invites] if offer else []
            found = rank_candidates(gap, exclude_entry_ids=asked + self._not_waiting(at))
            if not found:
                return
            if offer is None:
                offer = _Offer(self.next_offer, source, offered_start, reason, at)
                self.next_offer += 1
                self.offers.append(offer)
            invites = self._invite(offer, found[:INVITES_PER_OFFER], at)
            if self._claims(offer, invites):
                return
            lapsed = max(i.expires_at for i in invites)
            if lapsed >= self.now or self.rng.random() >= FILL_AGAIN:
                return
            at = lapsed + timedelta(minutes=self.rng.randint(5, 60))

    def _not_waiting(self, at: datetime) -> list[int]:
        """Entries not on the list at `at`: made later, removed, booked."""
        return [
            e.id
            for e in self.entries
            if e.waiting_since > at
            or (e.removed_at is not None and e.removed_at <= at)
            or e.status != EntryStatus.ACTIVE
        ]

    def _invite(self, offer: _Offer, candidates: list[Candidate], at: datetime) -> list[_Invite]:
        made = []
        for candidate in candidates:
            # Token hashes are unique everywhere: the same seed in another organisation
            # must make other tokens.
            bits = self.rng.getrandbits(192).to_bytes(24, "big").hex()
            token = f"{self.branch.organization_id}:{bits}"
            invite = _Invite(
                self.next_invite, candidate, len(offer.invites) + 1,
                hashlib.sha256(token.encode()).hexdigest(),
                min(at + OFFER_VALID, offer.starts_at), at,
            )  # fmt: skip
            self.next_invite += 1
            offer.invites.append(invite)
            made.append(invite)
        return made

    def _claims(self, offer: _Offer, invites: list[_Invite]) -> bool:
        """Who clicks and when; the first click the book accepts wins. True when filled."""
        clicks = []
        for invite in invites:
            if self.rng.random() < CLICK_CHANCE:
                span = (invite.expires_at - invite.created_at).total_seconds()
                moment = invite.created_at + timedelta(seconds=self.rng.uniform(60, max(span, 61)))
                clicks.append((min(moment, invite.expires_at - timedelta(seconds=1)), invite))
        for moment, invite in sorted(clicks, key=lambda c: (c[0], c[1].rank)):
            if moment >= self.now:
                break  # not clicked yet: the invite is still live
            if self._book(offer, invite, moment):
                return True
            invite.state, invite.answered_at = InviteState.UNAVAILABLE, moment
            self.result.unavailable += 1
        return False

    def _book(self, offer: _Offer, winner: _Invite, moment: datetime) -> bool:
        """Book the winner in the slot if the appointment book's checks allow it."""
        source, candidate = offer.source, winner.candidate
        procedure = self.procedures[candidate.entry.procedure_id]
        doctor, patient_id = self.users[source.doctor_id], candidate.entry.patient_id
        assistant_id = source.assistant_id if procedure.needs_assistant else None
        starts_at = offer.starts_at
        ends_at = starts_at + duration_for(doctor, procedure)
        blocked_until = ends_at + buffer_for(procedure)
        try:
            equipment = [e.pk for e in equipment_for(self.branch, procedure)]
        except InvalidInput:  # the branch lacks what it needs
            return False
        keys = {doctor_key(doctor.pk), chair_key(source.chair_id), patient_key(patient_id)}
        keys |= {equipment_key(pk) for pk in equipment}
        if assistant_id is not None:
            keys.add(assistant_key(assistant_id))
        proposal = Proposal(Interval(starts_at, ends_at), blocked_until, frozenset(keys))
        scope = ScheduleScope(doctors=[doctor.pk], assistants=[assistant_id] if assistant_id else [],
                              chairs=[source.chair_id], patients=[patient_id])  # fmt: skip
        schedule = load_schedule(self.branch, window_around(starts_at, blocked_until), scope)
        horizon = moment + timedelta(days=self.branch.booking_horizon_days)
        if check_proposal(schedule, proposal, now=moment, horizon_end=horizon):
            return False
        pk = self.next_appointment
        self.next_appointment += 1
        # Booked, not confirmed: the claim chose the time; the reminders ask, as for any booking.
        insert_rows(Appointment, APPOINTMENT_COLUMNS, [(
            pk, self.branch.pk, patient_id, procedure.pk, doctor.pk, assistant_id,
            source.chair_id, starts_at, ends_at, blocked_until, AppointmentStatus.BOOKED, False,
            False, None, None, None, None, None, None, None, "", "", False, 0, BOOKED_NOTE,
            moment, moment,
        )])  # fmt: skip
        insert_rows(Appointment.equipment.through, ("appointment", "equipment"),
                    [(pk, e) for e in equipment])  # fmt: skip
        self._fill(offer, winner, pk, moment)
        return True

    def _fill(self, offer: _Offer, winner: _Invite, appointment_id: int, moment: datetime) -> None:
        offer.status, offer.appointment_id, offer.closed_at = (
            OfferStatus.FILLED,
            appointment_id,
            moment,
        )
        winner.state, winner.answered_at = InviteState.CLAIMED, moment
        for other in offer.invites:
            if other.state == InviteState.INVITED:
                other.state = InviteState.TAKEN
        entry = next(e for e in self.entries if e.id == winner.candidate.entry.pk)
        entry.status, entry.closed_at, entry.appointment_id = (
            EntryStatus.BOOKED,
            moment,
            appointment_id,
        )
        WaitlistEntry.objects.filter(pk=entry.id).update(
            status=EntryStatus.BOOKED, appointment_id=appointment_id, closed_at=moment,
            updated_at=moment,
        )  # fmt: skip
        if entry.later_appointment_id is not None:
            # Same procedure, earlier: plan items booked on the later visit move with it.
            TreatmentItem.objects.filter(appointment_id=entry.later_appointment_id).update(
                appointment_id=appointment_id, updated_at=moment
            )
            Appointment.objects.filter(pk=entry.later_appointment_id).update(
                status=AppointmentStatus.CANCELLED, cancelled_at=moment,
                cancelled_by=CancelledBy.PATIENT, cancel_reason=MOVED_EARLIER, updated_at=moment,
            )  # fmt: skip
            self.result.moved_earlier += 1
        self.result.claimed += 1
        self.result.booked += 1

    # --- the end state ---------------------------------------------------------------------
    def _close_entries(self) -> None:
        """Removals by staff, then the daily expiry, for entries still waiting at now."""
        today = self.now.astimezone(self.zone).date()
        by_status: dict[tuple[str, datetime], list[int]] = defaultdict(list)
        for entry in self.entries:
            if entry.status != EntryStatus.ACTIVE:
                continue
            latest = self.latest[entry.id]
            expiry = None
            if latest is not None and latest < today:
                expiry = datetime.combine(latest + timedelta(days=1), clock(0), tzinfo=self.zone)
            if (
                entry.removed_at is not None
                and entry.removed_at < self.now
                and (expiry is None or entry.removed_at < expiry)
            ):
                entry.status, entry.closed_at = EntryStatus.REMOVED, entry.removed_at
                self.result.removed += 1
            elif expiry is not None:
                entry.status, entry.closed_at = EntryStatus.EXPIRED, expiry
                self.result.expired += 1
            else:
                self.result.active += 1
                continue
            assert entry.closed_at is not None
            by_status[(entry.status, entry.closed_at)].append(entry.id)
        for (status, at), ids in sorted(by_status.items()):
            WaitlistEntry.objects.filter(pk__in=ids).update(
                status=status, closed_at=at, updated_at=at
            )

    def _write_offers(self) -> None:
        offers, invites = [], []
        for offer in self.offers:
            source = offer.source
            last = max(
                [offer.closed_at or offer.created_at] + [i.created_at for i in offer.invites]
            )
            offers.append((
                offer.id, self.branch.pk, source.chair_id, source.doctor_id, source.assistant_id,
                offer.starts_at, source.ends_at, source.pk, source.starts_at, offer.reason,
                offer.status, offer.appointment_id, offer.closed_at, None, offer.created_at, last,
            ))  # fmt: skip
            for invite in offer.invites:
                c = invite.candidate
                invites.append((
                    invite.id, offer.id, c.entry.pk, c.entry.patient_id, c.entry.procedure_id,
                    invite.rank, c.tier, invite.token_hash, invite.expires_at, invite.state,
                    c.channel, None, invite.answered_at, invite.created_at,
                    offer.closed_at or invite.answered_at or invite.created_at,
                ))  # fmt: skip
        insert_rows(SlotOffer, OFFER_COLUMNS, offers)
        insert_rows(OfferInvite, INVITE_COLUMNS, invites)
        self.result.offers += len(offers)
        self.result.invites += len(invites)


ENTRY_COLUMNS = (
    "id", "branch", "patient", "procedure", "doctor", "weekdays", "part_of_day", "earliest_on",
    "latest_on", "note", "waiting_since", "status", "created_by", "created_at", "updated_at",
)  # fmt: skip
OFFER_COLUMNS = (
    "id", "branch", "chair", "doctor", "assistant", "starts_at", "ends_at",
    "source_appointment", "freed_starts_at", "reason", "status", "appointment", "closed_at",
    "created_by", "created_at", "updated_at",
)  # fmt: skip
INVITE_COLUMNS = (
    "id", "offer", "entry", "patient", "procedure", "rank", "tier", "token_hash", "expires_at",
    "state", "channel", "message", "answered_at", "created_at", "updated_at",
)  # fmt: skip


def _released_at(appointment: Appointment) -> datetime:
    moment = appointment.cancelled_at or appointment.no_show_at
    assert moment is not None, appointment.pk
    return moment


def _round_up(moment: datetime) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=moment.tzinfo)
    steps = -(-(moment - epoch) // ROUND_TO)
    return epoch + steps * ROUND_TO


def _doctor_categories(branch: Branch) -> dict[int, set[str]]:
    """The branch's active doctors (or organisation-wide ones) and what they do."""
    doctors = (
        Membership.objects.filter(organization_id=branch.organization_id, role=Role.DOCTOR)
        .filter(Q(branch=branch) | Q(branch__isnull=True))
        .filter(user__is_active=True)
        .values_list("user_id", flat=True)
    )
    return {
        pk: set(categories or [])
        for pk, categories in StaffProfile.objects.filter(user_id__in=list(doctors))
        .order_by("user_id")
        .values_list("user_id", "procedure_categories")
    }
