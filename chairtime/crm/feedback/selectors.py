"""Reads of patient feedback: the complaints list, a survey by its link, the NPS report.

NPS = the percentage of promoters (9-10) minus the percentage of detractors (0-6) among
the answers, from -100 to 100; passives (7-8) count only in the denominator.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.crm.models import Complaint, NpsSurvey
from chairtime.tenancy.models import Branch, Organization

PROMOTER_MIN = 9
DETRACTOR_MAX = 6
MAX_MONTHS = 36


# --- complaints ---------------------------------------------------------------------------
def list_complaints(
    *,
    branch: Branch,
    status: str = "",
    severity: str = "",
    category: str = "",
    owner_id: int | None = None,
    patient_id: int | None = None,
) -> QuerySet[Complaint]:
    """The branch's complaints, newest first, narrowed by whichever filters are given."""
    rows = Complaint.objects.filter(branch=branch).select_related("patient", "owner", "doctor")
    if status:
        rows = rows.filter(status=status)
    if severity:
        rows = rows.filter(severity=severity)
    if category:
        rows = rows.filter(category=category)
    if owner_id is not None:
        rows = rows.filter(owner_id=owner_id)
    if patient_id is not None:
        rows = rows.filter(patient_id=patient_id)
    return rows.order_by("-received_at", "-pk")


def list_staff_of(organization_id: int) -> QuerySet[User]:
    """Everyone working in the organisation (the people a complaint can be handed to)."""
    return (
        User.objects.filter(memberships__organization_id=organization_id, is_active=True)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


# --- surveys ------------------------------------------------------------------------------
def get_survey_by_token(token: str) -> NpsSurvey | None:
    return NpsSurvey.objects.select_related("branch").filter(token=token).first()


def survey_state(survey: NpsSurvey, *, now: datetime | None = None) -> str:
    """ "answered", "expired" or "open"."""
    if survey.answered_at is not None:
        return "answered"
    if (now or timezone.now()) >= survey.expires_at:
        return "expired"
    return "open"


# --- the NPS report -----------------------------------------------------------------------
@dataclass
class NpsRow:
    """Surveys sent and answered for one doctor, branch or month, and their score."""

    key: Any
    label: str
    sent: int = 0
    answered: int = 0
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    def add(self, other: NpsRow) -> None:
        self.sent += other.sent
        self.answered += other.answered
        self.promoters += other.promoters
        self.passives += other.passives
        self.detractors += other.detractors

    @property
    def nps(self) -> Decimal | None:
        """%promoters minus %detractors to one decimal (half up); None without answers."""
        if not self.answered:
            return None
        exact = Decimal(100 * (self.promoters - self.detractors)) / Decimal(self.answered)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def response_rate(self) -> Decimal | None:
        """Percent of sent surveys answered, to one decimal; None when none was sent."""
        if not self.sent:
            return None
        exact = Decimal(100 * self.answered) / Decimal(self.sent)
        return exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass
class NpsReport:
    first_month: date
    last_month: date
    total: NpsRow
    by_doctor: list[NpsRow] = field(default_factory=list)
    by_branch: list[NpsRow] = field(default_factory=list)
    by_month: list[NpsRow] = field(default_factory=list)


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _counts(rows: QuerySet[Any, dict[str, Any]]) -> Iterable[dict[str, Any]]:
    return rows.annotate(  # type: ignore[no-any-return]
        sent=Count("pk"),
        answered=Count("pk", filter=Q(answered_at__isnull=False)),
        promoters=Count("pk", filter=Q(score__gte=PROMOTER_MIN)),
        passives=Count("pk", filter=Q(score__gt=DETRACTOR_MAX, score__lt=PROMOTER_MIN)),
        detractors=Count("pk", filter=Q(score__lte=DETRACTOR_MAX)),
    )


def nps_report(
    *,
    organization: Organization | None = None,
    branch: Branch | None = None,
    months: int = 12,
    today: date | None = None,
) -> NpsReport:
    """NPS of the surveys sent in the last `months` calendar months (this one included),
    by doctor, by branch and by month. Months are each branch's own local months, so one
    query per time zone in scope groups by (doctor, branch, month)."""
    if (organization is None) == (branch is None):
        raise ValueError("Give an organisation or a branch")
    months = max(1, min(months, MAX_MONTHS))
    branches = (
        Branch.objects.filter(pk=branch.pk)
        if branch is not None
        else Branch.objects.filter(organization=organization)
    )
    zones = sorted(set(branches.values_list("time_zone", flat=True)))
    first = last = date.min
    cells: list[tuple[int | None, int, date, NpsRow]] = []
    for zone_name in zones:
        zone_branches = branches.filter(time_zone=zone_name)
        zone = zone_branches[0].zone
        local_today = today or timezone.localdate(timezone.now(), zone)
        last = _month_start(local_today, 0)
        first = _month_start(local_today, months - 1)
        start = datetime.combine(first, time.min, tzinfo=zone)
        rows = (
            NpsSurvey.objects.filter(branch__in=zone_branches, sent_at__gte=start)
            .annotate(month=TruncMonth("sent_at", tzinfo=zone))
            .values("doctor_id", "branch_id", "month")
        )
        for row in _counts(rows.order_by()):
            month = row["month"]
            month_day = month.date() if isinstance(month, datetime) else month
            counts = NpsRow(
                key=None, label="", sent=row["sent"], answered=row["answered"],
                promoters=row["promoters"], passives=row["passives"],
                detractors=row["detractors"],
            )  # fmt: skip
            cells.append((row["doctor_id"], row["branch_id"], month_day, counts))
    return _report(cells, first, last)


def _report(
    cells: list[tuple[int | None, int, date, NpsRow]], first: date, last: date
) -> NpsReport:
    total = NpsRow(key=None, label="")
    doctors: dict[int | None, NpsRow] = {}
    branches: dict[int, NpsRow] = {}
    months: dict[date, NpsRow] = defaultdict(lambda: NpsRow(key=None, label=""))
    for doctor_id, branch_id, month, counts in cells:
        total.add(counts)
        doctors.setdefault(doctor_id, NpsRow(key=doctor_id, label="")).add(counts)
        branches.setdefault(branch_id, NpsRow(key=branch_id, label="")).add(counts)
        months[month].add(counts)
    users = {u.pk: str(u) for u in User.objects.filter(pk__in=[k for k in doctors if k])}
    names = dict(Branch.objects.filter(pk__in=list(branches)).values_list("pk", "name"))
    for row in doctors.values():
        row.label = users.get(row.key, "—") if row.key else "—"
    for row in branches.values():
        row.label = names.get(row.key, "")
    by_month = []
    month = first
    while first != date.min and month <= last:
        row = months.get(month) or NpsRow(key=month, label="")
        row.key, row.label = month, month.isoformat()[:7]
        by_month.append(row)
        month = _month_start(month, -1)
    return NpsReport(
        first_month=first, last_month=last, total=total,
        by_doctor=sorted(doctors.values(), key=lambda r: (r.label, r.key or 0)),
        by_branch=sorted(branches.values(), key=lambda r: (r.label, r.key)),
        by_month=by_month,
    )  # fmt: skip
