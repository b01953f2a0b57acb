"""Reads of referrals: who brought whom (the tree around one patient) and what referred
patients are worth (the branch report).

Revenue of a patient = the sum of the totals of their invoices that are not void, per
currency (a chain's branches may invoice in different currencies). A referrer's kind is
the first that applies: a patient, else a staff member, else an outside partner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncMonth

from chairtime.accounts.models import User
from chairtime.billing.models import Invoice, InvoiceStatus
from chairtime.crm.choices import ReferrerKind
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient
from chairtime.tenancy.models import Branch, Membership
from chairtime.tenancy.roles import Role

ZERO = Decimal("0")
MAX_DEPTH = 10
MAX_MONTHS = 36
TOP_REFERRERS = 10

Revenue = dict[str, Decimal]  # currency -> amount


def revenue_of(patient_ids: Iterable[int], *, branch: Branch | None = None) -> dict[int, Revenue]:
    """Each patient's revenue per currency (only this branch's invoices when given)."""
    ids = list(patient_ids)
    rows = Invoice.objects.filter(patient_id__in=ids).exclude(status=InvoiceStatus.VOID)
    if branch is not None:
        rows = rows.filter(branch=branch)
    found: dict[int, Revenue] = defaultdict(dict)
    for row in rows.values("patient_id", "currency").annotate(amount=Sum("total")).order_by():
        found[row["patient_id"]][row["currency"]] = row["amount"] or ZERO
    return found


# --- the tree -----------------------------------------------------------------------------
@dataclass
class ReferralNode:
    """A patient, their revenue, and the patients they referred (one level down each)."""

    patient: Patient
    revenue: Revenue
    children: list[ReferralNode] = field(default_factory=list)

    @property
    def descendants(self) -> int:
        return sum(1 + child.descendants for child in self.children)


@dataclass
class ReferralTree:
    ancestors: list[Patient]  # who referred the patient, then who referred them, … (nearest first)
    root: ReferralNode  # the patient and everyone referred from them, `depth` levels down
    depth: int
    is_truncated: bool  # someone at the deepest level referred further patients


def _live(organization_id: int) -> QuerySet[Patient]:
    return Patient.objects.filter(organization_id=organization_id).exclude(
        status=PatientStatus.MERGED
    )


def referral_tree(patient: Patient, depth: int = 5) -> ReferralTree:
    """The chain of referrers above the patient (up to `depth`) and the patients referred
    below them (`depth` levels), each with their revenue. A loop in the data (A referred
    B who referred A) stops at the first patient seen twice."""
    depth = max(1, min(depth, MAX_DEPTH))
    seen = {patient.pk}
    ancestors: list[Patient] = []
    current = patient
    while current.referred_by_patient_id and len(ancestors) < depth:
        if current.referred_by_patient_id in seen:
            break
        parent = _live(patient.organization_id).filter(pk=current.referred_by_patient_id).first()
        if parent is None:
            break
        ancestors.append(parent)
        seen.add(parent.pk)
        current = parent

    nodes = {patient.pk: ReferralNode(patient=patient, revenue={})}
    level = [patient.pk]
    for _level in range(depth):
        if not level:
            break
        children = list(
            _live(patient.organization_id)
            .filter(referred_by_patient_id__in=level)
            .exclude(pk__in=seen)
            .order_by("created_at", "pk")
        )
        level = []
        for child in children:
            if child.pk in seen:
                continue
            seen.add(child.pk)
            node = ReferralNode(patient=child, revenue={})
            nodes[child.pk] = node
            assert child.referred_by_patient_id is not None
            nodes[child.referred_by_patient_id].children.append(node)
            level.append(child.pk)
    is_truncated = bool(level) and (
        _live(patient.organization_id)
        .filter(referred_by_patient_id__in=level)
        .exclude(pk__in=seen)
        .exists()
    )
    revenue = revenue_of(nodes)
    for patient_id, node in nodes.items():
        node.revenue = dict(sorted(revenue.get(patient_id, {}).items()))
    return ReferralTree(
        ancestors=ancestors, root=nodes[patient.pk], depth=depth, is_truncated=is_truncated
    )


# --- the report ---------------------------------------------------------------------------
@dataclass
class KindRow:
    kind: str
    label: str
    patients: int
    revenue: Decimal


@dataclass
class ReferrerRow:
    kind: str  # patient or staff
    referrer_id: int
    label: str
    patients: int
    revenue: Decimal


@dataclass
class DoctorMonths:
    doctor_id: int
    label: str
    counts: list[int]  # one per month of the report, oldest first
    total: int


@dataclass
class ReferralReport:
    """Referred patients registered in the branch in the report's months (home branch),
    their revenue in this branch's currency (every invoice of theirs in the branch)."""

    currency: str
    months: list[date]
    by_kind: list[KindRow]
    patients: int
    revenue: Decimal
    top_referrers: list[ReferrerRow]
    doctors: list[DoctorMonths]


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


_KIND = Case(
    When(referred_by_patient__isnull=False, then=Value(ReferrerKind.PATIENT.value)),
    When(referred_by_staff__isnull=False, then=Value(ReferrerKind.STAFF.value)),
    When(~Q(referrer_external=""), then=Value(ReferrerKind.EXTERNAL.value)),
    default=Value(ReferrerKind.NONE.value),
    output_field=CharField(),
)


