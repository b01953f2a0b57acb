"""Which tasks a branch should have now, and which open ones lost their reason: reads only.

`candidate_specs` turns what happened (completed treatments, accepted plans, recall dates,
absences, unconfirmed complex appointments, open complaints, birthdays) into task specs,
each with a cause key unique in the organisation; the services insert the new ones and
the simulator writes them as history. `vanished` names, per open task, the reason it no
longer holds. Patients who are merged, dead, or refuse service calls never get a spec.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from chairtime.care.choices import CancelReason, TaskKind, TaskStatus
from chairtime.care.models import CareTask
from chairtime.care.rules import (
    RuleValues,
    add_months,
    local_day,
    local_midnight,
    reactivation_kind,
)
from chairtime.care.selectors import (
    GONE,
    UPCOMING,
    RecallState,
    future_booking,
    get_rule_values,
    patients_booked_ahead,
    patients_refusing_calls,
    reachable,
    recall_states,
    today_of,
)
from chairtime.clinical.models import (
    OPEN_PLAN_STATUSES,
    OptionStatus,
    PerformedProcedure,
    TreatmentItem,
    TreatmentPlan,
)
from chairtime.clinical.selectors import unscheduled_items
from chairtime.crm.choices import ComplaintStatus
from chairtime.crm.models import Complaint, PatientProfile
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.tenancy.models import Branch

K = TaskKind
GRACE_DAYS = 2  # a post-treatment call whose day passed longer ago than this is not made
CONTINUATION_MAX_AGE_DAYS = 180  # plans accepted longer ago are left to the unscheduled list
REACTIVATION_GIVE_UP_MONTHS = 12  # after the 12-month call, a year more; then no new task
BIRTHDAY_RECENT_MONTHS = 24  # birthday calls go to patients seen in the last two years
CONFIRMATION_LOOKAHEAD = timedelta(hours=24)  # made a day ahead, so the list shows them
OPEN_COMPLAINT = (ComplaintStatus.OPEN, ComplaintStatus.IN_PROGRESS)
LEFT_THE_CHAIR = (AppointmentStatus.ARRIVED, AppointmentStatus.SEATED, AppointmentStatus.COMPLETED)
NO_SHOW_WINDOW = timedelta(days=7)  # no-shows of the last week get a follow-up call
# Kinds made for the patient's home branch, and where that branch is read (the same place
# the rule reads it): when the patient moves, their open task moves with them.
HOME_BRANCH_KINDS: dict[str, str] = {
    TaskKind.RECALL_DUE: "patient__profile__home_branch",
    TaskKind.REACTIVATION_6M: "patient__profile__home_branch",
    TaskKind.REACTIVATION_12M: "patient__profile__home_branch",
    TaskKind.BIRTHDAY: "patient__home_branch",
}


@dataclass(frozen=True)
class TaskSpec:
    """A task a branch should have: kind, patient, due time, and the cause behind it."""

    kind: str
    patient_id: int
    branch_id: int
    due_at: datetime
    cause_key: str
    cause_on: date | None = None
    appointment_id: int | None = None
    plan_id: int | None = None
    complaint_id: int | None = None
    doctor_id: int | None = None
    consultant_id: int | None = None
    owner_id: int | None = None  # a complaint's owner: the task goes to them


@dataclass(frozen=True)
class Context:
    """One branch at one instant, with its organisation's rules."""

    branch: Branch
    now: datetime
    today: date
    rules: dict[str, RuleValues]

    @classmethod
    def of(
        cls, branch: Branch, now: datetime, rules: dict[str, RuleValues] | None = None
    ) -> Context:
        today, _start = today_of(branch, now)
        return cls(branch, now, today, rules or get_rule_values(branch.organization_id))

    def midnight(self, day: date) -> datetime:
        return local_midnight(day, self.branch.zone)

    def day_of(self, at: datetime) -> date:
        return local_day(at, self.branch.zone)

    def is_on(self, kind: str) -> bool:
        return self.rules[kind].is_enabled


def assignment(rule: RuleValues, spec: TaskSpec) -> tuple[int | None, str]:
    """(person, role) a task goes to: a complaint's owner; else the patient's doctor or
    consultant when the rule says so and there is one; the rule's role in any case, so a
    task whose person leaves falls back to the role."""
    if spec.owner_id is not None:
        return spec.owner_id, rule.assign_role
    if rule.assign_to == "doctor" and spec.doctor_id is not None:
        return spec.doctor_id, rule.assign_role
    if rule.assign_to == "consultant" and spec.consultant_id is not None:
        return spec.consultant_id, rule.assign_role
    return None, rule.assign_role


