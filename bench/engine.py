"""How fast the scheduling engine answers on a full branch: slot searches and checks.

    .venv/bin/python bench/engine.py              # 200 runs per case
    .venv/bin/python bench/engine.py --runs 50 --seed 7

Builds one branch in memory (no database, no Django): 12 chairs and 10 doctors in
Asia/Ho_Chi_Minh, open Monday to Friday 08:00-20:00 and Saturday 08:00-17:00, with six
months of bookings (30-90 minute procedures, 10-minute cleaning buffers) filling about
85% of the doctors' hours. Then it times `find_openings` for "the next 10 openings for a
60-minute procedure, any doctor, weekday evenings (Monday to Friday 17:00-20:00)" from
several points in time, and `check_proposal`, and prints a table whose last column is
the 95th percentile against the 50 ms goal. See README.md.
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chairtime.engine import check_proposal, find_openings
from chairtime.engine.types import (
    Booking,
    Interval,
    Proposal,
    Resource,
    ResourceKey,
    ResourceKind,
    Schedule,
    SlotRequest,
    TimePreference,
    WeeklyWindow,
)

ZONE_NAME = "Asia/Ho_Chi_Minh"
ZONE = ZoneInfo(ZONE_NAME)
FIRST_DAY = date(2027, 1, 4)  # a Monday
WEEKS = 26
DOCTORS = tuple(range(1, 11))
CHAIRS = tuple(range(1, 13))
BUFFER = timedelta(minutes=10)
BOOKED_SHARE = 0.895  # of the slots laid end to end; the day's unusable tail brings it to ~85%
GOAL_MS = 50.0
HOURS = (
    *(WeeklyWindow(weekday, time(8), time(20)) for weekday in range(5)),
    WeeklyWindow(5, time(8), time(17)),
)
EVENINGS = TimePreference(frozenset(range(5)), time(17), time(20))


@dataclass
class Branch:
    schedule: Schedule
    utilisation: float  # blocked time of bookings / doctors' working time


# --- the branch ----------------------------------------------------------------------------
def local(day: date, clock: time) -> datetime:
    """Wall clock in the branch, as a UTC instant (the database hands out UTC)."""
    return datetime.combine(day, clock, tzinfo=ZONE).astimezone(UTC)


def build_branch(seed: int) -> Branch:
    """Each doctor's day laid out as back-to-back slots of 40-100 minutes (procedure plus
    buffer); most are booked, in the doctor's own chair or a free one, the rest stay free."""
    rng = random.Random(seed)
    bookings: list[Booking] = []
    chair_busy: dict[tuple[int, date], list[Interval]] = {}
    working = timedelta(0)
    for offset in range(WEEKS * 7):
        day = FIRST_DAY + timedelta(days=offset)
        for window in (w for w in HOURS if w.weekday == day.weekday()):
            opens, closes = local(day, window.start), local(day, window.end)
            working += (closes - opens) * len(DOCTORS)
            for doctor in DOCTORS:
                _fill_doctor_day(rng, doctor, day, opens, closes, chair_busy, bookings)
    resources = {
        key: Resource(key=key, weekly=HOURS)
        for key in [ResourceKey(ResourceKind.DOCTOR, d) for d in DOCTORS]
        + [ResourceKey(ResourceKind.CHAIR, c) for c in CHAIRS]
    }
    blocked = sum((b.interval.end - b.interval.start for b in bookings), timedelta(0))
    schedule = Schedule(time_zone=ZONE_NAME, resources=resources, bookings=as_loaded(bookings))
    return Branch(schedule=schedule, utilisation=blocked / working)


def as_loaded(bookings: list[Booking]) -> tuple[Booking, ...]:
    """The bookings as the appointment book loads them: in start order (the query's
    ordering) and made in that order, values and all (rows become objects one by one)."""
    ordered = sorted(bookings, key=lambda b: (b.interval.start, b.id))
    zero = timedelta(0)
    return tuple(
        Booking(
            id=b.id,
            interval=Interval(b.interval.start + zero, b.interval.end + zero),
            procedure_end=b.procedure_end + zero,
            resources=frozenset(b.resources),
        )
        for b in ordered
    )


