"""The appointment book the simulator makes up: months of history and the weeks ahead.

Each branch is filled one local day at a time, in order, to a share of its doctors'
working time (`SimulationConfig.utilisation`, cleaning buffers included). Appointments
are placed with a bitmap of 5-minute slots per doctor, nurse, chair and equipment unit
(see rota.py), so nothing overlaps and every appointment, buffer included, lies within
its doctor's working hours (and so within the branch's opening hours). A patient has at
most one appointment a week. Then each appointment gets a lead time (when it was booked)
and, once its day has passed, an outcome:

- lead time: many the same week, some one to three months ahead, recalls about six months
  ahead and monthly orthodontic adjustments a month ahead (booked at the previous visit);
- cancellations, likelier the further ahead it was booked; the patient's own under 24
  hours before are late ones (as `scheduling.services.cancel_appointment` counts them);
- no-shows, likelier the further ahead (about 2% the same day, 8-9% at two weeks, 13% at
  four and 18% at two months), two to three times likelier for the fifth of patients who
  are unreliable, and half as likely again once a patient has missed before; a fifth of
  them come after all when the clinic's automated reminders reached the patient
  (`reminder_reaches`, which the messaging step uses to write those reminders);
- the rest arrive (most a little early, some habitually late), wait, are seated and
  complete; now and then a walk-in.

"Now" is the start of `as_of` in the branch's time zone. A future day keeps only what was
booked before now, so the book thins out further ahead the way a real one does.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Protocol, cast

from django.db import transaction

from chairtime.clinical.models import CleaningBuffer, Procedure
from chairtime.patients.choices import PatientStatus, PreferredTime
from chairtime.patients.models import Patient
from chairtime.scheduling.choices import AppointmentStatus, CancelledBy
from chairtime.scheduling.models import Appointment
from chairtime.simulation.bulk import insert_rows, next_id
from chairtime.simulation.rota import SLOT_MINUTES, BranchRota, slot_range

if TYPE_CHECKING:
    from chairtime.simulation.treatment import PlanBook, PlanItem

S = AppointmentStatus
DAY = timedelta(days=1)
LATE_CANCELLATION = timedelta(hours=24)
# How often each rung of the product ladder is booked, per procedure.
TIER_WEIGHTS = {"experience": 10.0, "conversion": 4.0, "regular": 6.0, "flagship": 1.5,
                "word_of_mouth": 3.0, "brand": 0.7}  # fmt: skip
FIRST_VISITS = (("EXAM", 70), ("ORTHO-C", 15), ("SCALE", 10), ("WHITEN", 5))
FIRST_VISIT_FROM = 10 * 60 + 30  # new patients register at 10:00 (see generator.py)
RECENT_PATIENTS = timedelta(days=60)  # new patients come back for their treatment
VISIT_GAP_DAYS = 7  # at most one visit a week: a small practice's patients are not daily guests
WAITING_SHARE = 0.2  # of bookings: a patient with accepted treatment to book (see treatment.py)
MOST_FAILURES = 40  # a day is full once this many attempts found no room
PATIENT_REASONS = ("Feeling unwell", "Work commitment", "Travelling", "Family matter",
                   "Cost", "Booked elsewhere", "No reason given")  # fmt: skip
CLINIC_REASONS = ("Doctor unavailable", "Equipment maintenance", "Lab work not ready")
PREFERENCE_MINUTES = {
    PreferredTime.WEEKDAY_MORNINGS: (7 * 60, 12 * 60),
    PreferredTime.WEEKDAY_AFTERNOONS: (12 * 60, 17 * 60),
    PreferredTime.WEEKDAY_EVENINGS: (17 * 60, 21 * 60 + 30),
}
APPOINTMENT_COLUMNS = (
    "id", "branch", "patient", "procedure", "doctor", "assistant", "chair", "starts_at",
    "ends_at", "blocked_until", "status", "is_walk_in", "is_overbooked", "booked_by",
    "confirmed_at", "arrived_at", "seated_at", "completed_at", "cancelled_at", "no_show_at",
    "cancelled_by", "cancel_reason", "is_late_cancellation", "rescheduled_count", "notes",
    "created_at", "updated_at",
)  # fmt: skip


# Reminders (chairtime/messaging, default rules: 1 day and 3 hours before) reach 92% of
# appointments booked at least an hour ahead (the rest: no usable address, refused): the
# ones that arrive make a no-show a fifth less likely (studies of SMS reminders find
# relative reductions of 20-40%; we take the low end). A fifth of the no-shows drawn for
# reached appointments come after all (`reminder_rescues`), which leaves the book's own
# generator untouched.
REMINDER_REACH = 0.92
REMINDER_EFFECT = 0.8
_GOLDEN = 0x9E3779B1  # Knuth's multiplicative hash: a fixed, well-spread pseudo-random draw
_RESCUE = 0x85EBCA6B  # another odd multiplier: a draw independent of the reach


def reminder_reaches(starts_at: datetime, booked_at: datetime, *, walk_in: bool = False) -> bool:
    """Whether the simulated clinic's reminders reached this appointment's patient: booked
    an hour or more ahead, not a walk-in, and one of the 92% with a usable address, drawn
    from its start and booking times (so the same seed decides the same, whatever ids the
    database gives). The messaging step writes reminders for exactly these."""
    if walk_in or starts_at - booked_at < timedelta(hours=1):
        return False
    key = int(starts_at.timestamp()) * 31 + int(booked_at.timestamp())
    return (key * _GOLDEN) % 2**32 < REMINDER_REACH * 2**32


def reminder_rescues(starts_at: datetime, booked_at: datetime) -> bool:
    """Whether a no-show the book drew for this appointment does not happen because a
    reminder reached the patient: for 1 - REMINDER_EFFECT of the reached ones."""
    if not reminder_reaches(starts_at, booked_at):
        return False
    key = int(starts_at.timestamp()) * 37 + int(booked_at.timestamp())
    return ((key * _RESCUE) >> 7) % 2**32 < (1 - REMINDER_EFFECT) * 2**32


def no_show_probability(lead_days: float) -> float:
    """For a patient of average reliability with no earlier no-show."""
    return 0.02 + 0.18 * (1 - math.exp(-lead_days / 30))


def cancel_probability(lead_days: float) -> float:
    return 0.03 + 0.09 * (1 - math.exp(-lead_days / 30))


@dataclass(frozen=True)
class Bookable:
    """A catalogue procedure as the booking step needs it."""

    id: int
    code: str
    category: str
    minutes: int
    buffer_minutes: int
    needs_assistant: bool
    recall_months: int | None
    equipment: tuple[str, ...]
    weight: float
    tier: str = ""


def bookables(procedures: Sequence[Procedure]) -> list[Bookable]:
    return [
        Bookable(
            id=p.pk, code=p.code, category=p.category, minutes=p.default_duration_minutes,
            buffer_minutes=CleaningBuffer.default_minutes(p.category),
            needs_assistant=p.needs_assistant, recall_months=p.recall_interval_months,
            equipment=tuple(p.equipment_codes), weight=TIER_WEIGHTS[p.ladder_tier],
            tier=p.ladder_tier,
        )
        for p in procedures
    ]  # fmt: skip


@dataclass(frozen=True)
class BookingWindow:
    first_day: date  # the first day of history
    as_of: date  # "today": from here on, the future book
    last_day: date  # the last day of the future book
    utilisation: float


class Clinic(Protocol):
    """What happens around the book: plans presented at consultations and booked at later
    visits (treatment.py), then production and money once the branch's book is full."""

    def plans_for(self, rota: BranchRota) -> PlanBook: ...

    def after_book(
        self, rota: BranchRota, plans: PlanBook, rows: Sequence[tuple[Any, ...]]
    ) -> None: ...