# --- what should exist ------------------------------------------------------------------------
def candidate_specs(ctx: Context) -> list[TaskSpec]:
    """Every task the branch should have now (new or already made), one per cause key."""
    specs: dict[str, TaskSpec] = {}
    recall: list[RecallState] = []
    if ctx.is_on(K.RECALL_DUE) or ctx.is_on(K.REACTIVATION_6M) or ctx.is_on(K.REACTIVATION_12M):
        rule = ctx.rules[K.RECALL_DUE]
        recall = recall_states(
            branch=ctx.branch, now=ctx.now, due_to=ctx.today + timedelta(days=rule.offset),
            hand_over_after_days=rule.hand_over_after_days,
        )  # fmt: skip
    makers: list[Iterable[TaskSpec]] = [
        _post_treatment(ctx, K.POST_TREATMENT_DAY1),
        _post_treatment(ctx, K.POST_TREATMENT_DAY7),
        _continuation(ctx),
        _recall(ctx, recall),
        _reactivation(ctx),
        _handed_over(ctx, recall),
        _confirmation(ctx),
        _complaint(ctx),
        _birthday(ctx),
        _no_show(ctx),
    ]
    for made in makers:
        for spec in made:
            specs.setdefault(spec.cause_key, spec)
    return list(specs.values())


def _post_treatment(ctx: Context, kind: str) -> Iterator[TaskSpec]:
    """A call `offset` days after a completed visit with a procedure of the rule's
    categories, from its doctor (or the rule's role)."""
    if not ctx.is_on(kind):
        return
    rule = ctx.rules[kind]
    first_day = ctx.today - timedelta(days=rule.offset + GRACE_DAYS)
    performed = PerformedProcedure.objects.filter(appointment_id=OuterRef("pk"))
    if rule.categories:
        performed = performed.filter(procedure__category__in=rule.categories)
    visits = Appointment.objects.filter(
        branch=ctx.branch, status=AppointmentStatus.COMPLETED,
        starts_at__gte=ctx.midnight(first_day), starts_at__lt=ctx.now,
    ).filter(Exists(performed))  # fmt: skip
    visits = reachable(visits, patient_ref="patient_id", patient_path="patient__")
    for pk, patient_id, doctor_id, starts_at in visits.values_list(
        "pk", "patient_id", "doctor_id", "starts_at"
    ):
        day = ctx.day_of(starts_at) + timedelta(days=rule.offset)
        yield TaskSpec(
            kind, patient_id, ctx.branch.pk, ctx.midnight(day), f"{kind}:appointment:{pk}",
            cause_on=day, appointment_id=pk, doctor_id=doctor_id,
        )  # fmt: skip


def _continuation(ctx: Context) -> Iterator[TaskSpec]:
    """A call for an accepted plan with treatment still to book, `offset` days after the
    acceptance, when the patient has nothing booked."""
    kind = K.TREATMENT_CONTINUATION
    if not ctx.is_on(kind):
        return
    rule = ctx.rules[kind]
    waiting = TreatmentItem.objects.filter(
        unscheduled_items(), option__plan_id=OuterRef("pk"), option__status=OptionStatus.ACCEPTED
    )
    plans = (
        TreatmentPlan.objects.filter(
            branch=ctx.branch,
            status__in=OPEN_PLAN_STATUSES,
            accepted_at__lte=ctx.now - timedelta(days=rule.offset),
            accepted_at__gte=ctx.now - timedelta(days=CONTINUATION_MAX_AGE_DAYS),
        )
        .filter(Exists(waiting))
        .exclude(future_booking(ctx.now, "patient_id"))
    )
    plans = reachable(plans, patient_ref="patient_id", patient_path="patient__")
    for pk, patient_id, doctor_id, consultant_id, accepted_at in plans.values_list(
        "pk", "patient_id", "doctor_id", "consultant_id", "accepted_at"
    ):
        if accepted_at is None:  # an accepted plan has its time; the type does not know
            continue
        day = max(ctx.day_of(accepted_at) + timedelta(days=rule.offset), ctx.today)
        yield TaskSpec(
            kind, patient_id, ctx.branch.pk, ctx.midnight(day), f"{kind}:plan:{pk}",
            cause_on=ctx.day_of(accepted_at), plan_id=pk, doctor_id=doctor_id,
            consultant_id=consultant_id,
        )  # fmt: skip


