"""The simulated clinic's lab work (issue 7): two or three labs per organisation with
published turnarounds of 5-10 days, and a case for each appointment whose procedure needs
one (crowns, bridges, implant abutments, aligners, appliances).

Each case is ordered some days before its appointment (the turnaround and a few days to
spare; for bookings further ahead than that, just before the simulated now, as clinics
order right after the preparation visit), sent the same or the next day, and comes back
after the lab's turnaround: most on time or a little early, about 10% late by 1-5 days,
and about 4% go back for a remake once. Statuses follow the simulated "now": what should
have come back by then is received (and quality-checked a few hours later), the rest is
still at the lab; cases of past appointments are always back before the visit. Rows are
plain inserts (ADR 5): no audit events, no services.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from django.db import transaction

from chairtime.labs.choices import CaseKind, LabCaseStatus
from chairtime.labs.models import Lab, LabCase
from chairtime.labs.selectors import kind_for
from chairtime.scheduling.choices import RELEASED_STATUSES
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch, Organization

LAB_NAMES = ("Precision Dental Lab", "Lotus Ceramics", "Aligna Ortho Lab")
LATE_SHARE = 0.10  # cases back after their due date
REMAKE_SHARE = 0.04  # cases returned for a remake once
SPARE_DAYS = (2, 6)  # days between the due date and the appointment, planned
KIND_EXTRA_DAYS = {CaseKind.ALIGNER: 5, CaseKind.IMPLANT_ABUTMENT: 2, CaseKind.BRIDGE: 2}
S = LabCaseStatus


class _Config(Protocol):  # the field of generator.SimulationConfig used here
    @property
    def seed(self) -> int: ...


@dataclass
class LabsResult:
    labs: int = 0
    cases: int = 0
    back: int = 0  # received or quality-checked at the simulated now
    pending: int = 0  # ordered, sent or returned
    overdue: int = 0  # pending and past their due date
    late: int = 0  # came back (or will) after their due date
    remakes: int = 0
    seconds: float = 0.0


def _make_labs(organization: Organization, rng: random.Random) -> list[Lab]:
    labs = []
    for name in LAB_NAMES[: rng.choice((2, 3))]:
        default = rng.randint(5, 10)
        per_kind = {kind: min(default + extra, 20) for kind, extra in KIND_EXTRA_DAYS.items()}
        labs.append(
            Lab(
                organization=organization,
                name=name,
                default_turnaround_days=default,
                turnaround_days=per_kind,
                phone=f"+84 28 {rng.randint(3000, 3999)} {rng.randint(1000, 9999)}",
            )
        )
    return Lab.objects.bulk_create(labs)


def _at(day: date, hour: int, branch: Branch) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=branch.zone)


class _Writer:
    def __init__(self, labs: list[Lab], rng: random.Random, now: datetime) -> None:
        self.labs, self.rng, self.now = labs, rng, now
        self.result = LabsResult(labs=len(labs))

    def case(self, appointment: Appointment, branch: Branch) -> LabCase:
        rng, now = self.rng, self.now
        lab = rng.choice(self.labs)
        kind = kind_for(appointment.procedure)
        turnaround = lab.turnaround_for(kind)
        visit_day = appointment.starts_at.astimezone(branch.zone).date()
        planned = _at(visit_day - timedelta(days=turnaround + rng.randint(*SPARE_DAYS)), 10, branch)
        ordered_at = min(planned, now - timedelta(hours=rng.randint(2, 72)))
        sent_at = ordered_at + timedelta(hours=rng.choice((2, 5, 24)))
        sent_day = sent_at.astimezone(branch.zone).date()
        due_on = sent_day + timedelta(days=turnaround)
        late = rng.random() < LATE_SHARE
        delay = rng.randint(1, 5) if late else rng.randint(-2, 0)
        received_at = _at(due_on + timedelta(days=delay), rng.randint(9, 16), branch)
        if appointment.starts_at <= now:  # the visit happened: the work was there
            latest = appointment.starts_at - timedelta(hours=rng.randint(2, 20))
            received_at = max(min(received_at, latest), sent_at + timedelta(hours=1))
        case = LabCase(
            branch=branch, patient_id=appointment.patient_id, lab=lab, kind=kind,
            teeth=[], status=S.ORDERED, due_on=due_on, appointment=appointment,
            ordered_at=ordered_at,
        )  # fmt: skip
        if sent_at <= now:
            case.status, case.sent_at = S.SENT, sent_at
            self._come_back(case, received_at, turnaround, branch)
        self._count(case, late)
        return case

    def _come_back(
        self, case: LabCase, received_at: datetime, turnaround: int, branch: Branch
    ) -> None:
        rng, now = self.rng, self.now
        if received_at > now:
            return
        case.status, case.received_at = S.RECEIVED, received_at
        checked_at = received_at + timedelta(hours=rng.randint(1, 4))
        if checked_at > now:
            return
        case.status, case.checked_at = S.QUALITY_CHECKED, checked_at
        if rng.random() >= REMAKE_SHARE:
            return
        # Returned for a remake: back at the lab, due again after the turnaround (only
        # when the remake could be back before a visit that already happened).
        due_again = checked_at.astimezone(branch.zone).date() + timedelta(days=turnaround)
        again = _at(due_again + timedelta(days=rng.randint(-1, 0)), rng.randint(9, 16), branch)
        visit = case.appointment.starts_at if case.appointment is not None else now
        if visit <= now and again >= visit - timedelta(hours=1):
            return
        case.status, case.returned_at, case.remake_count = S.RETURNED, checked_at, 1
        case.due_on = due_again
        case.step_note = rng.choice(("Shade too dark", "Margin open", "Contact too tight"))
        if again <= now:
            case.status, case.received_at = S.RECEIVED, again
            if again + timedelta(hours=2) <= now:
                case.status, case.checked_at = S.QUALITY_CHECKED, again + timedelta(hours=2)

    def _count(self, case: LabCase, late: bool) -> None:
        result = self.result
        result.cases += 1
        result.late += late
        result.remakes += case.remake_count
        if case.status in (S.RECEIVED, S.QUALITY_CHECKED):
            result.back += 1
        else:
            result.pending += 1
            today = self.now.astimezone(case.branch.zone).date()
            result.overdue += case.due_on is not None and case.due_on < today


def simulate_labs(
    config: _Config, organization: Organization, branches: Sequence[Branch],
    rng: random.Random | None = None, now: datetime | None = None,
) -> LabsResult:  # fmt: skip
    """The labs and lab cases of an organisation whose appointment book is made."""
    started = time.perf_counter()
    rng = rng or random.Random(f"{config.seed}:labs")
    if now is None:
        raise ValueError("simulate_labs needs the simulated now")
    with transaction.atomic():
        writer = _Writer(_make_labs(organization, rng), rng, now)
        cases: list[LabCase] = []
        for branch in branches:
            rows: Any = (
                Appointment.objects.filter(branch=branch, procedure__needs_lab_case=True)
                .exclude(status__in=RELEASED_STATUSES)
                .select_related("procedure")
                .order_by("starts_at", "pk")
            )
            cases.extend(writer.case(appointment, branch) for appointment in rows.iterator())
        LabCase.objects.bulk_create(cases, batch_size=1000)
    writer.result.seconds = time.perf_counter() - started
    return writer.result