def referral_report(*, branch: Branch, months: int = 12, today: date) -> ReferralReport:
    """Counts and revenue of the branch's referred patients by referrer kind, the top
    referrers, and each doctor's referrals per month (`today` is the branch's local day)."""
    months = max(1, min(months, MAX_MONTHS))
    month_list = [_month_start(today, back) for back in range(months - 1, -1, -1)]
    start = datetime.combine(month_list[0], time.min, tzinfo=branch.zone)
    referred = (
        _live(branch.organization_id)
        .filter(home_branch=branch, created_at__gte=start)
        .annotate(kind=_KIND)
        .exclude(kind=ReferrerKind.NONE.value)
    )
    invoices = (
        Invoice.objects.filter(branch=branch, patient__in=referred.values("pk"))
        .exclude(status=InvoiceStatus.VOID)
        .order_by()
    )
    counts = dict(referred.values("kind").annotate(n=Count("pk")).values_list("kind", "n"))
    money = {
        row["kind"]: row["amount"] or ZERO
        for row in invoices.annotate(kind=_patient_kind())
        .values("kind")
        .annotate(amount=Sum("total"))
    }
    by_kind = [
        KindRow(kind=kind, label=str(label), patients=counts.get(kind, 0),
                revenue=money.get(kind, ZERO))
        for kind, label in ReferrerKind.choices
        if kind != ReferrerKind.NONE
    ]  # fmt: skip
    return ReferralReport(
        currency=branch.currency, months=month_list, by_kind=by_kind,
        patients=sum(row.patients for row in by_kind),
        revenue=sum((row.revenue for row in by_kind), ZERO),
        top_referrers=_top_referrers(referred, invoices),
        doctors=_doctor_months(branch, referred, month_list),
    )  # fmt: skip


def _patient_kind() -> Case:
    return Case(
        When(patient__referred_by_patient__isnull=False, then=Value(ReferrerKind.PATIENT.value)),
        When(patient__referred_by_staff__isnull=False, then=Value(ReferrerKind.STAFF.value)),
        When(~Q(patient__referrer_external=""), then=Value(ReferrerKind.EXTERNAL.value)),
        default=Value(ReferrerKind.NONE.value),
        output_field=CharField(),
    )


def _top_referrers(referred: QuerySet[Any], invoices: QuerySet[Invoice]) -> list[ReferrerRow]:
    """The patients and staff who referred the most patients (ties: the lower id first)."""
    rows: list[ReferrerRow] = []
    for kind, column in (
        (ReferrerKind.PATIENT.value, "referred_by_patient"),
        (ReferrerKind.STAFF.value, "referred_by_staff"),
    ):
        top = list(
            referred.filter(kind=kind)
            .values(column)
            .annotate(n=Count("pk"))
            .order_by("-n", column)[:TOP_REFERRERS]
        )
        ids = [row[column] for row in top]
        amounts = dict(
            invoices.annotate(kind=_patient_kind())
            .filter(kind=kind, **{f"patient__{column}__in": ids})
            .values(f"patient__{column}")
            .annotate(amount=Sum("total"))
            .values_list(f"patient__{column}", "amount")
        )
        model = Patient if kind == ReferrerKind.PATIENT.value else User
        labels = {obj.pk: _label(obj) for obj in model.objects.filter(pk__in=ids)}
        rows += [
            ReferrerRow(kind=kind, referrer_id=row[column], label=labels.get(row[column], ""),
                        patients=row["n"], revenue=amounts.get(row[column]) or ZERO)
            for row in top
        ]  # fmt: skip
    rows.sort(key=lambda r: (-r.patients, r.kind, r.referrer_id))
    return rows[:TOP_REFERRERS]


def _label(obj: Patient | User) -> str:
    return obj.display_name if isinstance(obj, Patient) else str(obj)


def _doctor_months(
    branch: Branch, referred: QuerySet[Patient], month_list: list[date]
) -> list[DoctorMonths]:
    """Patients each doctor of the organisation referred, per month of registration."""
    doctor_ids = Membership.objects.filter(
        organization_id=branch.organization_id, role=Role.DOCTOR
    ).values("user_id")
    rows = (
        referred.filter(referred_by_staff__in=doctor_ids)
        .annotate(month=TruncMonth("created_at", tzinfo=branch.zone))
        .values("referred_by_staff", "month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    index = {month: position for position, month in enumerate(month_list)}
    counts: dict[int, list[int]] = {}
    for row in rows:
        month = row["month"]
        month_day = month.date() if isinstance(month, datetime) else month
        cells = counts.setdefault(row["referred_by_staff"], [0] * len(month_list))
        if month_day in index:
            cells[index[month_day]] += row["n"]
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=list(counts))}
    doctors = [
        DoctorMonths(doctor_id=pk, label=names.get(pk, ""), counts=cells, total=sum(cells))
        for pk, cells in counts.items()
    ]
    return sorted(doctors, key=lambda d: (-d.total, d.label, d.doctor_id))