def recall_key(patient_id: int, due_on: date) -> str:
    return f"{K.RECALL_DUE}:patient:{patient_id}:{due_on.isoformat()}"


def _recall(ctx: Context, states: list[RecallState]) -> Iterator[TaskSpec]:
    """A call `offset` days before the patient's recall date (no future booking); a recall
    found overdue is called today. Every patient on the recall list gets calls, so the list
    empties by work: booked, or lapsed to reactivation after the last unanswered call."""
    kind = K.RECALL_DUE
    if not ctx.is_on(kind):
        return
    rule = ctx.rules[kind]
    for state in states:
        if state.is_lapsed:
            continue
        day = max(state.due_on - timedelta(days=rule.offset), ctx.today)
        yield TaskSpec(
            kind, state.patient_id, ctx.branch.pk, ctx.midnight(day),
            recall_key(state.patient_id, state.due_on), cause_on=state.due_on,
            doctor_id=state.doctor_id,
        )  # fmt: skip


def confirmation_key(appointment_id: int, starts_at: datetime) -> str:
    """One confirmation call per appointment and start time: a rescheduled appointment
    (same row, new time) is called again."""
    return f"{K.CONFIRMATION_CALL}:appointment:{appointment_id}:{starts_at.astimezone(UTC):%Y%m%dT%H%M}"


def reactivation_key(kind: str, patient_id: int, last_visit_on: date | None) -> str:
    since = last_visit_on.isoformat() if last_visit_on else "never"
    return f"{kind}:patient:{patient_id}:{since}"


def _absence_kind(ctx: Context, last_visit_on: date) -> str:
    return reactivation_kind(
        last_visit_on, ctx.today, ctx.rules[K.REACTIVATION_6M].offset,
        ctx.rules[K.REACTIVATION_12M].offset,
    )  # fmt: skip


def _reactivation(ctx: Context) -> Iterator[TaskSpec]:
    """A call to patients absent 6 (or 12) months since their last visit, nothing booked;
    one per kind and last visit, so a patient who comes back starts afresh."""
    six, twelve = ctx.rules[K.REACTIVATION_6M], ctx.rules[K.REACTIVATION_12M]
    if not (six.is_enabled or twelve.is_enabled):
        return
    profiles = PatientProfile.objects.filter(
        home_branch=ctx.branch, organization_id=ctx.branch.organization_id,
        last_visit_on__lte=add_months(ctx.today, -six.offset),
        last_visit_on__gt=add_months(ctx.today, -(twelve.offset + REACTIVATION_GIVE_UP_MONTHS)),
    ).exclude(future_booking(ctx.now, "patient_id"))  # fmt: skip
    profiles = reachable(profiles, patient_ref="patient_id", patient_path="patient__")
    for patient_id, last_visit_on in profiles.values_list("patient_id", "last_visit_on"):
        kind = _absence_kind(ctx, last_visit_on) if last_visit_on is not None else ""
        if last_visit_on is None or not kind or not ctx.is_on(kind):
            continue
        months = ctx.rules[kind].offset
        day = max(add_months(last_visit_on, months), ctx.today)
        yield TaskSpec(
            kind, patient_id, ctx.branch.pk, ctx.midnight(day),
            reactivation_key(kind, patient_id, last_visit_on), cause_on=last_visit_on,
        )  # fmt: skip


def _handed_over(ctx: Context, states: list[RecallState]) -> Iterator[TaskSpec]:
    """A lapsed recall (long past due, every attempt used) becomes a reactivation task: the
    6-month one while the absence is shorter than 12 months (same key as the absence rule
    makes, so never two)."""
    for state in states:
        if not state.is_lapsed:
            continue
        last = state.last_visit_on
        kind = (_absence_kind(ctx, last) if last else "") or str(K.REACTIVATION_6M)
        if not ctx.is_on(kind):
            continue
        yield TaskSpec(
            kind, state.patient_id, ctx.branch.pk, ctx.midnight(ctx.today),
            reactivation_key(kind, state.patient_id, last), cause_on=last,
            doctor_id=state.doctor_id,
        )  # fmt: skip


