"""Claim links: the first valid claim books the slot, the others are told it is gone; a
link used twice, an expired one, and a slot booked by hand meanwhile get clear answers
and nothing is double-booked."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection

from chairtime.core.errors import NotFound
from chairtime.messaging.models import Message
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.roles import Role
from chairtime.waitlist.choices import EntryStatus, InviteState, OfferStatus
from chairtime.waitlist.models import OfferInvite
from chairtime.waitlist.services import claim_slot, open_claim
from chairtime.waitlist.tests.helpers import NOW, SLOT, make_clinic
from tests.factories import AppointmentFactory, ProcedureFactory, make_doctor


def token_of(invite: OfferInvite) -> str:
    return invite.message.body.rsplit("/w/", 1)[1]


def offered(world, persona, count=3):
    """A cancelled appointment's slot offered to `count` waiting patients: their tokens."""
    clinic = make_clinic(world.branch_a)
    clerk = persona(Role.RECEPTIONIST)
    for n in range(count):
        clinic.wait(clinic.patient(), actor=clerk, days_ago=count - n)
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")
    clinic.booked.refresh_from_db()
    from chairtime.waitlist.services import refill_slot

    refill = refill_slot(actor=None, appointment_id=clinic.booked.pk, reason="cancelled",
                         chair_id=clinic.chair.pk, doctor_id=clinic.doctor.pk, starts_at=SLOT,
                         ends_at=SLOT + timedelta(minutes=30), now=NOW, size=count)  # fmt: skip
    return clinic, [token_of(i) for i in refill.invited], refill.offer


@pytest.mark.django_db
def test_the_first_claim_books_the_slot_and_the_others_are_told_it_is_taken(world, persona):
    clinic, tokens, offer = offered(world, persona)

    first = claim_slot(token=tokens[1], now=NOW)
    second = claim_slot(token=tokens[0], now=NOW)
    again = claim_slot(token=tokens[1], now=NOW)

    booked = Appointment.objects.exclude(status="cancelled").get()
    assert (first.state, second.state, again.state) == ("yours", "taken", "yours")
    assert (booked.patient_id, booked.starts_at, booked.chair_id, booked.doctor_id,
            booked.booked_by) == (first.invite.patient_id, SLOT, clinic.chair.pk,
                                  clinic.doctor.pk, None)  # fmt: skip
    offer.refresh_from_db()
    assert (offer.status, offer.appointment_id) == (OfferStatus.FILLED, booked.pk)
    states = dict(OfferInvite.objects.values_list("pk", "state"))
    assert sorted(states.values()) == [InviteState.CLAIMED, InviteState.TAKEN, InviteState.TAKEN]
    first.invite.entry.refresh_from_db()
    assert (first.invite.entry.status, first.invite.entry.appointment_id) == (
        EntryStatus.BOOKED, booked.pk,
    )  # fmt: skip
    taken = Message.objects.filter(idempotency_key__startswith="waitlist:taken:")
    assert sorted(taken.values_list("patient_id", flat=True)) == sorted(
        i.patient_id for i in OfferInvite.objects.filter(state=InviteState.TAKEN)
    )
    assert [open_claim(t, now=NOW).state for t in tokens] == ["taken", "yours", "taken"]


@pytest.mark.django_db
def test_an_expired_link_books_nothing(world, persona):
    _clinic, tokens, _offer = offered(world, persona, count=1)

    claim = claim_slot(token=tokens[0], now=NOW + timedelta(hours=2))

    assert claim.state == "expired"
    assert Appointment.objects.exclude(status="cancelled").count() == 0


@pytest.mark.django_db
def test_a_slot_booked_by_hand_meanwhile_is_gone_and_never_double_booked(world, persona):
    clinic, tokens, offer = offered(world, persona, count=2)
    AppointmentFactory(branch=world.branch_a, chair=clinic.chair, doctor=make_doctor(world.branch_a),
                       starts_at=SLOT)  # fmt: skip

    seen = open_claim(tokens[0], now=NOW)
    claim = claim_slot(token=tokens[0], now=NOW)

    assert (seen.state, claim.state) == ("gone", "gone")
    offer.refresh_from_db()
    assert offer.status == OfferStatus.GONE
    assert Appointment.objects.exclude(status="cancelled").count() == 1
    assert Message.objects.filter(idempotency_key__startswith="waitlist:taken:").count() == 2
    assert open_claim(tokens[1], now=NOW).state == "gone"


