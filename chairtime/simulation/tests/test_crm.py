"""The simulator's patient relations: complaints, NPS surveys, referral chains, promotion
hunters and the demo segments, so that every customer group has members."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db.models import Count, Q

from chairtime.billing.models import Invoice, InvoiceStatus
from chairtime.crm.choices import ComplaintStatus, CustomerGroup
from chairtime.crm.models import Complaint, NpsSurvey, PatientProfile, Segment
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.simulation.crm import ABOUT_THE_DOCTOR, SURVEY_DAYS
from chairtime.simulation.generator import SimulationConfig, SimulationResult, simulate
from chairtime.simulation.tests.conftest import simulated_once
from chairtime.tenancy.models import Branch

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 1)
CRM = SimulationConfig(
    seed=11, slug="crm", organization_name="CRM Dental", countries=("VN", "US"), branches=2,
    patients=800, min_chairs=3, max_chairs=4, batch_size=200, as_of=AS_OF, history_days=120,
    future_days=7,
)  # fmt: skip
# The latest moment of as_of's start in any zone: nothing happened after it.
LATEST_NOW = datetime(2026, 11, 1, 5, tzinfo=UTC)
FOUR_MONTHS_ON = datetime(2027, 3, 1, 12, tzinfo=UTC)


crm = simulated_once(CRM)


def test_about_two_percent_of_the_patients_seen_complain_about_a_real_visit(crm):
    org = crm.organization
    complaints = list(Complaint.objects.filter(organization=org).select_related("appointment"))
    assert len(complaints) == crm.complaints > 0
    seen = (
        Appointment.objects.filter(branch__organization=org, status=AppointmentStatus.COMPLETED)
        .values("patient")
        .distinct()
        .count()
    )
    complaining = len({c.patient_id for c in complaints})
    assert 0.01 * seen <= complaining <= 0.03 * seen
    for complaint in complaints:
        visit = complaint.appointment
        assert visit is not None and visit.status == AppointmentStatus.COMPLETED
        assert (complaint.patient_id, complaint.branch_id) == (visit.patient_id, visit.branch_id)
        assert visit.completed_at < complaint.received_at < LATEST_NOW
        if complaint.category in ABOUT_THE_DOCTOR:
            assert complaint.doctor_id == visit.doctor_id
        else:
            assert complaint.doctor_id is None
        assert complaint.recorded_by_id is not None and complaint.description


def test_most_complaints_are_resolved_with_a_resolution_and_a_time(crm):
    complaints = Complaint.objects.filter(organization=crm.organization)
    resolved = complaints.filter(status=ComplaintStatus.RESOLVED)
    assert resolved.count() > complaints.count() * 0.6
    for complaint in resolved:
        assert complaint.resolution and complaint.resolved_by_id == complaint.owner_id
        assert complaint.received_at < complaint.resolved_at < LATEST_NOW
    for complaint in complaints.exclude(status=ComplaintStatus.RESOLVED):
        assert complaint.resolution == "" and complaint.resolved_at is None
    categories = set(complaints.values_list("category", flat=True))
    severities = set(complaints.values_list("severity", flat=True))
    assert len(categories) >= 4 and len(severities) >= 3


def test_surveys_follow_two_fifths_of_completed_visits_and_a_third_are_answered(crm):
    org = crm.organization
    surveys = list(NpsSurvey.objects.filter(organization=org).select_related("appointment"))
    visits = Appointment.objects.filter(
        branch__organization=org, status=AppointmentStatus.COMPLETED, completed_at__lt=LATEST_NOW
    ).count()
    assert len(surveys) == crm.surveys
    assert 0.3 * visits <= len(surveys) <= 0.5 * visits
    answered = [s for s in surveys if s.score is not None]
    assert len(answered) == crm.answered_surveys
    assert 0.25 * len(surveys) <= len(answered) <= 0.45 * len(surveys)
    languages = dict(
        Patient.objects.filter(organization=org).values_list("pk", "preferred_language")
    )
    for survey in surveys:
        visit = survey.appointment
        assert visit is not None and visit.status == AppointmentStatus.COMPLETED
        assert (survey.patient_id, survey.branch_id, survey.doctor_id) == (
            visit.patient_id, visit.branch_id, visit.doctor_id,
        )  # fmt: skip
        assert visit.completed_at < survey.sent_at < LATEST_NOW
        assert survey.expires_at == survey.sent_at + timedelta(days=SURVEY_DAYS)
        assert survey.language == languages[survey.patient_id]
        assert len(survey.token) >= 40
        if survey.score is None:
            assert survey.answered_at is None and survey.comment == ""
        else:
            assert survey.sent_at < survey.answered_at < min(survey.expires_at, LATEST_NOW)
            assert 0 <= survey.score <= 10
    assert any(s.comment for s in answered)
    assert {s.score for s in answered} >= {3, 6, 8, 10}


def test_some_doctors_score_better_than_others(crm):
    rows = (
        NpsSurvey.objects.filter(organization=crm.organization, score__isnull=False)
        .values("doctor")
        .annotate(
            n=Count("id"),
            promoters=Count("id", filter=Q(score__gte=9)),
            detractors=Count("id", filter=Q(score__lte=6)),
        )
        .filter(n__gte=15)
    )
    nps = [100 * (r["promoters"] - r["detractors"]) / r["n"] for r in rows]
    assert len(nps) >= 3
    assert max(nps) - min(nps) >= 25


def test_a_visit_complained_about_scores_low_when_its_survey_is_answered(crm):
    complained = Complaint.objects.filter(organization=crm.organization).values("appointment")
    scores = NpsSurvey.objects.filter(appointment__in=complained, score__isnull=False).values_list(
        "score", flat=True
    )
    assert all(score <= 5 for score in scores)


def test_some_patients_refer_two_or_more_and_are_loyal_for_it(crm):
    org = crm.organization
    referrers = (
        Patient.objects.filter(organization=org, referred_by_patient__isnull=False)
        .values("referred_by_patient")
        .annotate(n=Count("id"))
        .filter(n__gte=2)
    )
    assert referrers.count() >= 5
    assert max(r["n"] for r in referrers) >= 4
    assert PatientProfile.objects.filter(organization=org, group_rule="loyal.referrals").exists()


def test_some_patients_pay_most_visits_with_a_promotion_and_are_low_value(crm):
    org = crm.organization
    per_patient = (
        Invoice.objects.filter(branch__organization=org)
        .exclude(status=InvoiceStatus.VOID)
        .values("patient")
        .annotate(n=Count("id"), promoted=Count("id", filter=Q(promotion__isnull=False)))
        .filter(n__gte=2)
    )
    driven = [r for r in per_patient if r["promoted"] * 2 >= r["n"]]
    assert len(driven) >= 5
    assert PatientProfile.objects.filter(
        organization=org, group=CustomerGroup.LOW_VALUE, group_rule="low_value.promotions"
    ).exists()


def test_every_patient_has_a_profile_and_every_group_has_members(crm):
    org = crm.organization
    assert crm.profiles == crm.patients == PatientProfile.objects.filter(organization=org).count()
    groups = set(PatientProfile.objects.filter(organization=org).values_list("group", flat=True))
    assert groups == set(CustomerGroup.values)


def test_two_shared_demo_segments_of_the_owner_that_the_filter_accepts(crm):
    from chairtime.crm.segments.filters import parse_definition
    from chairtime.crm.segments.selectors import evaluate

    org = crm.organization
    segments = list(Segment.objects.filter(organization=org).order_by("name"))
    assert [s.name for s in segments] == [
        "Potential, not seen for 6 months",
        "VIP birthdays in November",
    ]
    branch = Branch.objects.filter(organization=org).order_by("code").first()
    assert branch is not None
    for segment in segments:
        assert segment.is_shared and segment.owner.username == "crm-owner"
        # Four months on, the book's earliest patients have been away for half a year.
        page = evaluate(parse_definition(segment.definition), branch=branch, now=FOUR_MONTHS_ON)
        assert page.count >= 1, segment.name
    birthdays = segments[1]
    assert {c["field"] for c in birthdays.definition["conditions"]} == {"group", "birthday_month"}


def fingerprint(result: SimulationResult) -> tuple[object, ...]:
    org = result.organization
    complaints = Complaint.objects.filter(organization=org)
    surveys = NpsSurvey.objects.filter(organization=org)
    return (
        sorted(Counter(complaints.values_list("category", "severity", "status")).items()),
        sorted(Counter(surveys.values_list("score", flat=True)).items(), key=str),
        sorted(
            Counter(
                PatientProfile.objects.filter(organization=org).values_list("group_rule", flat=True)
            ).items()
        ),
        (result.complaints, result.surveys, result.answered_surveys, result.segments),
    )


def test_the_same_seed_makes_the_same_complaints_surveys_and_groups(crm):
    again = simulate(dataclasses.replace(CRM, slug="crm-again", organization_name="Again"))
    assert fingerprint(again) == fingerprint(crm)
    other = simulate(dataclasses.replace(CRM, slug="crm-other", seed=12, organization_name="O"))
    assert fingerprint(other) != fingerprint(crm)


def test_without_treatment_there_are_no_complaints_surveys_or_segments():
    result = simulate(dataclasses.replace(CRM, slug="crm-plain", treatment=False, patients=100))
    org = result.organization
    assert (result.complaints, result.surveys, result.segments, result.profiles) == (0, 0, 0, 0)
    assert not Complaint.objects.filter(organization=org).exists()
    assert not NpsSurvey.objects.filter(organization=org).exists()
    assert not Segment.objects.filter(organization=org).exists()