def _confirmation(ctx: Context) -> Iterator[TaskSpec]:
    """A call `offset` hours before a booked (unconfirmed) appointment for a procedure of
    the rule's categories; made up to a day ahead."""
    kind = K.CONFIRMATION_CALL
    if not ctx.is_on(kind):
        return
    rule = ctx.rules[kind]
    hours = timedelta(hours=rule.offset)
    appointments = Appointment.objects.filter(
        branch=ctx.branch, status=AppointmentStatus.BOOKED, starts_at__gt=ctx.now,
        starts_at__lte=ctx.now + hours + CONFIRMATION_LOOKAHEAD,
    )  # fmt: skip
    if rule.categories:
        appointments = appointments.filter(procedure__category__in=rule.categories)
    appointments = reachable(appointments, patient_ref="patient_id", patient_path="patient__")
    for pk, patient_id, doctor_id, starts_at in appointments.values_list(
        "pk", "patient_id", "doctor_id", "starts_at"
    ):
        yield TaskSpec(
            kind, patient_id, ctx.branch.pk, starts_at - hours,
            confirmation_key(pk, starts_at), cause_on=ctx.day_of(starts_at), appointment_id=pk,
            doctor_id=doctor_id,
        )  # fmt: skip


def _complaint(ctx: Context) -> Iterator[TaskSpec]:
    """A call `offset` days after an open complaint was received, by its owner (or the
    rule's role)."""
    kind = K.COMPLAINT_FOLLOW_UP
    if not ctx.is_on(kind):
        return
    rule = ctx.rules[kind]
    complaints = Complaint.objects.filter(branch=ctx.branch, status__in=OPEN_COMPLAINT)
    complaints = reachable(complaints, patient_ref="patient_id", patient_path="patient__")
    for pk, patient_id, owner_id, doctor_id, received_at in complaints.values_list(
        "pk", "patient_id", "owner_id", "doctor_id", "received_at"
    ):
        yield TaskSpec(
            kind, patient_id, ctx.branch.pk, received_at + timedelta(days=rule.offset),
            f"{kind}:complaint:{pk}", cause_on=ctx.day_of(received_at), complaint_id=pk,
            owner_id=owner_id, doctor_id=doctor_id,
        )  # fmt: skip


def birthday_key(patient_id: int, birthday: date) -> str:
    return f"{K.BIRTHDAY}:patient:{patient_id}:{birthday.year}"


def _birthday(ctx: Context) -> Iterator[TaskSpec]:
    """A call `offset` days before a birthday (on the day by default), in the branch's
    today, to the branch's patients seen in the last two years."""
    kind = K.BIRTHDAY
    if not ctx.is_on(kind):
        return
    rule = ctx.rules[kind]
    target = ctx.today + timedelta(days=rule.offset)
    born = Q(birth_date__month=target.month, birth_date__day=target.day)
    if target.month == 2 and target.day == 28 and not calendar.isleap(target.year):
        born |= Q(birth_date__month=2, birth_date__day=29)
    patients: QuerySet[Patient] = Patient.objects.filter(
        born, home_branch=ctx.branch,
        profile__last_visit_on__gte=add_months(ctx.today, -BIRTHDAY_RECENT_MONTHS),
    )  # fmt: skip
    patients = reachable(patients, patient_ref="pk", patient_path="")
    for patient_id in patients.values_list("pk", flat=True):
        yield TaskSpec(
            kind, patient_id, ctx.branch.pk, ctx.midnight(ctx.today),
            birthday_key(patient_id, target), cause_on=target,
        )  # fmt: skip


def no_show_key(appointment_id: int) -> str:
    return f"no_show:appointment:{appointment_id}"


def later_visit(patient_ref: str = "patient_id", after_ref: str = "starts_at") -> Exists:
    """True when the patient has an appointment after the missed one that is booked, or
    that they came to: they have come back, or will."""
    return Exists(
        Appointment.objects.filter(
            patient_id=OuterRef(patient_ref), starts_at__gt=OuterRef(after_ref),
            status__in=(*UPCOMING, *LEFT_THE_CHAIR),
        )
    )  # fmt: skip


def _no_show(ctx: Context) -> Iterator[TaskSpec]:
    """A call `offset` hours after an appointment of the last week was marked a no-show,
    when the patient has booked nothing since. Found late (the run was down), it is due at
    the start of today rather than backdated."""
    kind = K.NO_SHOW_FOLLOW_UP
    if not ctx.is_on(kind):
        return
    hours = timedelta(hours=ctx.rules[kind].offset)
    missed = Appointment.objects.filter(
        branch=ctx.branch, status=AppointmentStatus.NO_SHOW,
        starts_at__gte=ctx.now - NO_SHOW_WINDOW, starts_at__lt=ctx.now,
    ).exclude(later_visit())  # fmt: skip
    missed = reachable(missed, patient_ref="patient_id", patient_path="patient__")
    start_of_today = ctx.midnight(ctx.today)
    for pk, patient_id, doctor_id, starts_at, no_show_at in missed.values_list(
        "pk", "patient_id", "doctor_id", "starts_at", "no_show_at"
    ):
        due = max((no_show_at or starts_at) + hours, start_of_today)
        yield TaskSpec(
            kind, patient_id, ctx.branch.pk, due, no_show_key(pk),
            cause_on=ctx.day_of(starts_at), appointment_id=pk, doctor_id=doctor_id,
        )  # fmt: skip


