"""When a slot frees, the waiting patients whose need fits it are ranked rocks, pebbles,
sand (VIP, potential, others; then who waited longest) and the first three get an offer
with a claim link through the outbox."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from chairtime.messaging.models import Message
from chairtime.patients.models import Consent
from chairtime.scheduling.services import cancel_appointment, mark_no_show, reschedule_appointment
from chairtime.scheduling.signals import appointment_released
from chairtime.tenancy.roles import Role
from chairtime.waitlist import receivers
from chairtime.waitlist.choices import InviteState, OfferStatus, Tier
from chairtime.waitlist.models import OfferInvite, SlotOffer
from chairtime.waitlist.services import refill_appointment, refill_slot
from chairtime.waitlist.tasks import refill_slot_task
from chairtime.waitlist.tests.helpers import LOW, NOW, POTENTIAL, SLOT, VIP, make_clinic
from tests.factories import AppointmentFactory, ProcedureFactory, make_doctor

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic(world):
    return make_clinic(world.branch_a)


@pytest.fixture
def clerk(persona):
    return persona(Role.RECEPTIONIST)


@pytest.fixture(autouse=True)
def _profiles_as_given(monkeypatch):
    """Keep the groups the tests give: the CRM would recompute profiles on commit."""
    monkeypatch.setattr("chairtime.crm.profiles.compute.refresh_profiles", lambda ids: None)


def cancel(clinic, clerk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        cancel_appointment(actor=clerk, appointment=clinic.booked, cancelled_by="patient",
                           reason="Travelling", now=NOW)  # fmt: skip


def test_cancellation_offers_the_slot_to_vips_then_potential_then_longest_waiting(
    clinic, clerk, django_capture_on_commit_callbacks
):
    sand = clinic.wait(clinic.patient(group=LOW), actor=clerk, days_ago=30)
    potential = clinic.wait(clinic.patient(group=POTENTIAL), actor=clerk, days_ago=5)
    longer_potential = clinic.wait(clinic.patient(group=POTENTIAL), actor=clerk, days_ago=7)
    vip = clinic.wait(clinic.patient(group=VIP), actor=clerk, days_ago=1)

    cancel(clinic, clerk, django_capture_on_commit_callbacks)

    offer = SlotOffer.objects.get()
    assert (offer.source_appointment_id, offer.reason, offer.status, offer.starts_at,
            offer.ends_at) == (clinic.booked.pk, "cancelled", OfferStatus.OPEN, SLOT,
                               SLOT + timedelta(minutes=30))  # fmt: skip
    invites = list(offer.invites.order_by("rank"))
    assert [(i.entry_id, i.rank, i.tier, i.state) for i in invites] == [
        (vip.pk, 1, Tier.ROCK, InviteState.INVITED),
        (longer_potential.pk, 2, Tier.PEBBLE, InviteState.INVITED),
        (potential.pk, 3, Tier.PEBBLE, InviteState.INVITED),
    ]
    assert sand.pk not in {i.entry_id for i in invites}
    messages = Message.objects.order_by("pk")
    assert [(m.patient_id, m.idempotency_key, m.purpose, m.channel) for m in messages] == [
        (i.patient_id, f"waitlist:offer:{i.pk}", "service", "sms") for i in invites
    ]
    assert all("/w/" in m.body and m.body.startswith("Chào") for m in messages)
    assert [i.message_id for i in invites] == [m.pk for m in messages]


def test_the_vip_tag_counts_as_a_vip(clinic, clerk, world):
    tagged = clinic.patient(group=LOW)
    tagged.tags.create(organization=world.acme, name="VIP")
    clinic.wait(clinic.patient(group=POTENTIAL), actor=clerk, days_ago=9)
    entry = clinic.wait(tagged, actor=clerk, days_ago=1)
    clinic.booked.status = "cancelled"
    clinic.booked.save()

    refill = refill_appointment(actor=clerk, appointment=clinic.booked, now=NOW)

    assert (refill.outcome, refill.invited[0].entry_id, refill.invited[0].tier) == (
        "invited", entry.pk, Tier.ROCK,
    )  # fmt: skip


def test_only_patients_whose_need_fits_the_gap_are_offered_it(clinic, clerk, world):
    other_doctor = make_doctor(world.branch_a)
    long_procedure = ProcedureFactory(organization=world.acme, code="LONG",
                                      default_duration_minutes=60)  # fmt: skip
    unfit = [
        clinic.wait(clinic.patient(), actor=clerk, doctor=other_doctor),  # another doctor
        clinic.wait(clinic.patient(), actor=clerk, weekdays=[0, 2]),  # not on Tuesdays
        clinic.wait(clinic.patient(), actor=clerk, part_of_day="evening"),
        clinic.wait(clinic.patient(), actor=clerk, earliest_on=date(2030, 1, 9)),
        clinic.wait(clinic.patient(), actor=clerk, latest_on=date(2030, 1, 7)),
        clinic.wait(clinic.patient(), actor=clerk, procedure=long_procedure),  # too long
    ]
    busy = clinic.patient()
    AppointmentFactory(branch=world.branch_a, patient=busy, doctor=other_doctor,
                       starts_at=SLOT + timedelta(minutes=15))  # fmt: skip
    unfit.append(clinic.wait(busy, actor=clerk))
    refused = clinic.patient()
    Consent.objects.create(patient=refused, channel="sms", purpose="service", is_granted=False,
                           origin="verbal", recorded_at=NOW)  # fmt: skip
    unfit.append(clinic.wait(refused, actor=clerk))
    fits = clinic.wait(clinic.patient(), actor=clerk, weekdays=[1], part_of_day="morning",
                       earliest_on=date(2030, 1, 8), latest_on=date(2030, 1, 8),
                       doctor=clinic.doctor)  # fmt: skip
    clinic.booked.status = "cancelled"
    clinic.booked.save()

    refill = refill_appointment(actor=clerk, appointment=clinic.booked, now=NOW)

    assert [i.entry_id for i in refill.invited] == [fits.pk]
    assert len(unfit) == 8


def test_nobody_fitting_makes_no_offer(clinic, clerk):
    clinic.booked.status = "cancelled"
    clinic.booked.save()

    refill = refill_appointment(actor=clerk, appointment=clinic.booked, now=NOW)

    assert (refill.offer, refill.invited, refill.outcome) == (None, [], "nobody")
    assert SlotOffer.objects.count() == Message.objects.count() == 0


def test_filling_the_same_gap_again_adds_invites_only_when_earlier_ones_lapsed(clinic, clerk):
    entries = [clinic.wait(clinic.patient(), actor=clerk, days_ago=10 - n) for n in range(5)]
    clinic.booked.status = "cancelled"
    clinic.booked.save()

    first = refill_appointment(actor=clerk, appointment=clinic.booked, now=NOW)
    again = refill_appointment(actor=clerk, appointment=clinic.booked, now=NOW)
    later = refill_appointment(actor=clerk, appointment=clinic.booked, now=NOW + timedelta(hours=3))

    assert [i.entry_id for i in first.invited] == [e.pk for e in entries[:3]]
    assert (again.offer, again.invited, again.outcome) == (first.offer, [], "enough")
    assert [(i.entry_id, i.rank) for i in later.invited] == [(entries[3].pk, 4), (entries[4].pk, 5)]
    assert (
        SlotOffer.objects.count() == 1
        and OfferInvite.objects.count() == Message.objects.count() == 5
    )


def test_a_slot_too_close_to_now_is_not_offered(clinic, clerk):
    clinic.wait(clinic.patient(), actor=clerk)
    clinic.booked.status = "cancelled"
    clinic.booked.save()

    refill = refill_appointment(actor=clerk, appointment=clinic.booked,
                                now=SLOT + timedelta(minutes=5))  # fmt: skip

    assert (refill.offer, refill.outcome) == (None, "too_late")


def test_fill_this_gap_refuses_an_appointment_that_still_holds_its_time(clinic, clerk):
    with pytest.raises(Exception) as error:
        refill_appointment(actor=clerk, appointment=clinic.booked, now=NOW)

    assert error.value.errors == {  # type: ignore[attr-defined]
        "appointment": ["This appointment still holds its time: there is no gap to fill."]
    }


@pytest.fixture
def released():
    heard = []

    def listen(sender, **kwargs):
        heard.append(kwargs)

    appointment_released.connect(listen, dispatch_uid="test-listen")
    yield heard
    appointment_released.disconnect(dispatch_uid="test-listen")


def test_cancel_no_show_and_move_announce_the_freed_interval_after_commit(
    clinic, clerk, world, released, django_capture_on_commit_callbacks
):
    book = clinic.booked
    fields = {"branch_id": world.branch_a.pk, "chair_id": clinic.chair.pk,
              "doctor_id": clinic.doctor.pk}  # fmt: skip
    with django_capture_on_commit_callbacks() as callbacks:
        reschedule_appointment(actor=clerk, appointment=book, starts_at=SLOT + timedelta(hours=2),
                               now=NOW)  # fmt: skip
        assert released == []  # not before the commit
    for callback in callbacks:
        callback()
    missed = AppointmentFactory(branch=world.branch_a, doctor=clinic.doctor, chair=clinic.chair,
                                starts_at=NOW - timedelta(hours=1))  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        mark_no_show(actor=clerk, appointment=missed, now=NOW)
        cancel_appointment(actor=clerk, appointment=book, cancelled_by="clinic", reason="Ill",
                           now=NOW)  # fmt: skip

    moved_to = SLOT + timedelta(hours=2)
    assert released == [
        {"appointment_id": book.pk, "reason": "rescheduled", "starts_at": SLOT,
         "ends_at": SLOT + timedelta(minutes=30), "signal": appointment_released, **fields},
        {"appointment_id": missed.pk, "reason": "no_show", "starts_at": missed.starts_at,
         "ends_at": missed.ends_at, "signal": appointment_released, **fields},
        {"appointment_id": book.pk, "reason": "cancelled", "starts_at": moved_to,
         "ends_at": moved_to + timedelta(minutes=30), "signal": appointment_released, **fields},
    ]  # fmt: skip


def test_a_failing_refill_is_logged_and_never_undoes_the_cancellation(
    clinic, clerk, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    def broken(**kwargs):
        raise RuntimeError("refill is down")

    monkeypatch.setattr(receivers, "refill_slot_task", broken)
    with caplog.at_level(logging.ERROR, logger="chairtime.waitlist"):
        cancel(clinic, clerk, django_capture_on_commit_callbacks)

    clinic.booked.refresh_from_db()
    assert clinic.booked.status == "cancelled"
    assert [r.getMessage() for r in caplog.records if r.name == "chairtime.waitlist"] == [
        f"refill after cancelled of appointment {clinic.booked.pk} failed"
    ]


def test_refill_slot_can_be_run_directly_with_a_size(clinic, clerk):
    for n in range(4):
        clinic.wait(clinic.patient(), actor=clerk, days_ago=n + 1)
    clinic.booked.status = "cancelled"
    clinic.booked.save()

    refill = refill_slot(actor=None, appointment_id=clinic.booked.pk, reason="cancelled",
                         chair_id=clinic.chair.pk, doctor_id=clinic.doctor.pk, starts_at=SLOT,
                         ends_at=SLOT + timedelta(minutes=30), now=NOW, size=4)  # fmt: skip

    assert len(refill.invited) == 4


def test_outside_the_tests_a_release_queues_the_refill_as_a_task_that_can_run_again(
    clinic, clerk, settings, django_capture_on_commit_callbacks
):
    settings.WAITLIST_REFILL_INLINE = False
    clinic.wait(clinic.patient(), actor=clerk)

    cancel(clinic, clerk, django_capture_on_commit_callbacks)

    assert SlotOffer.objects.count() == 0  # nothing ran in the request
    queued = [SignedPackage.loads(row.payload) for row in OrmQ.objects.all()]
    assert [(task["func"], task["args"]) for task in queued] == [
        ("chairtime.waitlist.tasks.refill_slot_task", ())
    ]
    details = queued[0]["kwargs"]
    assert details == {"appointment_id": clinic.booked.pk, "reason": "cancelled",
                       "chair_id": clinic.chair.pk, "doctor_id": clinic.doctor.pk,
                       "starts_at": SLOT, "ends_at": SLOT + timedelta(minutes=30)}  # fmt: skip
    # Run twice (a retry after a crash): one offer, one invite.
    assert [refill_slot_task(**details), refill_slot_task(**details)] == ["invited", "nobody"]
    assert (SlotOffer.objects.count(), OfferInvite.objects.count()) == (1, 1)
