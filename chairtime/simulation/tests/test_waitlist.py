"""The simulator's waitlist step: entries of patients with treatment to book or wanting an
earlier date, the freed slots of the last two weeks offered in the product's ranking, about
two in five claimed by the first click, every claim booked in its slot without overlaps."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from typing import Any

import pytest
from django.db import transaction

from chairtime.scheduling.choices import RELEASED_STATUSES, AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.simulation.bulk import next_id
from chairtime.simulation.care import simulated_now
from chairtime.simulation.generator import SimulationConfig, SimulationResult
from chairtime.simulation.tests.conftest import simulated_once
from chairtime.simulation.waitlist import MOVED_EARLIER, WaitlistResult, simulate_waitlist
from chairtime.waitlist.choices import EntryStatus, InviteState, OfferStatus, Tier
from chairtime.waitlist.models import OfferInvite, SlotOffer, WaitlistEntry
from chairtime.waitlist.selectors import prefers

pytestmark = pytest.mark.django_db

WAITLIST = SimulationConfig(
    seed=11, slug="wait", organization_name="Wait Dental", countries=("VN", "ES"), branches=2,
    patients=2_400, min_chairs=4, max_chairs=5, batch_size=600, as_of=date(2026, 11, 1),
    history_days=90, future_days=28, front_desk=False,  # the tests run the step themselves
)  # fmt: skip

made = simulated_once(WAITLIST)


def _signature() -> tuple[Any, ...]:
    """What the run made, by natural keys (ids differ between runs on PostgreSQL)."""
    entries = sorted(
        WaitlistEntry.objects.values_list(
            "patient_id", "procedure_id", "doctor_id", "waiting_since", "status", "closed_at",
            "latest_on", "part_of_day",
        )
    )  # fmt: skip
    invites = sorted(
        OfferInvite.objects.values_list(
            "offer__source_appointment_id", "rank", "patient_id", "tier", "state", "answered_at",
            "expires_at", "token_hash",
        )
    )  # fmt: skip
    booked = sorted(
        Appointment.objects.filter(notes="Booked from the waitlist.").values_list(
            "patient_id", "chair_id", "starts_at", "status"
        )
    )
    return entries, invites, booked


@pytest.fixture(scope="module")
def simulated(
    made: SimulationResult, django_db_blocker: Any
) -> Iterator[tuple[SimulationResult, WaitlistResult, int, bool]]:
    """The step run twice from the same state with the same seed (the first undone), so
    the tests see the second run and whether both made the same."""
    now = simulated_now(WAITLIST, made.branches[0])
    with django_db_blocker.unblock():
        first_entry = next_id(WaitlistEntry)  # the rows of this step (not of simulate())
        savepoint = transaction.savepoint()
        simulate_waitlist(WAITLIST, made.organization, made.branches, random.Random(11), now)
        before = _signature()
        transaction.savepoint_rollback(savepoint)
        result = simulate_waitlist(
            WAITLIST, made.organization, made.branches, random.Random(11), now
        )
        yield made, result, first_entry, _signature() == before


def test_the_same_seed_makes_the_same_waitlist(simulated):
    _made, result, _first, same = simulated

    assert same
    assert result.seconds > 0


def test_a_few_percent_wait_and_their_states_add_up(simulated):
    _made, result, first, _same = simulated
    entries = WaitlistEntry.objects.filter(pk__gte=first)
    counts = {s: entries.filter(status=s).count() for s in EntryStatus.values}

    assert 0.02 * WAITLIST.patients <= result.entries == entries.count() <= 0.05 * WAITLIST.patients
    assert counts == {
        EntryStatus.ACTIVE: result.active, EntryStatus.BOOKED: result.booked,
        EntryStatus.REMOVED: result.removed, EntryStatus.EXPIRED: result.expired,
    }  # fmt: skip
    assert min(result.active, result.booked, result.removed, result.expired) > 0
    assert entries.filter(doctor__isnull=False).exists() and entries.filter(doctor=None).exists()
    assert entries.exclude(weekdays=[]).exists() and entries.exclude(part_of_day="any").exists()
    for entry in entries.exclude(status=EntryStatus.ACTIVE):
        assert entry.closed_at is not None and entry.closed_at >= entry.waiting_since
    assert not entries.filter(status=EntryStatus.BOOKED, appointment=None).exists()


def test_about_two_in_five_offers_are_claimed_each_by_one_invitee(simulated):
    _made, result, _first, _same = simulated
    offers = SlotOffer.objects.all()

    assert result.offers == offers.count() > 10
    assert result.invites == OfferInvite.objects.count()
    assert 0.25 <= result.claimed / result.offers <= 0.6
    assert result.claimed == offers.filter(status=OfferStatus.FILLED).count()
    for offer in offers.prefetch_related("invites"):
        claimed = [i for i in offer.invites.all() if i.state == InviteState.CLAIMED]
        assert len(claimed) <= 1
        assert [i.rank for i in offer.invites.all()] == list(range(1, offer.invites.count() + 1))
        if offer.status == OfferStatus.FILLED:
            assert len(claimed) == 1 and offer.appointment is not None
            assert not [i for i in offer.invites.all() if i.state == InviteState.INVITED]
        else:
            assert claimed == [] and offer.appointment is None
        assert offer.source_appointment.status in RELEASED_STATUSES
        assert offer.freed_starts_at == offer.source_appointment.starts_at
        assert offer.source_appointment.starts_at <= offer.starts_at < offer.ends_at


def test_each_claim_booked_its_invitee_in_the_offered_slot(simulated):
    made, _result, _first, _same = simulated
    now = simulated_now(WAITLIST, made.branches[0])
    claims = OfferInvite.objects.filter(state=InviteState.CLAIMED).select_related(
        "offer__appointment", "entry"
    )

    assert claims.exists()
    for invite in claims:
        offer, booked = invite.offer, invite.offer.appointment
        assert (booked.patient_id, booked.procedure_id) == (invite.patient_id, invite.procedure_id)
        assert (booked.chair_id, booked.doctor_id, booked.starts_at) == (
            offer.chair_id, offer.doctor_id, offer.starts_at,
        )  # fmt: skip
        assert booked.ends_at <= offer.ends_at
        assert invite.created_at <= invite.answered_at < invite.expires_at <= offer.starts_at
        assert invite.answered_at < now
        assert invite.entry.status == EntryStatus.BOOKED
        assert invite.entry.appointment_id == booked.pk
        expected = (
            AppointmentStatus.COMPLETED if booked.starts_at < now else AppointmentStatus.BOOKED
        )
        assert booked.status == expected
        assert prefers(invite.entry, offer.starts_at.astimezone(offer.branch.zone))


def test_invitees_are_ranked_vips_first_then_potential_then_others(simulated):
    _made, _result, _first, _same = simulated
    rounds: dict[tuple[int, object], list[tuple[int, int]]] = defaultdict(list)
    for offer_id, created_at, rank, tier in OfferInvite.objects.values_list(
        "offer_id", "created_at", "rank", "tier"
    ):
        rounds[(offer_id, created_at)].append((rank, tier))
    tiers = [tier for invites in rounds.values() for _rank, tier in invites]

    assert {Tier.ROCK, Tier.SAND} <= set(tiers)
    for invites in rounds.values():
        in_order = [tier for _rank, tier in sorted(invites)]
        assert in_order == sorted(in_order)


def test_nothing_overlaps_in_the_book_and_earlier_bookings_were_given_up(simulated):
    made, result, _first, _same = simulated
    active = Appointment.objects.filter(branch__in=made.branches).exclude(
        status__in=RELEASED_STATUSES
    )
    for field in ("chair_id", "doctor_id", "patient_id"):
        by_holder: dict[int, list[tuple[Any, Any]]] = defaultdict(list)
        end = "ends_at" if field == "patient_id" else "blocked_until"
        for holder, start, until in active.values_list(field, "starts_at", end):
            by_holder[holder].append((start, until))
        for intervals in by_holder.values():
            intervals.sort()
            assert all(a[1] <= b[0] for a, b in pairwise(intervals)), field

    moved = Appointment.objects.filter(cancel_reason=MOVED_EARLIER)
    assert result.moved_earlier == moved.count() > 0
    for later in moved:
        entry = WaitlistEntry.objects.get(patient_id=later.patient_id, status=EntryStatus.BOOKED)
        assert entry.appointment is not None and entry.appointment.starts_at < later.starts_at