# --- who moved ---------------------------------------------------------------------------------
def home_branch_moves(ctx: Context) -> dict[int, int]:
    """Open tasks made for a patient's home branch that is no longer the task's branch, to
    or from this branch: task id -> the patient's (active) home branch now. The cause key
    names the patient, not the branch, so the task moves rather than being made anew."""
    by_path: dict[str, list[str]] = {}
    for kind, path in HOME_BRANCH_KINDS.items():
        by_path.setdefault(path, []).append(kind)
    moves: dict[int, int] = {}
    for path, kinds in by_path.items():
        tasks = (
            CareTask.objects.filter(
                organization_id=ctx.branch.organization_id, status=TaskStatus.OPEN, kind__in=kinds,
                **{f"{path}__is_active": True},
            )
            .filter(Q(branch_id=ctx.branch.pk) | Q(**{f"{path}_id": ctx.branch.pk}))
            .exclude(branch_id=F(f"{path}_id"))
        )  # fmt: skip
        moves.update(tasks.values_list("pk", f"{path}_id"))
    return moves


# --- what no longer holds -------------------------------------------------------------------
@dataclass(frozen=True)
class OpenTask:
    """The parts of an open task its reason is checked against."""

    pk: int
    kind: str
    patient_id: int
    cause_on: date | None
    appointment_id: int | None
    plan_id: int | None
    complaint_id: int | None
    cause_key: str = ""