def _fill_doctor_day(
    rng: random.Random,
    doctor: int,
    day: date,
    opens: datetime,
    closes: datetime,
    chair_busy: dict[tuple[int, date], list[Interval]],
    bookings: list[Booking],
) -> None:
    start = opens
    while True:
        procedure = timedelta(minutes=rng.randrange(30, 91, 5))
        slot = Interval(start, start + procedure + BUFFER)
        if slot.end > closes:
            return
        chair = (
            _free_chair(rng, doctor, day, slot, chair_busy) if rng.random() < BOOKED_SHARE else None
        )
        if chair is not None:
            chair_busy.setdefault((chair, day), []).append(slot)
            keys = {
                ResourceKey(ResourceKind.DOCTOR, doctor),
                ResourceKey(ResourceKind.CHAIR, chair),
                ResourceKey(ResourceKind.PATIENT, len(bookings) + 1),
            }
            bookings.append(Booking(len(bookings) + 1, slot, start + procedure, frozenset(keys)))
        start = slot.end


def _free_chair(
    rng: random.Random,
    doctor: int,
    day: date,
    slot: Interval,
    chair_busy: dict[tuple[int, date], list[Interval]],
) -> int | None:
    """The doctor's own chair if free, else any free chair."""
    others = [c for c in CHAIRS if c != doctor]
    rng.shuffle(others)
    for chair in (doctor, *others):
        if not any(slot.overlaps(taken) for taken in chair_busy.get((chair, day), ())):
            return chair
    return None


# --- the questions -------------------------------------------------------------------------
def evening_request(now: datetime, doctors: tuple[int, ...] = DOCTORS) -> SlotRequest:
    return SlotRequest(
        duration=timedelta(minutes=60),
        buffer=BUFFER,
        doctors=doctors,
        chairs=CHAIRS,
        earliest=now,
        latest=local(FIRST_DAY + timedelta(weeks=WEEKS), time(0)),
        preferences=(EVENINGS,),
        patient=987_654,
        limit=10,
    )


def named_nows() -> dict[str, datetime]:
    return {
        "Monday 08:00, week 1": local(FIRST_DAY, time(8)),
        "Wednesday 14:10, week 9": local(FIRST_DAY + timedelta(weeks=8, days=2), time(14, 10)),
        "Friday 19:30, week 13": local(FIRST_DAY + timedelta(weeks=12, days=4), time(19, 30)),
        "Saturday 11:00, week 20": local(FIRST_DAY + timedelta(weeks=19, days=5), time(11)),
    }


