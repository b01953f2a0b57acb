"""Merging two records of one person: every row of the merged patient moves to the
survivor (appointments, plans, production, invoices, payments, refunds, consents, phones,
tags, external IDs, referrals), nothing is lost, and bad requests change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import Invoice, Payment, Refund
from chairtime.billing.services import create_invoice, refund_payment, take_payment
from chairtime.billing.tests import conftest as billing
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.clinical.models import LadderStep, PlanStatus, TreatmentPlan
from chairtime.core.errors import Conflict, InvalidInput
from chairtime.crm.choices import ExternalKind
from chairtime.crm.duplicates.services import merge_patients
from chairtime.crm.models import ExternalId, PatientMerge, PatientProfile
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Consent, Patient, PatientChatId, PatientPhone, Tag
from chairtime.scheduling.models import Appointment
from tests.factories import AppointmentFactory, PatientFactory, TagFactory

# Every model with a foreign key to Patient (besides the merge records themselves).
COUNTED = [
    "clinical.treatmentplan", "clinical.performedprocedure", "clinical.ladderstep",
    "billing.invoice", "billing.payment", "billing.refund", "scheduling.appointment",
    "patients.patientphone", "patients.patientchatid", "patients.consent",
    "patients.medicalalert", "crm.groupchange", "crm.complaint", "crm.npssurvey",
]  # fmt: skip
money = billing.money  # the money clinic's fixture
MONDAY = datetime(2030, 1, 7, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    yield


def _counts(*patients: Patient) -> dict[str, int]:
    counts = {}
    for label in COUNTED:
        model: type[models.Model] = apps.get_model(label)
        counts[label] = model._base_manager.filter(patient__in=patients).count()
    return counts


def _ids(model: type[models.Model], patient: Patient) -> list[int]:
    return sorted(model._base_manager.filter(patient=patient).values_list("pk", flat=True))


def _consent(patient: Patient, granted: bool, minutes: int) -> Consent:
    return Consent.objects.create(
        patient=patient, channel="sms", purpose="marketing", is_granted=granted,
        origin="verbal", recorded_at=NOW - timedelta(minutes=minutes),
    )  # fmt: skip


def _plan(money: Money, patient: Patient) -> TreatmentPlan:
    return TreatmentPlan.objects.create(
        branch=money.branch, patient=patient, title="Implant", doctor=money.doctor,
        presented_at=NOW, expires_on=NOW.date() + timedelta(days=90), status=PlanStatus.PROPOSED,
    )  # fmt: skip


def _paid_visit(money: Money, patient: Patient) -> tuple[Invoice, Payment, Refund]:
    done = money.perform(500000, patient=patient)
    invoice = create_invoice(
        actor=money.owner, branch=money.branch, patient=patient, performed_ids=[done.pk], now=NOW
    )
    payment = take_payment(
        actor=money.owner, branch=money.branch, patient=patient, amount="600000",
        method="cash", now=NOW,
    )  # fmt: skip
    refund = refund_payment(
        actor=money.owner, payment=payment, amount="100000", method="cash", reason="Overpaid",
        now=NOW,
    )  # fmt: skip
    return invoice, payment, refund


@pytest.fixture
def pair(money: Money) -> tuple[Patient, Patient]:
    """The survivor (money.patient) and a second record of the same person, each with
    visits, plans, money, consents, phones, chat IDs and tags; some of them the same."""
    survivor = money.patient
    merged = PatientFactory(home_branch=money.branch, phone="+84911111111")
    PatientPhone.objects.create(patient=survivor, number="+84911111111", is_primary=True)
    PatientPhone.objects.create(patient=merged, number="+84922222222")
    PatientChatId.objects.create(patient=survivor, app="zalo", handle="survivor-zalo")
    PatientChatId.objects.create(patient=merged, app="zalo", handle="merged-zalo")
    PatientChatId.objects.create(patient=merged, app="wechat", handle="merged-wechat")
    shared, own = (
        TagFactory(organization=money.world.acme),
        TagFactory(organization=money.world.acme),
    )
    survivor.tags.add(shared)
    merged.tags.add(shared, own)
    for hour, patient in enumerate((survivor, merged)):
        AppointmentFactory(
            branch=money.branch, patient=patient, starts_at=MONDAY + timedelta(hours=hour)
        )
        _plan(money, patient)
        _paid_visit(money, patient)
    _consent(survivor, True, minutes=60)
    _consent(merged, False, minutes=5)  # the newer answer: "no" now counts
    return survivor, merged


def test_merge_moves_every_row_and_loses_nothing(
    money: Money, pair: tuple[Patient, Patient]
) -> None:
    survivor, merged = pair
    before = _counts(survivor, merged)
    survivor_before = _counts(survivor)
    merged_ids = {
        label: _ids(apps.get_model(label), merged)
        for label in ("scheduling.appointment", "clinical.treatmentplan", "billing.invoice",
                      "billing.payment", "billing.refund", "clinical.performedprocedure",
                      "patients.consent")
    }  # fmt: skip
    new_phone = PatientPhone.objects.get(patient=merged, number="+84922222222")
    wechat = PatientChatId.objects.get(patient=merged, app="wechat")
    own_tag = Tag.objects.get(
        patients=merged, name__in=Tag.objects.exclude(patients=survivor).values("name")
    )

    merge = merge_patients(
        actor=money.owner, survivor=survivor, merged=merged, reason="Same person"
    )

    after = _counts(survivor, merged)
    # One phone and one chat ID were repeats of the survivor's; every other row survives.
    # (The survivor's profile is recomputed: its first group assignment is one new row.)
    assert after == {
        **before,
        "crm.groupchange": before["crm.groupchange"] + 1,
        "patients.patientphone": before["patients.patientphone"] - 1,
        "patients.patientchatid": before["patients.patientchatid"] - 1,
    }
    assert _counts(merged) == dict.fromkeys(COUNTED, 0)
    assert (
        _counts(survivor)["scheduling.appointment"] == survivor_before["scheduling.appointment"] + 1
    )
    assert _counts(survivor)["billing.invoice"] == 2
    assert _counts(survivor)["billing.payment"] == 2
    assert _counts(survivor)["billing.refund"] == 2
    for label, ids in merged_ids.items():
        assert merge.moved[f"{label}.patient"] == ids
    assert merge.moved["patients.patientphone.patient"] == [new_phone.pk]
    assert merge.moved["patients.patientchatid.patient"] == [wechat.pk]
    assert merge.moved["patients.patient.tags"] == [own_tag.pk]
    assert sorted(survivor.tags.values_list("pk", flat=True)) == sorted(
        Tag.objects.filter(organization=money.world.acme).values_list("pk", flat=True)
    )
    assert list(merged.tags.all()) == []
    # The survivor keeps its primary phone; the new number joins as a second one.
    assert list(survivor.phones.values_list("number", "is_primary")) == [
        ("+84911111111", True),
        ("+84922222222", False),
    ]
    assert dict(survivor.chat_ids.values_list("app", "handle")) == {
        "zalo": "survivor-zalo",
        "wechat": "merged-wechat",
    }
    # Consents are time-stamped: the merged record's newer "no" is now the current answer.
    newest = survivor.consents.order_by("-recorded_at").first()
    assert newest is not None and newest.is_granted is False
    merged.refresh_from_db()
    assert (merged.status, merged.merged_into_id) == (PatientStatus.MERGED, survivor.pk)
    assert merge.merged_snapshot["number"] == merged.number
    assert merge.merged_snapshot["status"] == PatientStatus.ACTIVE
    assert merge.merged_snapshot["chat_ids"] == {"zalo": "merged-zalo", "wechat": "merged-wechat"}
    assert sorted(merge.merged_snapshot["dropped"]) == [
        "patients.patientchatid",
        "patients.patientphone",
    ]
    assert (merge.reason, merge.merged_by_id, merge.organization_id) == (
        "Same person",
        money.owner.pk,
        money.world.acme.pk,
    )


def test_money_totals_follow_the_survivor(money: Money, pair: tuple[Patient, Patient]) -> None:
    survivor, merged = pair
    paid = sum(p.amount for p in Payment.objects.filter(patient__in=[survivor, merged]))

    merge_patients(actor=money.owner, survivor=survivor, merged=merged, reason="Same person")

    assert (
        sum(p.amount for p in Payment.objects.filter(patient=survivor))
        == paid
        == Decimal("1200000")
    )
    assert Invoice.objects.filter(patient=survivor, balance=0).count() == 2


def test_merge_writes_an_audit_event_on_both_patients(
    money: Money, pair: tuple[Patient, Patient]
) -> None:
    survivor, merged = pair

    merge = merge_patients(actor=money.owner, survivor=survivor, merged=merged, reason="Twice")

    on_survivor = AuditEvent.objects.filter(patient_id=survivor.pk, changes__has_key="merge")
    on_merged = AuditEvent.objects.filter(patient_id=merged.pk, changes__has_key="merge")
    assert [e.changes["merge"] for e in on_survivor] == [[None, merge.pk]]
    assert [e.changes["merged_into"] for e in on_merged] == [[None, survivor.pk]]
    assert [e.actor_id for e in [*on_survivor, *on_merged]] == [money.owner.pk, money.owner.pk]


def test_referrals_external_ids_ladder_and_profile(money: Money) -> None:
    survivor = PatientFactory(home_branch=money.branch)
    merged = PatientFactory(home_branch=money.branch)
    survivor.referred_by_patient = merged
    survivor.save()
    friend = PatientFactory(home_branch=money.branch, referred_by_patient=merged)
    earlier_merge = PatientFactory(
        home_branch=money.branch, status=PatientStatus.MERGED, merged_into=merged
    )
    external = ExternalId.objects.create(
        organization=money.world.acme, system="oldpms", kind=ExternalKind.PATIENT,
        external_id="A-17", object_id=merged.pk,
    )  # fmt: skip
    other_kind = ExternalId.objects.create(
        organization=money.world.acme, system="oldpms", kind=ExternalKind.VISIT,
        external_id="V-1", object_id=merged.pk,
    )  # fmt: skip
    step = {"branch": money.branch, "rank": 2, "tier": "regular"}
    kept_step = LadderStep.objects.create(
        patient=survivor, reached_at=NOW - timedelta(days=1), **step
    )
    later_step = LadderStep.objects.create(patient=merged, reached_at=NOW, **step)
    higher = LadderStep.objects.create(
        patient=merged, branch=money.branch, rank=3, tier="implant", reached_at=NOW
    )
    PatientProfile.objects.create(
        patient=merged, organization=money.world.acme, home_branch=money.branch, computed_at=NOW
    )

    merge = merge_patients(actor=money.owner, survivor=survivor, merged=merged, reason="Twice")

    survivor.refresh_from_db()
    friend.refresh_from_db()
    earlier_merge.refresh_from_db()
    external.refresh_from_db()
    other_kind.refresh_from_db()
    assert survivor.referred_by_patient_id is None  # never its own referrer
    assert friend.referred_by_patient_id == survivor.pk
    assert earlier_merge.merged_into_id == survivor.pk
    assert (external.object_id, other_kind.object_id) == (survivor.pk, merged.pk)
    assert merge.moved["patients.patient.referred_by_patient"] == [friend.pk]
    assert merge.moved["patients.patient.merged_into"] == [earlier_merge.pk]
    assert merge.moved["crm.externalid.object_id"] == [external.pk]
    assert merge.moved["clinical.ladderstep.patient"] == [higher.pk]
    assert sorted(LadderStep.objects.filter(patient=survivor).values_list("pk", flat=True)) == [
        kept_step.pk,
        higher.pk,
    ]
    assert merge.merged_snapshot["dropped"] == {"clinical.ladderstep": [later_step.pk]}
    assert not PatientProfile.objects.filter(patient=merged).exists()
    # The survivor's profile is recomputed with everything it now holds.
    assert PatientProfile.objects.get(patient=survivor).referral_count == 1


def _state(*patients: Patient) -> list[object]:
    rows = []
    for patient in patients:
        patient.refresh_from_db()
        rows.append((patient.status, patient.merged_into_id))
    return [rows, _counts(*patients), PatientMerge.objects.count(), AuditEvent.objects.count()]


def test_bad_merges_are_refused_and_change_nothing(
    money: Money, pair: tuple[Patient, Patient]
) -> None:
    survivor, merged = pair
    outsider = PatientFactory(home_branch=money.world.rival_branch)
    gone = PatientFactory(
        home_branch=money.branch, status=PatientStatus.MERGED, merged_into=survivor
    )
    before = _state(survivor, merged, outsider, gone)
    cases = [
        (survivor, survivor, "x", {"merged": ["A patient cannot be merged with itself."]}),
        (
            survivor,
            outsider,
            "x",
            {"merged": ["Only patients of the same organisation can be merged."]},
        ),
        (survivor, gone, "x", {"merged": ["This patient was already merged into another record."]}),
        (gone, merged, "x", {"survivor": ["This patient was already merged into another record."]}),
        (survivor, merged, "  ", {"reason": ["Say why these records are the same person."]}),
        (
            survivor,
            merged,
            "x" * 201,
            {"reason": ["The reason is too long (200 characters at most)."]},
        ),
    ]

    for keep, lose, reason, errors in cases:
        with pytest.raises(InvalidInput) as caught:
            merge_patients(actor=money.owner, survivor=keep, merged=lose, reason=reason)
        assert caught.value.errors == errors

    assert _state(survivor, merged, outsider, gone) == before


def test_a_merged_record_cannot_be_merged_twice(
    money: Money, pair: tuple[Patient, Patient]
) -> None:
    survivor, merged = pair
    merge_patients(actor=money.owner, survivor=survivor, merged=merged, reason="Same person")
    stale = Patient.objects.get(pk=merged.pk)
    stale.status = PatientStatus.ACTIVE  # an old copy in memory: the lock re-reads the row

    with pytest.raises(InvalidInput) as caught:
        merge_patients(actor=money.owner, survivor=survivor, merged=stale, reason="Again")

    assert caught.value.errors == {
        "merged": ["This patient was already merged into another record."]
    }
    assert PatientMerge.objects.count() == 1
    assert Appointment.objects.filter(patient=merged).count() == 0


def test_two_bookings_at_the_same_time_refuse_the_merge(money: Money) -> None:
    survivor = PatientFactory(home_branch=money.branch)
    merged = PatientFactory(home_branch=money.branch)
    AppointmentFactory(branch=money.branch, patient=survivor, starts_at=MONDAY)
    AppointmentFactory(branch=money.branch, patient=merged, starts_at=MONDAY)
    before = _state(survivor, merged)

    with pytest.raises(Conflict) as caught:
        merge_patients(actor=money.owner, survivor=survivor, merged=merged, reason="Twice")

    assert caught.value.errors == {
        "merged": ["The two records cannot be merged: their appointments clash."]
    }
    assert _state(survivor, merged) == before