def book_branches(
    seed: int,
    window: BookingWindow,
    rotas: Sequence[BranchRota],
    procedures: Sequence[Bookable],
    durations: dict[tuple[int, int], int],
    progress: Any = None,
    clinic: Clinic | None = None,
) -> int:
    """Fill every branch's book, one transaction per branch; returns how many were made.
    Each branch has a random generator of its own, seeded from `seed` and its code."""
    made = 0
    for rota in rotas:
        rng = random.Random(f"{seed}:book:{rota.branch.code}")
        with transaction.atomic():
            plans = clinic.plans_for(rota) if clinic is not None else None
            book = _BranchBook(rng, window, rota, procedures, durations, plans)
            made += book.fill()
            if clinic is not None and plans is not None:
                clinic.after_book(rota, plans, book.rows)
        if progress is not None:
            progress.update(1)
    return made


# --- patients ----------------------------------------------------------------------------
class _Patients:
    """A branch's patients in order of first visit, with the habits the simulator gives
    them: how often they come, how reliable and how punctual they are."""

    def __init__(self, rng: random.Random, branch_id: int) -> None:
        rows = list(
            Patient.objects.filter(home_branch_id=branch_id)
            .order_by("pk")
            .values_list(
                "pk", "first_seen_on", "created_at", "preferred_doctor_id", "preferred_times",
                "source_channel__code", "status", "display_name",
            )
        )  # fmt: skip
        self.ids = [row[0] for row in rows]
        # Ascending: numbers follow first visits (and the simulator always gives the date).
        self.first_seen = cast("list[date]", [row[1] for row in rows])
        self.created_at = [row[2] for row in rows]
        self.doctor = [row[3] for row in rows]
        self.times = [row[4] for row in rows]
        self.walks_in = [row[5] == "walk-in" for row in rows]
        self.names = [row[7] for row in rows]
        active = [row[6] == PatientStatus.ACTIVE for row in rows]
        # Half come rarely, a third now and then, a sixth often (treatments, braces).
        weights = [
            (0.4 if (r := rng.random()) < 0.5 else 1.0 if r < 0.85 else 4.0) * is_active
            for is_active in active
        ]
        self.active = active
        self.cumulative = list(accumulate(weights))
        self.reliability = [2.2 if rng.random() < 0.2 else 0.7 for _ in rows]  # mean 1.0
        self.punctuality = [6.0 if rng.random() < 0.2 else -6.0 for _ in rows]  # minutes late
        self.no_shows = [0] * len(rows)
        self.last_visit = [-VISIT_GAP_DAYS] * len(rows)  # day ordinals

    def pick(self, rng: random.Random, day: date) -> int | None:
        """A patient first seen before `day` (index), often one seen recently."""
        known = bisect_left(self.first_seen, day)
        if known == 0:
            return None
        if rng.random() < 0.35:
            recent = bisect_left(self.first_seen, day - RECENT_PATIENTS)
            if recent < known:
                index = rng.randrange(recent, known)
                return index if self.active[index] else None
        total = self.cumulative[known - 1]
        if total <= 0:
            return None
        return bisect_right(self.cumulative, rng.random() * total, 0, known - 1)

    def first_seen_on(self, day: date) -> range:
        return range(bisect_left(self.first_seen, day), bisect_right(self.first_seen, day))


