"""Profile computation: the numbers, treatment status, RFM, the full run against the
per-patient refresh, group changes, the command and the task."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.forms.models import model_to_dict

from chairtime.billing.models import InvoiceStatus
from chairtime.clinical.models import (
    ItemStatus,
    LadderStep,
    OptionStatus,
    PlanStatus,
    ProcedureCategory,
)
from chairtime.crm.models import (
    Complaint,
    GroupChange,
    GroupThresholds,
    NpsSurvey,
    PatientProfile,
    ProfileRun,
)
from chairtime.crm.profiles import compute
from chairtime.crm.profiles.compute import (
    add_months,
    consent_bit,
    recompute_organization,
    refresh_profiles,
)
from chairtime.crm.profiles.selectors import get_checked_at
from chairtime.crm.profiles.tasks import recompute_all_profiles_task
from chairtime.crm.tests.helpers_profiles import NOW, TODAY, invoice, plan, promotion, visit
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Consent, Patient
from conftest import World
from tests.factories import PatientFactory, PerformedProcedureFactory, ProcedureFactory, UserFactory


def profile_of(patient: Patient) -> PatientProfile:
    return PatientProfile.objects.get(patient=patient)


def refreshed(patient: Patient) -> PatientProfile:
    assert refresh_profiles([patient.pk], now=NOW) == 1
    return profile_of(patient)


def complaint(patient: Patient, days_ago: int) -> Complaint:
    return Complaint.objects.create(
        organization=patient.organization, branch=patient.home_branch, patient=patient,
        category="waiting", severity="low", description="Waited an hour",
        received_at=NOW - timedelta(days=days_ago),
    )  # fmt: skip


def survey(patient: Patient, days_ago: int, score: int | None) -> NpsSurvey:
    sent = NOW - timedelta(days=days_ago)
    return NpsSurvey.objects.create(
        organization=patient.organization, branch=patient.home_branch, patient=patient,
        token=f"token-{patient.pk}-{days_ago}", language="en", sent_at=sent,
        expires_at=sent + timedelta(days=30), score=score,
        answered_at=sent + timedelta(hours=1) if score is not None else None,
    )  # fmt: skip


def test_a_patient_without_history_is_new_and_potential(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    profile = refreshed(patient)
    assert (profile.group, profile.group_rule) == ("potential", "potential.new")
    assert profile.visit_count == 0
    assert profile.treatment_status == "nothing_planned"
    assert (profile.r_score, profile.f_score, profile.m_score) == (0, 0, 0)
    assert profile.currency == "VND"
    assert profile.organization_id == world.acme.pk
    assert profile.group_since == NOW


def test_visits_and_attendance(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    for days in (400, 200, 100):
        visit(patient, days, arrived_at=NOW - timedelta(days=days, minutes=5))
    visit(patient, 99, arrived_at=NOW - timedelta(days=99) + timedelta(minutes=10))
    visit(patient, 30, status="no_show")
    visit(patient, 500, status="no_show")  # over a year ago: only in the rate
    late = NOW - timedelta(days=20)
    visit(
        patient,
        20,
        status="cancelled",
        cancelled_by="patient",
        cancelled_at=late - timedelta(hours=2),
    )
    visit(
        patient,
        19,
        status="cancelled",
        cancelled_by="patient",
        cancelled_at=late - timedelta(days=3),
    )
    visit(patient, 18, status="cancelled", cancelled_by="clinic", cancelled_at=late)
    upcoming = visit(patient, -10, status="booked")
    profile = refreshed(patient)
    assert profile.visit_count == 4
    assert profile.first_visit_on == TODAY - timedelta(days=400)
    assert profile.last_visit_on == TODAY - timedelta(days=99)
    assert profile.usual_interval_days == 100  # 301 days over 3 gaps
    assert profile.no_show_count == 1
    assert profile.late_cancel_count == 1
    assert profile.no_show_rate == 33  # 2 no-shows of 4 visits + 2 no-shows
    assert profile.on_time_rate == 75  # 3 of 4 arrivals on time
    assert profile.next_appointment_at == upcoming.starts_at


def test_late_cancellation_follows_the_threshold(world: World) -> None:
    GroupThresholds.objects.create(organization=world.acme, late_cancel_hours=72)
    patient = PatientFactory(home_branch=world.branch_a)
    starts = NOW - timedelta(days=20)
    visit(
        patient,
        20,
        status="cancelled",
        cancelled_by="patient",
        cancelled_at=starts - timedelta(days=2),
    )
    assert refreshed(patient).late_cancel_count == 1


def test_money_in_the_home_currency(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    offer = promotion(patient)
    invoice(patient, 10, "1000000")
    invoice(patient, 10, "500000")  # same day: one paid visit
    invoice(patient, 400, "2000000", promotion=offer)
    invoice(patient, 800, "300000", balance="100000", status=InvoiceStatus.OPEN)
    invoice(patient, 5, "9000000", status=InvoiceStatus.VOID)
    invoice(patient, 5, "70", currency="USD")
    invoice(patient, 3, "0")  # nothing charged: not a paid visit
    profile = refreshed(patient)
    assert profile.spend_total == Decimal("3800000")
    assert profile.spend_365d == Decimal("1500000")
    assert profile.window_spend == Decimal("3500000")  # 24 months
    assert profile.balance == Decimal("100000")
    assert profile.paid_visit_count == 3
    assert profile.window_paid_visits == 2
    assert profile.promo_visit_count == 1


def test_treatment_nothing_planned(world: World) -> None:
    assert (
        refreshed(PatientFactory(home_branch=world.branch_a)).treatment_status == "nothing_planned"
    )


def test_treatment_consulted_by_a_plan(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    plan(patient)
    profile = refreshed(patient)
    assert (profile.treatment_status, profile.has_open_plan) == ("consulted", False)
    assert profile.group_rule == "potential.consulted"


def test_treatment_consulted_by_a_diagnostic_visit(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    exam = ProcedureFactory(organization=world.acme, category=ProcedureCategory.DIAGNOSTIC)
    visit(patient, 5, procedure=exam)
    assert refreshed(patient).treatment_status == "consulted"


def test_treatment_in_progress_with_accepted_items_not_done(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    plan(patient, status=PlanStatus.IN_PROGRESS, option_status=OptionStatus.ACCEPTED,
         items=(ItemStatus.COMPLETED, ItemStatus.SCHEDULED))  # fmt: skip
    PerformedProcedureFactory(branch=world.branch_a, patient=patient)
    profile = refreshed(patient)
    assert (profile.treatment_status, profile.has_open_plan) == ("in_treatment", True)
    assert profile.group_rule == "potential.open_plan"


def test_declined_or_open_options_are_not_in_treatment(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    plan(patient, status=PlanStatus.DECLINED, option_status=OptionStatus.DECLINED)
    plan(patient, status=PlanStatus.PROPOSED, option_status=OptionStatus.OPEN)
    assert refreshed(patient).treatment_status == "consulted"


def test_treatment_completed(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    plan(patient, status=PlanStatus.COMPLETED, option_status=OptionStatus.ACCEPTED,
         items=(ItemStatus.COMPLETED, ItemStatus.CANCELLED))  # fmt: skip
    PerformedProcedureFactory(branch=world.branch_a, patient=patient)
    profile = refreshed(patient)
    assert (profile.treatment_status, profile.has_open_plan) == ("completed", False)


def test_recall_due_and_ladder_tier(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    cleaning = ProcedureFactory(organization=world.acme, recall_interval_months=6)
    checkup = ProcedureFactory(organization=world.acme, recall_interval_months=12)
    PerformedProcedureFactory(branch=world.branch_a, patient=patient, procedure=cleaning,
                              performed_at=datetime(2029, 6, 1, 3, tzinfo=UTC))  # fmt: skip
    PerformedProcedureFactory(branch=world.branch_a, patient=patient, procedure=cleaning,
                              performed_at=datetime(2029, 10, 1, 3, tzinfo=UTC))  # fmt: skip
    PerformedProcedureFactory(branch=world.branch_a, patient=patient, procedure=checkup,
                              performed_at=datetime(2029, 3, 10, 3, tzinfo=UTC))  # fmt: skip
    for rank, tier in ((1, "experience"), (3, "regular")):
        LadderStep.objects.create(patient=patient, branch=world.branch_a, tier=tier, rank=rank,
                                  reached_at=NOW)  # fmt: skip
    profile = refreshed(patient)
    assert profile.recall_due_on == date(2030, 3, 10)
    assert profile.ladder_tier == "regular"


def test_a_recall_date_answered_by_a_later_visit_no_longer_counts(world: World) -> None:
    """A monthly orthodontic check of two years ago does not keep a patient who comes for
    cleanings every six months overdue: the later cleaning answered it."""
    patient = PatientFactory(home_branch=world.branch_a)
    monthly = ProcedureFactory(organization=world.acme, recall_interval_months=1)
    cleaning = ProcedureFactory(organization=world.acme, recall_interval_months=6)
    PerformedProcedureFactory(branch=world.branch_a, patient=patient, procedure=monthly,
                              performed_at=datetime(2028, 2, 1, 3, tzinfo=UTC))  # fmt: skip
    PerformedProcedureFactory(branch=world.branch_a, patient=patient, procedure=cleaning,
                              performed_at=datetime(2029, 12, 5, 3, tzinfo=UTC))  # fmt: skip
    assert refreshed(patient).recall_due_on == date(2030, 6, 5)


def test_relationships_and_consents(world: World) -> None:
    referrer = PatientFactory(home_branch=world.branch_a)
    for _ in range(2):
        PatientFactory(home_branch=world.branch_b, referred_by_patient=referrer)
    PatientFactory(
        home_branch=world.branch_a, referred_by_patient=referrer, status=PatientStatus.MERGED
    )
    staff_referred = PatientFactory(home_branch=world.branch_a, referred_by_staff=UserFactory())
    for when, granted in ((NOW - timedelta(days=9), True), (NOW - timedelta(days=1), False)):
        Consent.objects.create(patient=referrer, channel="sms", purpose="marketing",
                               is_granted=granted, origin="paper_form", recorded_at=when)  # fmt: skip
    Consent.objects.create(patient=referrer, channel="zalo", purpose="service", is_granted=True,
                           origin="paper_form", recorded_at=NOW)  # fmt: skip
    profile = refreshed(referrer)
    assert profile.referral_count == 2
    assert profile.group_rule == "loyal.referrals"
    assert profile.consent_bits == consent_bit("zalo", "service")
    assert profile.referrer_kind == "none"
    assert refreshed(staff_referred).referrer_kind == "staff"


def test_consent_bits_are_one_per_channel_and_purpose() -> None:
    assert consent_bit("sms", "service") == 1
    assert consent_bit("sms", "marketing") == 2
    assert consent_bit("email", "service") == 4
    assert consent_bit("whatsapp", "marketing") == 1 << 11


def test_complaints_and_detractors(world: World) -> None:
    unhappy = PatientFactory(home_branch=world.branch_a)
    complaint(unhappy, 20)
    detractor = PatientFactory(home_branch=world.branch_a)
    survey(detractor, 40, 3)
    survey(detractor, 10, 9)  # the newest answer is the last score
    survey(detractor, 5, None)  # unanswered
    profile = refreshed(unhappy)
    assert (profile.group_rule, profile.group_evidence) == (
        "negative.complaint",
        {"days": 20, "limit": 180},
    )
    found = refreshed(detractor)
    assert found.group_rule == "negative.detractor"
    assert found.last_nps_score == 9
    assert found.last_detractor_at == NOW - timedelta(days=40, hours=-1)


def _build_world(world: World) -> list[Patient]:
    """Patients of every kind over both branches, and a rival patient that must not move."""
    patients = []
    for index in range(12):
        patient = PatientFactory(home_branch=world.branch_a if index % 2 else world.branch_b)
        for number in range(index % 5):
            visit(patient, 30 + 40 * number + index)
            invoice(patient, 30 + 40 * number + index, str(100000 * (index + 1)))
        patients.append(patient)
    complaint(patients[3], 2)
    offer = promotion(patients[0])
    invoice(patients[1], 3, "50000", promotion=offer)
    plan(patients[5], status=PlanStatus.ACCEPTED, option_status=OptionStatus.ACCEPTED)
    visit(patients[6], -3, status="booked")
    PatientFactory(home_branch=world.rival_branch)
    return patients


def _snapshot(*, times: bool = True) -> dict[int, dict[str, Any]]:
    """Every profile as a dict; `times=False` leaves out when each row was written."""
    exclude = [] if times else ["computed_at"]
    return {p.patient_id: model_to_dict(p, exclude=exclude) for p in PatientProfile.objects.all()}


def test_full_recomputation_equals_the_per_patient_refresh(world: World) -> None:
    patients = _build_world(world)
    result = recompute_organization(world.acme, now=NOW)
    assert result.patients == 12
    full = _snapshot()
    assert set(full) == {p.pk for p in patients}
    assert {row["m_score"] for row in full.values()} >= {1, 5}
    for patient in patients:
        refresh_profiles([patient.pk], now=NOW)
    assert _snapshot() == full
    refresh_profiles([p.pk for p in patients], now=NOW)
    assert _snapshot() == full


def test_batched_and_copied_writes_give_the_same_rows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The large-run paths (reads and writes in batches, COPY and one upsert on
    PostgreSQL, plain INSERTs of new rows on SQLite, RFM of many refreshed patients from
    the others' values) on a few rows: same profiles, same group changes."""
    patients = _build_world(world)
    recompute_organization(world.acme, now=NOW)
    expected = _snapshot()
    changes = sorted(GroupChange.objects.values_list("patient_id", "from_group", "to_group"))
    PatientProfile.objects.all().delete()
    GroupChange.objects.all().delete()
    monkeypatch.setattr(compute, "READ_CHUNK", 2)
    monkeypatch.setattr(compute, "WRITE_CHUNK", 3)
    monkeypatch.setattr(compute, "COPY_FROM_ROWS", 1)
    monkeypatch.setattr(compute, "SCORE_BY_QUERY", 0)
    first = recompute_organization(world.acme, now=NOW)
    assert (first.patients, first.changed_groups) == (12, 12)
    assert _snapshot() == expected
    assert sorted(GroupChange.objects.values_list("patient_id", "from_group", "to_group")) == (
        changes
    )
    complaint(patients[2], 0)
    later = NOW + timedelta(hours=1)
    assert recompute_organization(world.acme, now=later).changed_groups == 1
    assert profile_of(patients[2]).group == "negative"
    assert profile_of(patients[2]).group_since == later
    assert profile_of(patients[4]).group_since == NOW
    full = _snapshot(times=False)
    assert refresh_profiles([p.pk for p in patients], now=later) == 12
    assert _snapshot(times=False) == full  # the RFM scores from the others' values read at once
    assert {row["m_score"] for row in full.values()} >= {1, 5}