def random_nows(rng: random.Random, runs: int) -> list[datetime]:
    """Any minute of the first five months, so a search always has a month to look in."""
    span = int(timedelta(weeks=WEEKS - 4).total_seconds() // 60)
    start = local(FIRST_DAY, time(0))
    return [start + timedelta(minutes=rng.randrange(span)) for _ in range(runs)]


def proposals(rng: random.Random, schedule: Schedule, runs: int) -> list[Proposal]:
    """Moves of existing bookings to random weekday times: some fit, most collide."""
    found = []
    for booking in rng.sample(schedule.bookings, runs):
        day = FIRST_DAY + timedelta(days=rng.randrange(WEEKS * 7 - 7))
        start = local(day, time(rng.randrange(8, 19), rng.randrange(0, 60, 15)))
        length = booking.procedure_end - booking.interval.start
        found.append(
            Proposal(
                interval=Interval(start, start + length),
                blocked_until=start + length + BUFFER,
                resources=booking.resources,
                ignore_booking=booking.id,
            )
        )
    return found


def on_leave(schedule: Schedule, doctor: int) -> Schedule:
    """The schedule with the doctor away for all of it: a search that finds nothing."""
    key = ResourceKey(ResourceKind.DOCTOR, doctor)
    everything = Interval(
        local(FIRST_DAY, time(0)), local(FIRST_DAY + timedelta(weeks=WEEKS + 1), time(0))
    )
    resources = {**schedule.resources, key: replace(schedule.resources[key], closed=(everything,))}
    return replace(schedule, resources=resources)


# --- timing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    case: str
    milliseconds: list[float]
    found: float  # average number of openings or problems returned

    def percentile(self, share: float) -> float:
        ordered = sorted(self.milliseconds)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def timed(case: str, calls: list[Callable[[], list[object]]]) -> Row:
    times, sizes = [], []
    for call in calls:
        started = perf_counter()
        result = call()
        times.append((perf_counter() - started) * 1000)
        sizes.append(len(result))
    return Row(case, times, statistics.fmean(sizes))


def fresh(schedule: Schedule) -> Schedule:
    """The same schedule as a new object: the engine's booking index is built again, as
    it is when the appointment book loads a schedule for one question."""
    return replace(schedule)


def measure(branch: Branch, runs: int, seed: int) -> list[Row]:
    schedule = branch.schedule
    rng = random.Random(seed + 1)
    rows = []
    for name, now in named_nows().items():
        request = evening_request(now)
        calls = [lambda r=request, n=now: find_openings(schedule, r, now=n)] * runs
        rows.append(timed(f"evenings, any doctor: {name}", calls))
    nows = random_nows(rng, runs)
    rows.append(
        timed(
            "evenings, any doctor: random now",
            [lambda n=n: find_openings(schedule, evening_request(n), now=n) for n in nows],
        )
    )
    rows.append(
        timed(
            "  same, new schedule object each run",
            [lambda n=n: find_openings(fresh(schedule), evening_request(n), now=n) for n in nows],
        )
    )
    rows.append(
        timed(
            "evenings, doctor 7 only: random now",
            [lambda n=n: find_openings(schedule, evening_request(n, (7,)), now=n) for n in nows],
        )
    )
    away = on_leave(schedule, 7)
    start = local(FIRST_DAY, time(0))
    rows.append(
        timed(
            "worst: doctor 7 on leave, all 26 weeks read",
            [lambda: find_openings(away, evening_request(start, (7,)), now=start)] * runs,
        )
    )
    horizon = local(FIRST_DAY + timedelta(weeks=WEEKS), time(0))
    moves = proposals(rng, schedule, runs)
    rows.append(
        timed(
            "check_proposal: a move",
            [
                lambda p=p: check_proposal(schedule, p, now=start, horizon_end=horizon)
                for p in moves
            ],
        )
    )
    rows.append(
        timed(
            "  same, new schedule object each run",
            [
                lambda p=p: check_proposal(fresh(schedule), p, now=start, horizon_end=horizon)
                for p in moves
            ],
        )
    )
    return rows


def print_table(rows: list[Row]) -> None:
    header = f"{'case':<44} {'runs':>5} {'found':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'p95/50ms':>9}"
    print(header)
    print("-" * len(header))
    for row in rows:
        p95 = row.percentile(0.95)
        print(
            f"{row.case:<44} {len(row.milliseconds):>5} {row.found:>6.1f} "
            f"{row.percentile(0.5):>7.2f} {p95:>7.2f} {max(row.milliseconds):>7.2f} "
            f"{p95 / GOAL_MS:>8.3f}×"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2027)
    args = parser.parse_args()
    started = perf_counter()
    branch = build_branch(args.seed)
    built = perf_counter() - started
    bookings = len(branch.schedule.bookings)
    print(
        f"Python {platform.python_version()} on {platform.machine()}; branch: "
        f"{len(CHAIRS)} chairs, {len(DOCTORS)} doctors, {ZONE_NAME}, {WEEKS} weeks from "
        f"{FIRST_DAY}, {bookings:,} bookings (built in {built:.1f} s)"
    )
    print(f"utilisation: {branch.utilisation:.1%} of the doctors' working time is booked\n")
    print_table(measure(branch, args.runs, args.seed))


if __name__ == "__main__":
    main()