@pytest.mark.django_db
def test_a_patient_busy_at_that_time_cannot_take_it_and_the_offer_stays_open(world, persona):
    _clinic, tokens, offer = offered(world, persona, count=2)
    invite = OfferInvite.objects.get(rank=1)
    AppointmentFactory(branch=world.branch_a, patient=invite.patient,
                       doctor=make_doctor(world.branch_a), starts_at=SLOT)  # fmt: skip

    claim = claim_slot(token=tokens[0], now=NOW)
    other = claim_slot(token=tokens[1], now=NOW)

    assert (claim.state, other.state) == ("unavailable", "yours")
    offer.refresh_from_db()
    assert offer.status == OfferStatus.FILLED


@pytest.mark.django_db
def test_an_unknown_or_malformed_link_is_not_found(world, persona):
    offered(world, persona, count=1)

    for token in ("x" * 32, "short", ""):
        with pytest.raises(NotFound):
            claim_slot(token=token, now=NOW)
        with pytest.raises(NotFound):
            open_claim(token, now=NOW)


# --- many at once ------------------------------------------------------------------------
CLAIMERS = 8


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_many_invitees_claiming_at_once_give_exactly_one_appointment(world, persona):
    clinic, tokens, offer = offered(world, persona, count=CLAIMERS)
    assert len(tokens) == CLAIMERS
    barrier = threading.Barrier(CLAIMERS)
    lock = threading.Lock()
    results: list[str] = []
    failures: list[Exception] = []

    def claimer(token: str) -> None:
        try:
            barrier.wait(timeout=30)
            state = claim_slot(token=token, now=NOW).state
            with lock:
                results.append(state)
        except Exception as failure:  # anything else is a failure the test reports
            with lock:
                failures.append(failure)
        finally:
            connection.close()  # the thread's own connection

    threads = [threading.Thread(target=claimer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert sorted(results) == ["taken"] * (CLAIMERS - 1) + ["yours"]
    winner = OfferInvite.objects.get(state=InviteState.CLAIMED)
    booked = Appointment.objects.exclude(status="cancelled").get()
    assert (booked.patient_id, booked.starts_at, booked.chair_id) == (
        winner.patient_id, SLOT, clinic.chair.pk,
    )  # fmt: skip
    offer.refresh_from_db()
    assert (offer.status, offer.appointment_id) == (OfferStatus.FILLED, booked.pk)
    assert OfferInvite.objects.filter(state=InviteState.TAKEN).count() == CLAIMERS - 1
    assert Message.objects.filter(idempotency_key__startswith="waitlist:taken:").count() == (
        CLAIMERS - 1
    )
    assert [open_claim(t, now=NOW).state for t in tokens].count("yours") == 1


# --- one entry invited to several offers --------------------------------------------------
LATER = SLOT + timedelta(hours=2)


def offered_twice(world, persona):
    """One waiting patient invited to two freed slots (10:00 and 12:00 on the same chair),
    and a second patient who waited less: (clinic, entry, [token at 10:00, token at 12:00],
    [offer at 10:00, offer at 12:00], the second patient's entry)."""
    from chairtime.waitlist.services import refill_slot

    clinic = make_clinic(world.branch_a)
    clerk = persona(Role.RECEPTIONIST)
    entry = clinic.wait(clinic.patient(), actor=clerk, days_ago=5)
    second = AppointmentFactory(branch=world.branch_a, chair=clinic.chair, doctor=clinic.doctor,
                                procedure=clinic.filling, starts_at=LATER)  # fmt: skip
    Appointment.objects.filter(pk__in=[clinic.booked.pk, second.pk]).update(status="cancelled")
    tokens, offers = [], []
    for source, start in ((clinic.booked, SLOT), (second, LATER)):
        refill = refill_slot(actor=None, appointment_id=source.pk, reason="cancelled",
                             chair_id=clinic.chair.pk, doctor_id=clinic.doctor.pk,
                             starts_at=start, ends_at=start + timedelta(minutes=30), now=NOW,
                             size=1)  # fmt: skip
        tokens.append(token_of(refill.invited[0]))
        offers.append(refill.offer)
    later_entry = clinic.wait(clinic.patient(), actor=clerk, days_ago=1)
    return clinic, entry, tokens, offers, later_entry


@pytest.mark.django_db
def test_an_entry_booked_through_one_offer_is_closed_in_the_others_which_ask_someone_else(
    world, persona
):
    from chairtime.waitlist.services import refill_slot

    clinic, entry, tokens, offers, later_entry = offered_twice(world, persona)

    first = claim_slot(token=tokens[0], now=NOW)
    refill = refill_slot(actor=None, appointment_id=offers[1].source_appointment_id,
                         reason="cancelled", chair_id=clinic.chair.pk, doctor_id=clinic.doctor.pk,
                         starts_at=LATER, ends_at=LATER + timedelta(minutes=30), now=NOW,
                         size=1)  # fmt: skip
    second = claim_slot(token=tokens[1], now=NOW)

    assert (first.state, second.state, refill.outcome) == ("yours", "closed", "invited")
    booked = Appointment.objects.exclude(status="cancelled").get()
    assert (booked.patient_id, booked.starts_at) == (entry.patient_id, SLOT)
    assert dict(OfferInvite.objects.values_list("offer_id", "entry_id").filter(
        state=InviteState.INVITED)) == {offers[1].pk: later_entry.pk}  # fmt: skip
    assert OfferInvite.objects.get(offer=offers[1], entry=entry).state == InviteState.CLOSED
    offers[1].refresh_from_db()
    assert offers[1].status == OfferStatus.OPEN
    assert open_claim(tokens[1], now=NOW).state == "closed"


@pytest.mark.django_db
def test_a_claim_after_the_entry_was_removed_books_nothing_and_frees_the_place(world, persona):
    from chairtime.waitlist.services import remove_entry

    _clinic, entry, tokens, offers, _later = offered_twice(world, persona)
    remove_entry(actor=persona(Role.RECEPTIONIST), entry=entry, now=NOW)

    claim = claim_slot(token=tokens[0], now=NOW)

    assert claim.state == "closed"
    assert Appointment.objects.exclude(status="cancelled").count() == 0
    assert OfferInvite.objects.get(offer=offers[0]).state == InviteState.CLOSED


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_one_entry_claiming_two_offers_at_once_is_booked_once(world, persona):
    _clinic, entry, tokens, _offers, _later = offered_twice(world, persona)
    barrier = threading.Barrier(2)
    lock = threading.Lock()
    results: list[str] = []
    failures: list[Exception] = []

    def claimer(token: str) -> None:
        try:
            barrier.wait(timeout=30)
            state = claim_slot(token=token, now=NOW).state
            with lock:
                results.append(state)
        except Exception as failure:  # anything else is a failure the test reports
            with lock:
                failures.append(failure)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert sorted(results) == ["closed", "yours"]
    booked = Appointment.objects.exclude(status="cancelled").get()
    entry.refresh_from_db()
    assert (entry.status, entry.appointment_id) == (EntryStatus.BOOKED, booked.pk)
    assert sorted(OfferInvite.objects.filter(entry=entry).values_list("state", flat=True)) == [
        InviteState.CLAIMED, InviteState.CLOSED,
    ]  # fmt: skip


# --- a failed claim closes only what is really gone ----------------------------------------
@pytest.mark.django_db
def test_a_claim_whose_procedure_no_longer_fits_leaves_the_offer_open_for_a_shorter_one(
    world, persona
):
    from chairtime.waitlist.services import refill_slot

    clinic = make_clinic(world.branch_a)
    clerk = persona(Role.RECEPTIONIST)
    check_up = ProcedureFactory(organization=world.acme, code="CHK", name="Check-up",
                                category="hygiene", default_duration_minutes=15)  # fmt: skip
    filling_entry = clinic.wait(clinic.patient(), actor=clerk, days_ago=3)
    check_up_entry = clinic.wait(clinic.patient(), actor=clerk, days_ago=2, procedure=check_up)
    Appointment.objects.filter(pk=clinic.booked.pk).update(status="cancelled")
    refill = refill_slot(actor=None, appointment_id=clinic.booked.pk, reason="cancelled",
                         chair_id=clinic.chair.pk, doctor_id=clinic.doctor.pk, starts_at=SLOT,
                         ends_at=SLOT + timedelta(minutes=30), now=NOW)  # fmt: skip
    tokens = {i.entry_id: token_of(i) for i in refill.invited}
    # Booked by hand meanwhile from 10:25: the start is free, a filling no longer fits.
    AppointmentFactory(branch=world.branch_a, chair=clinic.chair,
                       doctor=make_doctor(world.branch_a), starts_at=SLOT + timedelta(minutes=25))  # fmt: skip

    filling = claim_slot(token=tokens[filling_entry.pk], now=NOW)
    check = claim_slot(token=tokens[check_up_entry.pk], now=NOW)

    assert (filling.state, check.state) == ("unavailable", "yours")
    refill.offer.refresh_from_db()
    assert refill.offer.status == OfferStatus.FILLED
    booked = Appointment.objects.exclude(status="cancelled").get(patient=check_up_entry.patient)
    assert (booked.starts_at, booked.procedure_id) == (SLOT, check_up.pk)
    assert dict(OfferInvite.objects.values_list("entry_id", "state")) == {
        filling_entry.pk: InviteState.UNAVAILABLE, check_up_entry.pk: InviteState.CLAIMED,
    }  # fmt: skip