def test_rfm_scores_are_quintiles_over_the_organisation(world: World) -> None:
    patients = []
    for index in range(5):
        patient = PatientFactory(home_branch=world.branch_a)
        for number in range(index + 1):
            visit(patient, 10 + 30 * number + (4 - index))
            invoice(patient, 10 + 30 * number + (4 - index), str(100000 * (index + 1)))
        patients.append(patient)
    recompute_organization(world.acme, now=NOW)
    scores = [(p.r_score, p.f_score, p.m_score) for p in map(profile_of, patients)]
    assert scores == [(1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 4), (5, 5, 5)]
    run = ProfileRun.objects.get(organization=world.acme)
    assert (run.started_at, run.patients, run.scored, run.changed_groups) == (NOW, 5, 5, 5)
    assert run.frequency_cuts == [1, 2, 3, 4]
    assert run.monetary_cuts == ["100000", "400000", "900000", "1600000"]


def test_a_refresh_scores_against_the_last_full_runs_cut_points(world: World) -> None:
    """Between nightly runs a changed patient is scored against last night's quintiles,
    not against the other profiles as they are now (no pass over them)."""
    patients = []
    for index in range(5):
        patient = PatientFactory(home_branch=world.branch_a)
        visit(patient, 10)
        invoice(patient, 10, str(100000 * (index + 1)))
        patients.append(patient)
    recompute_organization(world.acme, now=NOW)
    assert [profile_of(p).m_score for p in patients] == [1, 2, 3, 4, 5]
    # The others' stored numbers drift; the cut points of the run do not.
    PatientProfile.objects.exclude(patient=patients[1]).update(window_spend=Decimal(1))
    invoice(patients[1], 9, "150000")  # 350,000 in all: above 3 of the cut points
    refresh_profiles([patients[1].pk], now=NOW)
    assert profile_of(patients[1]).m_score == 4
    ProfileRun.objects.all().delete()  # no run yet: against the others as stored
    refresh_profiles([patients[1].pk], now=NOW)
    assert profile_of(patients[1]).m_score == 5


