"""The patient timeline: every touchpoint with the clinic, newest first, one list.

Each kind of entry comes from its own table (appointments, plans, procedures, invoices,
payments, refunds, complaints, NPS answers, group changes, merges, the audit trail, visits
and payments imported from another system) and is shown only to users holding its
capability: money with money.view, treatment with treatment.view, complaints and NPS
answers with care.view, audit events with audit.view.

Imported history has a day, not a time: its entries stand at 00:00 UTC of that day (the
key they sort and page by) and carry the day itself in `on`, which is what is shown.

Paging is by cursor: entries are ordered by (time, kind, id) descending and "older" means
a smaller key than the last one shown. Each source is asked for its own `limit + 1`
entries below the cursor (in SQL, exactly), so the merged top `limit` is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from chairtime.audit.models import AuditAction, AuditEvent
from chairtime.billing.models import Invoice, Payment, Refund
from chairtime.clinical.models import PerformedProcedure, TreatmentPlan
from chairtime.core.errors import InvalidInput
from chairtime.crm.choices import CustomerGroup
from chairtime.crm.models import (
    Complaint,
    GroupChange,
    HistoricalPayment,
    HistoricalVisit,
    NpsSurvey,
    PatientMerge,
)
from chairtime.crm.profiles.groups import rule_label
from chairtime.patients.models import Patient
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.roles import Capability

MAX_LIMIT = 500


@dataclass(frozen=True)
class TimelineEntry:
    """One touchpoint: when, what kind, which row, and words to show for it."""

    at: datetime
    kind: str
    object_id: int
    title: str
    detail: str = ""
    branch: str = ""
    amount: Decimal | None = None
    currency: str = ""
    on: date | None = None  # a day without a time (imported history): shown instead of `at`

    @property
    def key(self) -> tuple[datetime, str, int]:
        return (self.at, self.kind, self.object_id)

    @property
    def cursor(self) -> str:
        return f"{self.at.isoformat()}~{self.kind}~{self.object_id}"


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    next_before: str | None  # the cursor for older entries; None at the beginning of time


Cursor = tuple[datetime, str, int]


def parse_cursor(text: str) -> Cursor:
    """ "<ISO time>~<kind>~<id>" (an entry's `cursor`); bad input names `before`."""
    parts = text.split("~")
    at = parse_datetime(parts[0]) if parts[0] else None
    if len(parts) != 3 or at is None or at.tzinfo is None or not parts[2].isdigit():
        raise InvalidInput.on("before", _("Not a position in the timeline."))
    return (at, parts[1], int(parts[2]))


@dataclass(frozen=True)
class Source:
    kind: str
    capability: Capability | None
    rows: Callable[[Patient], QuerySet[Any]]
    at: str  # the column holding the entry's time (a day when `is_day`)
    entry: Callable[[Any], TimelineEntry]
    is_day: bool = False


def _branch(row: Any) -> str:
    branch = getattr(row, "branch", None)
    return branch.name if branch is not None else ""


def _appointment(a: Appointment) -> TimelineEntry:
    return TimelineEntry(
        at=a.starts_at, kind="appointment", object_id=a.pk,
        title=_("Appointment: %(procedure)s") % {"procedure": a.procedure.name},
        detail=f"{a.get_status_display()} · {a.doctor}", branch=_branch(a),
    )  # fmt: skip


def _plan(kind: str, title: str) -> Callable[[TreatmentPlan], TimelineEntry]:
    def entry(plan: TreatmentPlan) -> TimelineEntry:
        at = {
            "plan_presented": plan.presented_at,
            "plan_accepted": plan.accepted_at,
            "plan_declined": plan.declined_at,
        }[kind]
        assert at is not None
        detail = plan.decline_reason if kind == "plan_declined" else str(plan.doctor)
        return TimelineEntry(
            at=at, kind=kind, object_id=plan.pk, title=f"{title}: {plan.title}",
            detail=detail, branch=_branch(plan),
        )  # fmt: skip

    return entry


def _procedure(p: PerformedProcedure) -> TimelineEntry:
    teeth = ", ".join(str(tooth) for tooth in p.teeth)
    return TimelineEntry(
        at=p.performed_at, kind="procedure", object_id=p.pk,
        title=_("Procedure done: %(procedure)s") % {"procedure": p.procedure.name},
        detail=" · ".join(filter(None, [teeth, str(p.doctor)])), branch=_branch(p),
    )  # fmt: skip


def _invoice(i: Invoice) -> TimelineEntry:
    return TimelineEntry(
        at=i.issued_at, kind="invoice", object_id=i.pk,
        title=_("Invoice %(number)s") % {"number": i.number}, detail=i.get_status_display(),
        branch=_branch(i), amount=i.total, currency=i.currency,
    )  # fmt: skip


def _payment(p: Payment) -> TimelineEntry:
    return TimelineEntry(
        at=p.received_at, kind="payment", object_id=p.pk,
        title=_("%(kind)s received") % {"kind": p.get_kind_display()},
        detail=p.get_method_display(), branch=_branch(p), amount=p.amount, currency=p.currency,
    )  # fmt: skip


def _refund(r: Refund) -> TimelineEntry:
    return TimelineEntry(
        at=r.refunded_at, kind="refund", object_id=r.pk, title=_("Refund"), detail=r.reason,
        branch=_branch(r), amount=r.amount, currency=r.payment.currency,
    )  # fmt: skip


def _complaint(c: Complaint) -> TimelineEntry:
    return TimelineEntry(
        at=c.received_at, kind="complaint", object_id=c.pk,
        title=_("Complaint: %(category)s") % {"category": c.get_category_display()},
        detail=f"{c.get_severity_display()} · {c.get_status_display()}", branch=_branch(c),
    )  # fmt: skip


def _nps(s: NpsSurvey) -> TimelineEntry:
    assert s.answered_at is not None
    return TimelineEntry(
        at=s.answered_at, kind="nps", object_id=s.pk,
        title=_("Survey answered: %(score)s of 10") % {"score": s.score}, detail=s.comment,
        branch=_branch(s),
    )  # fmt: skip


def _group_change(g: GroupChange) -> TimelineEntry:
    to_group = CustomerGroup(g.to_group).label
    title = (
        _("Group: %(from)s → %(to)s") % {"from": CustomerGroup(g.from_group).label, "to": to_group}
        if g.from_group
        else _("Group: %(to)s") % {"to": to_group}
    )
    return TimelineEntry(at=g.changed_at, kind="group_change", object_id=g.pk, title=title,
                         detail=rule_label(g.rule))  # fmt: skip


def _merge_entry(patient_id: int) -> Callable[[PatientMerge], TimelineEntry]:
    def entry(m: PatientMerge) -> TimelineEntry:
        if m.survivor_id == patient_id:
            title = _("Merged in: %(name)s") % {"name": m.merged.display_name}
        else:
            title = _("Merged into %(name)s") % {"name": m.survivor.display_name}
        return TimelineEntry(at=m.merged_at, kind="merge", object_id=m.pk, title=title,
                             detail=m.reason)  # fmt: skip

    return entry


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _imported_visit(show_money: bool) -> Callable[[HistoricalVisit], TimelineEntry]:
    def entry(v: HistoricalVisit) -> TimelineEntry:
        doctor = str(v.doctor) if v.doctor is not None else v.doctor_name
        return TimelineEntry(
            at=_start_of(v.visited_on), on=v.visited_on, kind="imported_visit", object_id=v.pk,
            title=_("Visit imported from %(system)s") % {"system": v.source_system},
            detail=" · ".join(filter(None, [v.description, doctor])), branch=_branch(v),
            amount=v.amount if show_money else None, currency=v.currency if show_money else "",
        )  # fmt: skip

    return entry


def _imported_payment(p: HistoricalPayment) -> TimelineEntry:
    return TimelineEntry(
        at=_start_of(p.paid_on), on=p.paid_on, kind="imported_payment", object_id=p.pk,
        title=_("Payment imported from %(system)s") % {"system": p.source_system},
        detail=" · ".join(filter(None, [p.method, p.reference])), branch=_branch(p),
        amount=p.amount, currency=p.currency,
    )  # fmt: skip


def _audit(e: AuditEvent) -> TimelineEntry:
    return TimelineEntry(
        at=e.occurred_at, kind="audit", object_id=e.pk,
        title=f"{e.get_action_display()}: {e.object_type}", detail=e.summary,
    )  # fmt: skip


def _sources(patient: Patient, user_caps: Collection[Capability]) -> list[Source]:
    C = Capability
    plans = TreatmentPlan.objects.select_related("branch", "doctor")
    return [
        Source("appointment", None,
               lambda p: Appointment.objects.filter(patient=p)
               .select_related("branch", "procedure", "doctor"), "starts_at", _appointment),
        Source("plan_presented", C.TREATMENT_VIEW, lambda p: plans.filter(patient=p),
               "presented_at", _plan("plan_presented", _("Plan presented"))),
        Source("plan_accepted", C.TREATMENT_VIEW, lambda p: plans.filter(patient=p),
               "accepted_at", _plan("plan_accepted", _("Plan accepted"))),
        Source("plan_declined", C.TREATMENT_VIEW, lambda p: plans.filter(patient=p),
               "declined_at", _plan("plan_declined", _("Plan declined"))),
        Source("procedure", C.TREATMENT_VIEW,
               lambda p: PerformedProcedure.objects.filter(patient=p)
               .select_related("branch", "procedure", "doctor"), "performed_at", _procedure),
        Source("invoice", C.MONEY_VIEW,
               lambda p: Invoice.objects.filter(patient=p).select_related("branch"),
               "issued_at", _invoice),
        Source("payment", C.MONEY_VIEW,
               lambda p: Payment.objects.filter(patient=p).select_related("branch"),
               "received_at", _payment),
        Source("refund", C.MONEY_VIEW,
               lambda p: Refund.objects.filter(patient=p).select_related("branch", "payment"),
               "refunded_at", _refund),
        Source("complaint", C.CARE_VIEW,
               lambda p: Complaint.objects.filter(patient=p).select_related("branch"),
               "received_at", _complaint),
        Source("nps", C.CARE_VIEW,
               lambda p: NpsSurvey.objects.filter(patient=p, answered_at__isnull=False)
               .select_related("branch"), "answered_at", _nps),
        Source("group_change", None, lambda p: GroupChange.objects.filter(patient=p),
               "changed_at", _group_change),
        Source("merge", None,
               lambda p: PatientMerge.objects.filter(Q(survivor=p) | Q(merged=p))
               .select_related("survivor", "merged"), "merged_at", _merge_entry(patient.pk)),
        # The old system's visits are shown as its appointments would be; their amounts
        # only with money.view.
        Source("imported_visit", None,
               lambda p: HistoricalVisit.objects.filter(patient=p)
               .select_related("branch", "doctor"), "visited_on",
               _imported_visit(C.MONEY_VIEW in user_caps), is_day=True),
        Source("imported_payment", C.MONEY_VIEW,
               lambda p: HistoricalPayment.objects.filter(patient=p).select_related("branch"),
               "paid_on", _imported_payment, is_day=True),
        # Looking at a record is not a touchpoint (and would drown the rest).
        Source("audit", C.AUDIT_VIEW,
               lambda p: AuditEvent.objects.filter(patient_id=p.pk)
               .exclude(action=AuditAction.VIEW), "occurred_at", _audit),
    ]  # fmt: skip


def _older_than(source: Source, cursor: Cursor | None) -> Q:
    """Rows of this source whose (time, kind, id) is below the cursor."""
    if cursor is None:
        return Q()
    if source.is_day:
        return _older_day(source, cursor)
    at, kind, object_id = cursor
    if source.kind < kind:
        return Q(**{f"{source.at}__lte": at})
    if source.kind > kind:
        return Q(**{f"{source.at}__lt": at})
    return Q(**{f"{source.at}__lt": at}) | Q(**{source.at: at, "pk__lt": object_id})


def _older_day(source: Source, cursor: Cursor) -> Q:
    """Rows of a day source whose (00:00 UTC of the day, kind, id) is below the cursor."""
    at, kind, object_id = cursor
    day = at.astimezone(UTC).date()
    if at != _start_of(day):  # the cursor is later in that day: the whole day is older
        return Q(**{f"{source.at}__lte": day})
    older = Q(**{f"{source.at}__lt": day})
    if source.kind < kind:
        return older | Q(**{source.at: day})
    if source.kind > kind:
        return older
    return older | Q(**{source.at: day, "pk__lt": object_id})


def patient_timeline(
    patient: Patient,
    *,
    user_caps: Collection[Capability],
    before: str | Cursor | None = None,
    limit: int = 100,
) -> TimelinePage:
    """The patient's newest `limit` touchpoints older than `before` (a cursor), showing
    only the kinds the capabilities allow."""
    limit = max(1, min(limit, MAX_LIMIT))
    cursor = parse_cursor(before) if isinstance(before, str) else before
    entries: list[TimelineEntry] = []
    for source in _sources(patient, user_caps):
        if source.capability is not None and source.capability not in user_caps:
            continue
        rows: QuerySet[Model] = (
            source.rows(patient)
            .filter(**{f"{source.at}__isnull": False})
            .filter(_older_than(source, cursor))
            .order_by(f"-{source.at}", "-pk")[: limit + 1]
        )
        entries += [source.entry(row) for row in rows]
    entries.sort(key=lambda e: e.key, reverse=True)
    has_more = len(entries) > limit
    shown = entries[:limit]
    return TimelinePage(entries=shown, next_before=shown[-1].cursor if has_more else None)
