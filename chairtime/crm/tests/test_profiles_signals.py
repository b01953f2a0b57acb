"""Signals: a change to a row a profile reads refreshes the patient once the transaction
commits, never before, never after a rollback, and a failing refresh never breaks it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from chairtime.billing.models import WriteOff
from chairtime.clinical.models import ItemStatus, OptionStatus, PlanStatus, TreatmentItem
from chairtime.crm.models import Complaint, PatientProfile
from chairtime.crm.profiles import compute, signals
from chairtime.crm.tests.helpers_profiles import invoice, plan, visit
from conftest import World
from tests.factories import AppointmentFactory, PatientFactory

Capture = Callable[..., Any]


def complaint(patient: Any) -> Complaint:
    return Complaint.objects.create(
        organization=patient.organization, branch=patient.home_branch, patient=patient,
        category="waiting", severity="low", description="Waited", received_at=timezone.now(),
    )  # fmt: skip


def test_a_complaint_refreshes_the_patient_after_commit(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        complaint(patient)
        assert not PatientProfile.objects.filter(patient=patient).exists()
    assert len(callbacks) == 1
    assert PatientProfile.objects.get(patient=patient).group_rule == "negative.complaint"


def test_many_changes_in_one_transaction_refresh_once(
    world: World, django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = PatientFactory(home_branch=world.branch_a)
    second = PatientFactory(home_branch=world.branch_a)
    calls: list[set[int]] = []
    monkeypatch.setattr(compute, "refresh_profiles", lambda ids: calls.append(set(ids)))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        visit(first, 3)
        invoice(first, 3)
        visit(second, 4)
    assert len(callbacks) == 3
    assert calls == [{first.pk, second.pk}]


def test_a_new_patient_and_their_referrer_are_refreshed(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    referrer = PatientFactory(home_branch=world.branch_a)
    with django_capture_on_commit_callbacks(execute=True):
        PatientFactory.create_batch(2, home_branch=world.branch_b, referred_by_patient=referrer)
    assert PatientProfile.objects.get(patient=referrer).referral_count == 2
    assert PatientProfile.objects.count() == 3


def test_plan_items_and_write_offs_find_their_patient(
    world: World, django_capture_on_commit_callbacks: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    made = plan(patient, status=PlanStatus.ACCEPTED, option_status=OptionStatus.ACCEPTED)
    bill = invoice(patient, 1, balance="1000000", status="open")
    calls: list[set[int]] = []
    monkeypatch.setattr(compute, "refresh_profiles", lambda ids: calls.append(set(ids)))
    with django_capture_on_commit_callbacks(execute=True):
        TreatmentItem.objects.filter(option__plan=made).get().delete()
        WriteOff.objects.create(branch=world.branch_a, invoice=bill, amount=1, reason="x",
                                written_at=timezone.now(), written_on=timezone.now().date())  # fmt: skip
    assert calls == [{patient.pk}]
    item = TreatmentItem(
        option=made.options.get(), procedure_id=made.options.get().pk, unit_price=1, amount=1
    )
    assert signals._item(item) == [patient.pk]


def test_a_rolled_back_change_refreshes_nothing(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                complaint(patient)
                raise RuntimeError("the service failed")
        except RuntimeError:
            pass
    assert callbacks == []
    assert not PatientProfile.objects.exists()


def test_a_failing_refresh_is_logged_not_raised(
    world: World,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    patient = PatientFactory(home_branch=world.branch_a)

    def broken(ids: object) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(compute, "refresh_profiles", broken)
    with django_capture_on_commit_callbacks(execute=True):
        visit(patient, 1)
    assert "refreshing profiles of patients" in caplog.text
    assert not PatientProfile.objects.exists()


def test_an_appointment_booked_moves_a_lapsed_patient(
    world: World, django_capture_on_commit_callbacks: Capture
) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    now = timezone.now()
    AppointmentFactory(branch=world.branch_a, patient=patient, status="completed",
                       starts_at=now - timedelta(days=400))  # fmt: skip
    compute.refresh_profiles([patient.pk])
    assert PatientProfile.objects.get(patient=patient).group_rule == "potential.not_returned"
    with django_capture_on_commit_callbacks(execute=True):
        booked = AppointmentFactory(branch=world.branch_a, patient=patient, status="booked",
                                    starts_at=now + timedelta(days=5))  # fmt: skip
    profile = PatientProfile.objects.get(patient=patient)
    assert profile.group_rule == "potential.other"
    assert profile.next_appointment_at == booked.starts_at
    assert profile.next_appointment_at > timezone.now() + timedelta(days=4)


def test_scheduled_items_count_as_open(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    plan(patient, status=PlanStatus.ACCEPTED, option_status=OptionStatus.ACCEPTED,
         items=(ItemStatus.SCHEDULED,))  # fmt: skip
    compute.refresh_profiles([patient.pk])
    assert PatientProfile.objects.get(patient=patient).treatment_status == "in_treatment"