def test_checked_at_is_the_later_of_the_write_and_the_last_full_run(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    visit(patient, 10)
    recompute_organization(world.acme, now=NOW)
    profile = profile_of(patient)
    assert NOW <= get_checked_at(profile) < NOW + timedelta(minutes=5)  # the run's end
    later = NOW + timedelta(days=1)
    recompute_organization(world.acme, now=later)  # nothing changed: not written
    profile = profile_of(patient)
    assert profile.computed_at == NOW
    assert later <= get_checked_at(profile) < later + timedelta(minutes=5)


def test_group_changes_are_written_only_when_the_group_changes(world: World) -> None:
    patients = _build_world(world)
    first = recompute_organization(world.acme, now=NOW)
    assert first.changed_groups == 12
    assert GroupChange.objects.filter(from_group="").count() == 12
    later = NOW + timedelta(hours=1)
    assert recompute_organization(world.acme, now=later).changed_groups == 0
    assert GroupChange.objects.count() == 12
    calm = patients[2]
    before = profile_of(calm)
    complaint(calm, 0)
    assert recompute_organization(world.acme, now=later).changed_groups == 1
    change = GroupChange.objects.get(patient=calm, changed_at=later)
    assert (change.from_group, change.to_group, change.rule) == (
        before.group,
        "negative",
        "negative.complaint",
    )
    after = profile_of(calm)
    assert after.group_since == later
    assert profile_of(patients[4]).group_since == NOW  # unchanged group keeps its time
    # The full run writes only the profiles whose numbers changed.
    assert (after.computed_at, profile_of(patients[4]).computed_at) == (later, NOW)
    refresh_profiles([calm.pk], now=later)
    assert GroupChange.objects.filter(patient=calm).count() == 2


def test_merged_patients_have_no_profile(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a)
    survivor = PatientFactory(home_branch=world.branch_a)
    recompute_organization(world.acme, now=NOW)
    Patient.objects.filter(pk=patient.pk).update(status=PatientStatus.MERGED, merged_into=survivor)
    assert recompute_organization(world.acme, now=NOW).patients == 1
    assert list(PatientProfile.objects.values_list("patient_id", flat=True)) == [survivor.pk]
    assert refresh_profiles([patient.pk], now=NOW) == 0


def test_refresh_of_nothing_writes_nothing(world: World) -> None:
    assert refresh_profiles([]) == 0


def test_the_command_recomputes_an_organisation(world: World) -> None:
    PatientFactory(home_branch=world.branch_a)
    out = StringIO()
    call_command("recompute_profiles", "--organization", "acme", "--verbosity", "0", stdout=out)
    assert out.getvalue().startswith("acme: 1 patients, 1 group changes in ")
    assert PatientProfile.objects.count() == 1


def test_the_command_refuses_an_unknown_organisation(world: World) -> None:
    with pytest.raises(CommandError, match="--organization: no organisation called 'nobody'"):
        call_command("recompute_profiles", "--organization", "nobody")


def test_the_daily_task_covers_every_organisation(world: World) -> None:
    PatientFactory(home_branch=world.branch_a)
    PatientFactory(home_branch=world.rival_branch)
    assert recompute_all_profiles_task() == 2
    assert PatientProfile.objects.count() == 2


def test_add_months_keeps_the_day_or_the_month_end() -> None:
    assert add_months(date(2029, 8, 31), 6) == date(2030, 2, 28)
    assert add_months(date(2030, 3, 1), -24) == date(2028, 3, 1)
    assert add_months(date(2030, 1, 31), -11) == date(2029, 2, 28)
    assert add_months(date(2029, 12, 15), 1) == date(2030, 1, 15)