def vanished(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    """Open tasks whose reason is gone, with the reason (a CancelReason value)."""
    if not tasks:
        return {}
    patient_ids = {t.patient_id for t in tasks}
    gone = set(
        Patient.objects.filter(pk__in=list(patient_ids), status__in=GONE).values_list(
            "pk", flat=True
        )
    )
    refusing = patients_refusing_calls(patient_ids)
    reasons: dict[int, str] = {}
    for task in tasks:
        if task.patient_id in gone:
            reasons[task.pk] = CancelReason.PATIENT_GONE
        elif task.patient_id in refusing:
            reasons[task.pk] = CancelReason.DO_NOT_CONTACT
    rest = [t for t in tasks if t.pk not in reasons]
    checks = (
        _booked, _confirmations, _plans, _complaints, _recalls, _absences, _birthdays, _no_shows,
    )  # fmt: skip
    for check in checks:
        found = check(ctx, [t for t in rest if t.pk not in reasons])
        reasons.update(found)
    return reasons


WAITING_FOR_A_BOOKING = frozenset(
    {K.TREATMENT_CONTINUATION, K.RECALL_DUE, K.REACTIVATION_6M, K.REACTIVATION_12M}
)


def _booked(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    """Calls to make a booking are moot once the patient has one."""
    waiting = [t for t in tasks if t.kind in WAITING_FOR_A_BOOKING]
    booked = patients_booked_ahead((t.patient_id for t in waiting), ctx.now)
    return {t.pk: CancelReason.BOOKED for t in waiting if t.patient_id in booked}


def _confirmations(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    calls = [t for t in tasks if t.kind == K.CONFIRMATION_CALL]
    found = {
        pk: (status, starts_at)
        for pk, status, starts_at in Appointment.objects.filter(
            pk__in=[t.appointment_id for t in calls if t.appointment_id]
        ).values_list("pk", "status", "starts_at")
    }
    reasons: dict[int, str] = {}
    for task in calls:
        status, starts_at = found.get(task.appointment_id or 0, (AppointmentStatus.CANCELLED, None))
        if status == AppointmentStatus.CONFIRMED:
            reasons[task.pk] = CancelReason.CONFIRMED
        elif status in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW):
            reasons[task.pk] = CancelReason.APPOINTMENT_CANCELLED
        elif status in LEFT_THE_CHAIR or (starts_at is not None and starts_at <= ctx.now):
            reasons[task.pk] = CancelReason.APPOINTMENT_STARTED
        elif starts_at is not None and task.cause_key != confirmation_key(
            task.appointment_id or 0, starts_at
        ):
            reasons[task.pk] = CancelReason.APPOINTMENT_MOVED  # a call for the new time comes
    return reasons


def _plans(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    calls = [t for t in tasks if t.kind == K.TREATMENT_CONTINUATION]
    waiting = TreatmentItem.objects.filter(
        unscheduled_items(), option__plan_id=OuterRef("pk"), option__status=OptionStatus.ACCEPTED
    )
    still = set(
        TreatmentPlan.objects.filter(
            pk__in=[t.plan_id for t in calls if t.plan_id], status__in=OPEN_PLAN_STATUSES
        )
        .filter(Exists(waiting))
        .values_list("pk", flat=True)
    )
    return {t.pk: CancelReason.PLAN_CLOSED for t in calls if t.plan_id not in still}


def _complaints(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    calls = [t for t in tasks if t.kind == K.COMPLAINT_FOLLOW_UP]
    still = set(
        Complaint.objects.filter(
            pk__in=[t.complaint_id for t in calls if t.complaint_id], status__in=OPEN_COMPLAINT
        ).values_list("pk", flat=True)
    )
    return {t.pk: CancelReason.COMPLAINT_RESOLVED for t in calls if t.complaint_id not in still}


def _recalls(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    """A recall task is about one recall date; a new procedure moves the date (a later date
    after a visit: the patient came)."""
    calls = [t for t in tasks if t.kind == K.RECALL_DUE]
    if not calls:
        return {}
    states = {
        s.patient_id: s
        for s in recall_states(
            branch=ctx.branch, now=ctx.now, patient_ids=[t.patient_id for t in calls]
        )
    }
    reasons: dict[int, str] = {}
    for task in calls:
        state = states.get(task.patient_id)
        if state is None or task.cause_on is None:
            reasons[task.pk] = CancelReason.RECALL_MOVED
        elif state.due_on > task.cause_on:
            reasons[task.pk] = CancelReason.VISITED
        elif state.due_on < task.cause_on:
            reasons[task.pk] = CancelReason.RECALL_MOVED
    return reasons


def _absences(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    """A reactivation task is about one last visit: a newer visit ends it, and a 6-month
    task gives way to the 12-month one."""
    calls = [t for t in tasks if t.kind in (K.REACTIVATION_6M, K.REACTIVATION_12M)]
    last_visits = dict(
        PatientProfile.objects.filter(patient_id__in=[t.patient_id for t in calls]).values_list(
            "patient_id", "last_visit_on"
        )
    )
    twelve = add_months(ctx.today, -ctx.rules[K.REACTIVATION_12M].offset)
    reasons: dict[int, str] = {}
    for task in calls:
        last = last_visits.get(task.patient_id)
        if last != task.cause_on:
            reasons[task.pk] = CancelReason.VISITED
        elif (
            task.kind == K.REACTIVATION_6M
            and last is not None
            and last <= twelve
            and ctx.is_on(K.REACTIVATION_12M)
        ):
            reasons[task.pk] = CancelReason.SUPERSEDED
    return reasons


def _birthdays(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    offset = timedelta(days=ctx.rules[K.BIRTHDAY].offset)
    return {
        t.pk: CancelReason.DAY_PASSED
        for t in tasks
        if t.kind == K.BIRTHDAY and t.cause_on is not None and t.cause_on - offset < ctx.today
    }


def _no_shows(ctx: Context, tasks: list[OpenTask]) -> dict[int, str]:
    """A no-show follow-up is moot once the patient booked again (or came since), or when
    the appointment turns out not to have been a no-show after all."""
    calls = [t for t in tasks if t.kind == K.NO_SHOW_FOLLOW_UP]
    if not calls:
        return {}
    found = {
        pk: (status, is_back)
        for pk, status, is_back in Appointment.objects.filter(
            pk__in=[t.appointment_id for t in calls if t.appointment_id]
        )
        .annotate(is_back=later_visit())
        .values_list("pk", "status", "is_back")
    }
    reasons: dict[int, str] = {}
    for task in calls:
        status, is_back = found.get(task.appointment_id or 0, ("", False))
        if status != AppointmentStatus.NO_SHOW:
            reasons[task.pk] = CancelReason.NO_SHOW_UNDONE
        elif is_back:
            reasons[task.pk] = CancelReason.BOOKED
    return reasons
