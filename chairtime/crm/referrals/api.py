"""API of referrals: the tree around a patient and the branch's referral report.

Revenue (strings, per currency) is included only for users with money.view.
"""

# No `from __future__ import annotations` here: ninja reads the annotations at import.

from datetime import date
from decimal import Decimal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from chairtime.core.money import quantize
from chairtime.crm.referrals.selectors import (
    ReferralNode,
    ReferralReport,
    referral_report,
    referral_tree,
)
from chairtime.patients.access import access_patient
from chairtime.tenancy.api import api_branch_access
from chairtime.tenancy.roles import Capability

router = Router(tags=["referrals"])


class PatientRef(Schema):
    id: int
    number: str
    name: str


class NodeOut(Schema):
    patient: PatientRef
    revenue: dict[str, str] | None = Field(..., description="currency → amount; money.view")
    children: list["NodeOut"]


class TreeOut(Schema):
    ancestors: list[PatientRef]
    root: NodeOut
    depth: int
    is_truncated: bool


class TreeFilter(Schema):
    depth: int = Field(5, ge=1, le=10)


class KindOut(Schema):
    kind: str
    patients: int
    revenue: str | None


class ReferrerOut(Schema):
    kind: str
    referrer_id: int
    label: str
    patients: int
    revenue: str | None


class DoctorOut(Schema):
    doctor_id: int
    label: str
    counts: list[int]
    total: int


class ReportOut(Schema):
    currency: str
    months: list[date]
    by_kind: list[KindOut]
    patients: int
    revenue: str | None
    top_referrers: list[ReferrerOut]
    doctors: list[DoctorOut]


class MonthsFilter(Schema):
    months: int = Field(12, ge=1, le=36)


def _node_out(node: ReferralNode, money: bool) -> NodeOut:
    p = node.patient
    return NodeOut(
        patient=PatientRef(id=p.pk, number=p.number, name=p.display_name),
        revenue={c: str(quantize(a, c)) for c, a in node.revenue.items()} if money else None,
        children=[_node_out(child, money) for child in node.children],
    )


def _report_out(report: ReferralReport, money: bool) -> ReportOut:
    def amount(value: Decimal) -> str | None:
        return str(quantize(value, report.currency)) if money else None

    return ReportOut(
        currency=report.currency, months=report.months,
        by_kind=[KindOut(kind=r.kind, patients=r.patients, revenue=amount(r.revenue))
                 for r in report.by_kind],
        patients=report.patients, revenue=amount(report.revenue),
        top_referrers=[
            ReferrerOut(kind=r.kind, referrer_id=r.referrer_id, label=r.label,
                        patients=r.patients, revenue=amount(r.revenue))
            for r in report.top_referrers
        ],
        doctors=[DoctorOut(doctor_id=d.doctor_id, label=d.label, counts=d.counts, total=d.total)
                 for d in report.doctors],
    )  # fmt: skip


@router.get("/patients/{int:patient_id}", response=TreeOut, summary="A patient's referral tree")
def tree(request: HttpRequest, patient_id: int, filters: Query[TreeFilter]) -> TreeOut:
    access = api_branch_access(request)
    patient = access_patient(access, patient_id)
    found = referral_tree(patient, depth=filters.depth)
    money = access.can(Capability.MONEY_VIEW)
    return TreeOut(
        ancestors=[PatientRef(id=p.pk, number=p.number, name=p.display_name)
                   for p in found.ancestors],
        root=_node_out(found.root, money), depth=found.depth, is_truncated=found.is_truncated,
    )  # fmt: skip


@router.get("/report", response=ReportOut, summary="The active branch's referred patients")
def report(request: HttpRequest, filters: Query[MonthsFilter]) -> ReportOut:
    access = api_branch_access(request)
    access.require(Capability.ANALYTICS_VIEW)
    today = timezone.localdate(timezone.now(), access.branch.zone)
    found = referral_report(branch=access.branch, months=filters.months, today=today)
    return _report_out(found, access.can(Capability.MONEY_VIEW))