# --- one branch --------------------------------------------------------------------------
@dataclass
class _Placement:
    doctor: int
    start: int  # slot
    minutes: int
    slots: int  # procedure and cleaning buffer
    chair: int
    assistant: int | None
    equipment: list[int]


class _Day:
    """One local day of a branch: what is still free, slot by slot."""

    def __init__(self, rota: BranchRota, day: date) -> None:
        weekday = day.weekday()
        opening = rota.opening[weekday]
        self.weekday = weekday
        self.doctors = {
            c.id: c.weekly[weekday]
            for c in rota.doctors
            if weekday in c.weekly and day not in c.away
        }
        self.home_chair = {c.id: n for n, c in enumerate(rota.doctors)}  # doctors keep a chair
        self.nurses: list[list[Any]] = [  # [id, free slots, categories]
            [c.id, c.weekly[weekday], c.categories]
            for c in rota.nurses
            if weekday in c.weekly and day not in c.away
        ]
        self.chairs = [[chair, opening] for chair in rota.chairs]  # [id, free slots]
        self.equipment = {
            code: [[pk, opening] for _ in range(units)]
            for code, (pk, units) in rota.equipment.items()
        }
        self.qualified: dict[str, list[int]] = {}
        for clinician in rota.doctors:
            if clinician.id in self.doctors:
                for category in clinician.categories:
                    self.qualified.setdefault(category, []).append(clinician.id)
        self.capacity = sum(mask.bit_count() for mask in self.doctors.values())


