"""API of the customer groups: the thresholds, the counts and flows, a patient's profile.

Thin: resolve the active branch, check the capability, call one service or selector.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date, datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from chairtime.accounts.access import acting_user
from chairtime.core.errors import NotFound
from chairtime.core.money import quantize
from chairtime.crm.models import GroupThresholds, PatientProfile
from chairtime.crm.profiles.groups import THRESHOLD_FIELDS, explain
from chairtime.crm.profiles.selectors import get_checked_at, get_group_summary, get_profile
from chairtime.crm.profiles.services import get_thresholds, update_thresholds
from chairtime.patients.access import access_patient
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["groups"])


class ThresholdsOut(Schema):
    rfm_window_months: int
    loyal_paid_visits: int
    loyal_referrals: int
    loyal_monetary_score: int
    potential_not_returned_days: int
    low_value_min_paid_visits: int
    low_value_promo_percent: int
    negative_recent_days: int
    negative_missed_count: int
    late_cancel_hours: int
    negative_absence_factor: int
    negative_absence_min_days: int


class ThresholdsIn(Schema):
    """Any of the thresholds; those left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    rfm_window_months: int | None = None
    loyal_paid_visits: int | None = None
    loyal_referrals: int | None = None
    loyal_monetary_score: int | None = None
    potential_not_returned_days: int | None = None
    low_value_min_paid_visits: int | None = None
    low_value_promo_percent: int | None = None
    negative_recent_days: int | None = None
    negative_missed_count: int | None = None
    late_cancel_hours: int | None = None
    negative_absence_factor: int | None = None
    negative_absence_min_days: int | None = None


class FlowOut(Schema):
    from_group: str
    to_group: str
    count: int


class SummaryOut(Schema):
    scope: str
    counts: dict[str, int]
    total: int
    flows_30_days: list[FlowOut]
    flows_90_days: list[FlowOut]


class ProfileOut(Schema):
    patient_id: int
    group: str
    group_label: str
    rule: str
    why: str
    evidence: dict[str, object]
    group_since: datetime | None
    r_score: int
    f_score: int
    m_score: int
    treatment_status: str
    visit_count: int
    first_visit_on: date | None
    last_visit_on: date | None
    paid_visit_count: int
    promo_visit_count: int
    next_appointment_at: datetime | None
    no_show_count: int
    late_cancel_count: int
    currency: str
    spend_total: str
    spend_365d: str
    balance: str
    referral_count: int
    recall_due_on: date | None
    ladder_tier: str
    computed_at: datetime = Field(description="When these numbers were last written.")
    checked_at: datetime = Field(
        description="When they were last known true: written, or found unchanged by the "
        "nightly recomputation since."
    )


def _thresholds_out(thresholds: GroupThresholds) -> ThresholdsOut:
    return ThresholdsOut(**{name: getattr(thresholds, name) for name in THRESHOLD_FIELDS})


@router.get("/thresholds", response=ThresholdsOut, summary="The customer groups' thresholds")
def thresholds_detail(request: HttpRequest) -> ThresholdsOut:
    access = api_branch_access(request)
    access.require(Capability.ANALYTICS_VIEW)
    return _thresholds_out(get_thresholds(access.branch.organization))


@router.put(
    "/thresholds",
    response=ThresholdsOut,
    summary="Change the customer groups' thresholds",
    description="Needs crm.configure. Groups are recomputed in the background afterwards.",
)
def thresholds_update(request: HttpRequest, payload: ThresholdsIn) -> ThresholdsOut:
    access = api_branch_access(request)
    access.require(Capability.CRM_CONFIGURE)
    values = payload.model_dump(exclude_none=True)
    thresholds = update_thresholds(
        actor=acting_user(request), organization=access.branch.organization, values=values
    )
    return _thresholds_out(thresholds)


@router.get(
    "/summary",
    response=SummaryOut,
    summary="Patients per group and moves between groups",
    description="scope=branch (the active branch's home patients, the default) or all.",
)
def summary(request: HttpRequest, scope: str = "branch") -> SummaryOut:
    access = api_branch_access(request)
    access.require(Capability.ANALYTICS_VIEW)
    whole = scope == "all"
    found = get_group_summary(branch=access.branch, whole_organization=whole)

    def flows(days: int) -> list[FlowOut]:
        return [FlowOut(from_group=f.from_group, to_group=f.to_group, count=f.count)
                for f in found.flows[days]]  # fmt: skip

    return SummaryOut(
        scope="all" if whole else "branch", counts=found.counts, total=found.total,
        flows_30_days=flows(30), flows_90_days=flows(90),
    )  # fmt: skip


def _profile_out(profile: PatientProfile) -> ProfileOut:
    return ProfileOut(
        patient_id=profile.patient_id, group=profile.group,
        group_label=str(profile.get_group_display()), rule=profile.group_rule,
        why=explain(profile.group_rule, profile.group_evidence),
        evidence=profile.group_evidence, group_since=profile.group_since,
        r_score=profile.r_score, f_score=profile.f_score, m_score=profile.m_score,
        treatment_status=profile.treatment_status, visit_count=profile.visit_count,
        first_visit_on=profile.first_visit_on, last_visit_on=profile.last_visit_on,
        paid_visit_count=profile.paid_visit_count, promo_visit_count=profile.promo_visit_count,
        next_appointment_at=profile.next_appointment_at, no_show_count=profile.no_show_count,
        late_cancel_count=profile.late_cancel_count, currency=profile.currency,
        spend_total=str(quantize(profile.spend_total, profile.currency)), spend_365d=str(quantize(profile.spend_365d, profile.currency)),
        balance=str(quantize(profile.balance, profile.currency)), referral_count=profile.referral_count,
        recall_due_on=profile.recall_due_on, ladder_tier=profile.ladder_tier,
        computed_at=profile.computed_at, checked_at=get_checked_at(profile),
    )  # fmt: skip


@router.get(
    "/patients/{int:patient_id}",
    response=ProfileOut,
    summary="A patient's profile: group and why, RFM scores and key numbers",
    description="404 when the profile is not computed yet.",
)
def patient_profile(request: HttpRequest, patient_id: int) -> ProfileOut:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id)
    profile = get_profile(patient)
    if profile is None:
        raise NotFound
    return _profile_out(profile)