class _BranchBook:
    def __init__(
        self,
        rng: random.Random,
        window: BookingWindow,
        rota: BranchRota,
        procedures: Sequence[Bookable],
        durations: dict[tuple[int, int], int],
        plans: PlanBook | None = None,
    ) -> None:
        self.rng, self.window, self.rota, self.durations = rng, window, rota, durations
        self.plans = plans
        self.procedures = list(procedures)
        self.cumulative = list(accumulate(p.weight for p in procedures))
        by_code = {p.code: p for p in procedures}
        self.first_visits = [(by_code[code], weight) for code, weight in FIRST_VISITS]
        self.patients = _Patients(rng, rota.branch.pk)
        self.midnights: dict[date, datetime] = {}
        self.now = self.midnight(window.as_of)
        self.rows: list[tuple[Any, ...]] = []
        self.equipment_rows: list[tuple[int, int]] = []
        self.next_id = next_id(Appointment)

    def fill(self) -> int:
        day = self.window.first_day
        while day <= self.window.last_day:
            if day not in self.rota.closed and day.weekday() in self.rota.opening:
                self._fill_day(day)
            day += DAY
        # Latest first: the SQLite no-overlap triggers then only scan a few index entries.
        self.rows.sort(key=lambda row: row[7], reverse=True)
        insert_rows(Appointment, APPOINTMENT_COLUMNS, self.rows)
        insert_rows(Appointment.equipment.through, ("appointment", "equipment"),
                    self.equipment_rows)  # fmt: skip
        return len(self.rows)

    def _fill_day(self, day: date) -> None:
        rng, today = self.rng, _Day(self.rota, day)
        if not today.doctors:
            return
        for index in self.patients.first_seen_on(day):
            if self.patients.active[index]:
                weights = [weight for _, weight in self.first_visits]
                procedure = rng.choices([p for p, _ in self.first_visits], weights=weights)[0]
                self._book(today, day, procedure, index, first_visit=True)
        target = today.capacity * self.window.utilisation * rng.uniform(0.9, 1.1)
        booked = self._used(today)
        failures = 0
        plans, day_start = self.plans, self.midnight(day)
        while booked < target and failures < MOST_FAILURES:
            procedure = self.procedures[
                bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
            ]
            item = patient = None
            if plans is not None and rng.random() < WAITING_SHARE:
                patient = plans.waiting_patient(rng)
                item = None if patient is None else plans.next_for(patient, day_start)
            if item is None:
                patient = self.patients.pick(rng, day)
                if plans is not None and patient is not None:
                    item = plans.next_for(patient, day_start)
            if item is not None:
                procedure = item.procedure
            slots = None if patient is None else self._book(today, day, procedure, patient, item)
            booked += slots or 0
            failures += slots is None

    def _used(self, today: _Day) -> int:
        return today.capacity - sum(mask.bit_count() for mask in today.doctors.values())

    def _book(
        self,
        today: _Day,
        day: date,
        procedure: Bookable,
        index: int,
        item: PlanItem | None = None,
        first_visit: bool = False,
    ) -> int | None:
        """Place one appointment and record it; returns the doctor slots it takes."""
        if day.toordinal() - self.patients.last_visit[index] < VISIT_GAP_DAYS:
            return None
        earliest = FIRST_VISIT_FROM // SLOT_MINUTES if first_visit else 0
        placement = self._place(today, procedure, index, earliest)
        if placement is None:
            return None
        self.patients.last_visit[index] = day.toordinal()
        self._record(day, procedure, index, placement, first_visit, item)
        return placement.slots

    # --- where and with whom ------------------------------------------------------------
    def _place(
        self, today: _Day, procedure: Bookable, index: int, earliest: int
    ) -> _Placement | None:
        rng = self.rng
        qualified = today.qualified.get(procedure.category)
        if not qualified:
            return None
        preferred = self.patients.doctor[index]
        if preferred in qualified and rng.random() < 0.8:
            doctors = [preferred]
        else:
            doctors = [qualified[rng.randrange(len(qualified))]]
        if len(qualified) > 1:  # a second choice when the first is full
            doctors.append(qualified[rng.randrange(len(qualified))])
        wanted = self._preferred_slots(today.weekday, index)
        for doctor in doctors:
            minutes = self.durations.get((doctor, procedure.id), procedure.minutes)
            slots = (minutes + procedure.buffer_minutes) // SLOT_MINUTES
            free = today.doctors[doctor]
            starts = _starts(free, slots) >> earliest << earliest
            if starts & wanted and rng.random() < 0.75:
                starts &= wanted
            snug = starts & ~(free << 1)  # right after a booking or a shift start: no gaps
            placement = self._first_fit(today, procedure, doctor, snug or starts, minutes, slots)
            if placement is not None:
                return placement
        return None

    def _first_fit(
        self, today: _Day, procedure: Bookable, doctor: int, starts: int, minutes: int, slots: int
    ) -> _Placement | None:
        positions = _bits(starts)
        if not positions:
            return None
        offset = self.rng.randrange(len(positions))
        chairs = today.chairs
        home = today.home_chair[doctor] % len(chairs)
        for start in (positions[offset:] + positions[:offset])[:24]:
            mask = ((1 << slots) - 1) << start
            chair = next((c for c in chairs[home:] + chairs[:home] if c[1] & mask == mask), None)
            if chair is None:
                continue
            nurse = None
            if procedure.needs_assistant:
                nurse = next(
                    (n for n in today.nurses
                     if n[1] & mask == mask and procedure.category in n[2]), None,
                )  # fmt: skip
                if nurse is None:
                    continue
            units = []
            for code in procedure.equipment:
                unit = next((u for u in today.equipment[code] if u[1] & mask == mask), None)
                if unit is None:
                    break
                units.append(unit)
            if len(units) < len(procedure.equipment):
                continue
            today.doctors[doctor] &= ~mask
            for held in (chair, nurse, *units):
                if held is not None:
                    held[1] &= ~mask
            return _Placement(doctor, start, minutes, slots, chair[0],
                              nurse[0] if nurse else None, [u[0] for u in units])  # fmt: skip
        return None

    def _preferred_slots(self, weekday: int, index: int) -> int:
        """The start slots the patient prefers on this weekday (0: no preference)."""
        wanted = 0
        for preference in self.patients.times[index]:
            if preference == PreferredTime.WEEKENDS:
                if weekday >= 5:
                    wanted = (1 << (24 * 60 // SLOT_MINUTES)) - 1
            elif weekday < 5:
                wanted |= slot_range(*PREFERENCE_MINUTES[preference])
        return wanted

    # --- when it was booked and how it went ---------------------------------------------
    def midnight(self, day: date) -> datetime:
        """Local midnight as UTC, with the day's daytime offset: exact for every time from
        3 a.m. on, which is all a clinic's day needs on a daylight-saving day."""
        instant = self.midnights.get(day)
        if instant is None:
            offset = datetime.combine(day, clock(12), tzinfo=self.rota.zone).utcoffset()
            assert offset is not None
            instant = (datetime.combine(day, clock(0)) - offset).replace(tzinfo=UTC)
            self.midnights[day] = instant
        return instant

    def _record(
        self,
        day: date,
        procedure: Bookable,
        index: int,
        placement: _Placement,
        first_visit: bool,
        item: PlanItem | None = None,
    ) -> None:
        rng, patients = self.rng, self.patients
        starts_at = self.midnight(day) + timedelta(minutes=placement.start * SLOT_MINUTES)
        is_past = day < self.window.as_of
        walk_in = is_past and patients.walks_in[index] if first_visit else False
        if walk_in:
            booked_at = starts_at - timedelta(minutes=rng.randint(2, 15))
        elif first_visit:
            booked_at = patients.created_at[index]  # registered and booked the same morning
        else:
            booked_at = max(self._booked_at(day, placement.start, procedure),
                            patients.created_at[index])  # fmt: skip
            if item is not None and item.plan is not None and item.plan.accepted_at is not None:
                # Not before the plan was accepted (usually at the visit before).
                booked_at = max(booked_at, item.plan.accepted_at + timedelta(minutes=5))
            walk_in = (
                is_past and starts_at - booked_at < timedelta(hours=3) and (rng.random() < 0.15)
            )
            if walk_in:
                booked_at = starts_at - timedelta(minutes=rng.randint(2, 15))
        if booked_at >= self.now:
            return  # booked after "now": not in the book yet
        outcome = self._outcome(day, starts_at, booked_at, index, placement.minutes, walk_in)
        status, confirmed, arrived, seated, completed, cancelled, no_show, by, late = outcome
        stamps = [t for t in (confirmed, arrived, seated, completed, cancelled, no_show) if t]
        appointment_id = self.next_id
        self.next_id += 1
        receptionists = self.rota.receptionists
        self.rows.append((
            appointment_id, self.rota.branch.pk, patients.ids[index], procedure.id,
            placement.doctor, placement.assistant, placement.chair, starts_at,
            starts_at + timedelta(minutes=placement.minutes),
            starts_at + timedelta(minutes=placement.slots * SLOT_MINUTES), status, walk_in,
            False, receptionists[rng.randrange(len(receptionists))] if receptionists else None,
            confirmed, arrived, seated, completed, cancelled, no_show, by,
            rng.choice(CLINIC_REASONS if by == CancelledBy.CLINIC else PATIENT_REASONS)
            if cancelled else "",
            late, 0, "", booked_at, max(stamps, default=booked_at),
        ))  # fmt: skip
        self.equipment_rows += [(appointment_id, unit) for unit in placement.equipment]
        if self.plans is not None:
            if item is not None:
                self.plans.booked(item, appointment_id, status, completed)
            elif status == S.COMPLETED and completed is not None:
                self.plans.consulted(
                    index=index, patient_id=patients.ids[index], patient_name=patients.names[index],
                    code=procedure.code, first_visit=first_visit, doctor=placement.doctor,
                    completed_at=completed,
                )  # fmt: skip

    def _booked_at(self, day: date, start_slot: int, procedure: Bookable) -> datetime:
        """When the appointment was made: a lead time in days, then a time of day."""
        rng = self.rng
        lead = _lead_days(rng, procedure)
        start_minute = start_slot * SLOT_MINUTES
        if lead == 0 and start_minute - 15 < 7 * 60:
            lead = 1  # nobody books a 7:30 appointment at 7:20
        if lead == 0:
            minute = rng.randint(7 * 60, start_minute - 15)
        else:
            minute = rng.randint(7 * 60 + 30, 20 * 60)
        return self.midnight(day - timedelta(days=lead)) + timedelta(
            minutes=minute, seconds=rng.randint(0, 59)
        )

    def _outcome(
        self,
        day: date,
        starts_at: datetime,
        booked_at: datetime,
        index: int,
        minutes: int,
        walk_in: bool,
    ) -> tuple[Any, ...]:
        """(status, confirmed, arrived, seated, completed, cancelled, no-show, cancelled by,
        late cancellation)."""
        rng, patients = self.rng, self.patients
        lead = (starts_at - booked_at).total_seconds() / 86400
        is_past = starts_at < self.now
        if not walk_in and rng.random() < cancel_probability(lead):
            by = CancelledBy.CLINIC if rng.random() < 0.2 else CancelledBy.PATIENT
            cancelled_at = self._cancelled_at(starts_at, booked_at, by)
            if cancelled_at is not None and cancelled_at < self.now:
                late = by == CancelledBy.PATIENT and starts_at - cancelled_at < LATE_CANCELLATION
                return (S.CANCELLED, None, None, None, None, cancelled_at, None, by, late)
        if not is_past:
            confirmed = self._confirmed_at(day, starts_at, booked_at, 0.75)
            if confirmed is not None and confirmed >= self.now:
                confirmed = None
            status = S.CONFIRMED if confirmed else S.BOOKED
            return (status, confirmed, None, None, None, None, None, "", False)
        chance = no_show_probability(lead) * patients.reliability[index]
        if patients.no_shows[index]:
            chance *= 1.5
        if not walk_in and rng.random() < min(chance, 0.6):
            patients.no_shows[index] += 1
            confirmed = self._confirmed_at(day, starts_at, booked_at, 0.3)
            no_show = starts_at + timedelta(minutes=rng.randint(15, 40))
            # The reminder changes the visit, not the patient's habit (still counted above).
            if reminder_rescues(starts_at, booked_at):
                return self._reminded(starts_at, booked_at, index, minutes, confirmed)
            return (S.NO_SHOW, confirmed, None, None, None, None, no_show, "", False)
        if walk_in:
            confirmed, arrived = None, booked_at
        else:
            confirmed = self._confirmed_at(day, starts_at, booked_at, 0.8)
            lateness = min(45.0, max(-30.0, rng.gauss(patients.punctuality[index], 6)))
            arrived = starts_at + timedelta(seconds=int(lateness * 60))
        seated = max(arrived, starts_at) + timedelta(seconds=rng.randint(0, 600))
        completed = seated + timedelta(seconds=int(minutes * 60 * rng.uniform(0.85, 1.2)))
        return (S.COMPLETED, confirmed, arrived, seated, completed, None, None, "", False)

    def _reminded(
        self, starts_at: datetime, booked_at: datetime, index: int, minutes: int,
        confirmed: datetime | None,
    ) -> tuple[Any, ...]:  # fmt: skip
        """A patient who would have missed and came because a reminder reached them. Their
        times are drawn from a generator of the appointment's own, so the book's generator
        runs exactly as it would without reminders (the book, its ids and every later
        step stay the same; only these appointments change from no-show to completed)."""
        draw = random.Random(int(starts_at.timestamp()) * 31 + int(booked_at.timestamp()))
        lateness = min(45.0, max(-30.0, draw.gauss(self.patients.punctuality[index], 6)))
        arrived = starts_at + timedelta(seconds=int(lateness * 60))
        seated = max(arrived, starts_at) + timedelta(seconds=draw.randint(0, 600))
        completed = seated + timedelta(seconds=int(minutes * 60 * draw.uniform(0.85, 1.2)))
        return (S.COMPLETED, confirmed, arrived, seated, completed, None, None, "", False)

    def _confirmed_at(
        self, day: date, starts_at: datetime, booked_at: datetime, chance: float
    ) -> datetime | None:
        """The reply to the reminder sent the day before, in office hours; or none."""
        if starts_at - booked_at < DAY or self.rng.random() >= chance:
            return None
        replied_at = self.midnight(day - DAY) + timedelta(
            minutes=self.rng.randint(9 * 60, 18 * 60), seconds=self.rng.randint(0, 59)
        )
        return replied_at if booked_at < replied_at else None

    def _cancelled_at(self, starts_at: datetime, booked_at: datetime, by: str) -> datetime | None:
        """A third of patients cancel late (under 24 hours before); the clinic cancels at
        least two hours before. None when there was no time to cancel in."""
        rng = self.rng
        earliest, latest = booked_at + timedelta(minutes=10), starts_at - timedelta(minutes=30)
        if by == CancelledBy.CLINIC:
            latest = max(earliest, starts_at - timedelta(hours=2))
        elif rng.random() < 0.35:
            earliest = max(earliest, starts_at - LATE_CANCELLATION)
        else:
            latest = max(earliest, min(latest, starts_at - LATE_CANCELLATION))
        if latest <= earliest or latest >= starts_at:
            return None
        return earliest + timedelta(
            seconds=rng.randint(0, int((latest - earliest).total_seconds()))
        )


def _lead_days(rng: random.Random, procedure: Bookable) -> int:
    """How many days ahead an appointment is booked."""
    if procedure.recall_months == 1 and rng.random() < 0.8:
        return rng.randint(25, 35)  # the next adjustment, booked at this one
    roll = rng.random()
    if roll < 0.14:
        return 0
    if roll < 0.50:
        return rng.randint(1, 7)
    if roll < 0.74:
        return rng.randint(8, 27)
    if roll < 0.90 or procedure.recall_months is None:
        return rng.randint(28, 90)
    return procedure.recall_months * 30 + rng.randint(-10, 10)  # booked at the last visit


def _starts(free: int, slots: int) -> int:
    """The slots where `slots` free slots in a row begin (a run-length AND, doubling)."""
    runs, span = free, 1
    while span < slots:
        step = min(span, slots - span)
        runs &= runs >> step
        span += step
    return runs


def _bits(mask: int) -> list[int]:
    positions = []
    while mask:
        lowest = mask & -mask
        positions.append(lowest.bit_length() - 1)
        mask ^= lowest
    return positions
