"""Properties of the slot finder and the check on random branches.

Random schedules (four zones, days around both daylight-saving changes, random hours,
leave, bookings that may even overlap each other, shared equipment) and random requests.
The oracles here are deliberately naive: they look at the wall clock every five minutes
and at every booking, the way a person would check by hand. Everything the strategies
make lies on a five-minute grid and opening hours start at 04:00 or later, so five-minute
sampling is exact and no hours touch a skipped or repeated wall-clock time (the unit
tests cover those).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chairtime.engine.checks import check_proposal
from chairtime.engine.openings import find_openings
from chairtime.engine.types import (
    Booking,
    Interval,
    Opening,
    Proposal,
    Resource,
    ResourceKey,
    ResourceKind,
    Schedule,
    SlotRequest,
    TimePreference,
    WeeklyWindow,
)

K = ResourceKind
FIVE = timedelta(minutes=5)
ZONES = ["UTC", "Europe/Madrid", "America/New_York", "Asia/Ho_Chi_Minh"]
# Saturdays before both 2024 changes in Europe and in the USA, and a plain Monday.
FIRST_DAYS = [
    date(2024, 3, 30),
    date(2024, 10, 26),
    date(2024, 3, 9),
    date(2024, 11, 2),
    date(2027, 1, 4),
]
STEPS = [15, 20, 30, 45, 60]
DAY = 24 * 12  # five-minute steps in a day
FAST = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


# --- strategies ---------------------------------------------------------------------------
def clock(fives: int) -> time:
    return time(fives // 12, fives % 12 * 5)


def sometimes(share: float):
    """True in roughly `share` of examples, or less: hypothesis favours small numbers, and
    small numbers mean False, which is also what it shrinks towards."""
    return st.integers(0, 99).map(lambda n: n >= (1 - share) * 100)


@st.composite
def windows(draw, first: date) -> tuple[WeeklyWindow, ...]:
    """Mostly wide hours every day; else up to three random windows on the days in question."""
    if not draw(sometimes(0.2)):
        return tuple(WeeklyWindow(day, time(6), time(22)) for day in range(7))
    found = []
    for _ in range(draw(st.integers(0, 3))):
        weekday = (first.weekday() + draw(st.integers(0, 3))) % 7
        start = draw(st.integers(4 * 12, 22 * 12))
        end = draw(st.integers(start + 1, 23 * 12 + 11))
        found.append(WeeklyWindow(weekday, clock(start), clock(end)))
    return tuple(found)


@st.composite
def closed_time(draw, origin: datetime) -> tuple[Interval, ...]:
    found = []
    for _ in range(draw(st.integers(0, 2))):
        start = origin + FIVE * draw(st.integers(0, 3 * DAY))
        found.append(Interval(start, start + FIVE * draw(st.integers(1, 36))))
    return tuple(found)


@st.composite
def resources(draw, first: date, origin: datetime) -> dict[ResourceKey, Resource]:
    """Doctors and chairs 1-3, assistants and equipment 1-2; id 4 (3) is never known, and
    now and then a known one is missing too."""
    found = {}
    for kind, ids in ((K.DOCTOR, 3), (K.CHAIR, 3), (K.ASSISTANT, 2), (K.EQUIPMENT, 2)):
        for id in range(1, ids + 1):
            if draw(sometimes(0.1)):
                continue
            key = ResourceKey(kind, id)
            always = kind is K.EQUIPMENT and draw(st.booleans())
            found[key] = Resource(
                key=key,
                weekly=() if always else draw(windows(first)),
                closed=draw(closed_time(origin)),
                capacity=draw(st.integers(1, 2)) if kind is K.EQUIPMENT else 1,
                always_available=always,
            )
    if draw(st.booleans()):  # patient 1 listed, with time away; patient 2 never listed
        key = ResourceKey(K.PATIENT, 1)
        found[key] = Resource(key=key, closed=draw(closed_time(origin)), always_available=True)
    return found


# Bookings mostly hold one or two of these, so each resource a request is likely to ask
# for (number 1 of each kind) is booked on its own, buffers included.
MAIN = [ResourceKey(kind, 1) for kind in K]
OTHERS = [ResourceKey(kind, id) for kind in K for id in (2, 3, 4)]


@st.composite
def bookings(draw, origin: datetime) -> tuple[Booking, ...]:
    """Lanes of back-to-back bookings with short gaps (so openings must squeeze between
    them and buffers matter); lanes may overlap each other, as overbookings do."""
    found: list[Booking] = []
    for _ in range(draw(st.integers(1, 3)) if draw(sometimes(0.9)) else 0):
        start = origin + FIVE * draw(st.integers(6 * 12, 30 * 12))
        for _ in range(draw(st.integers(4, 12))):
            start += FIVE * draw(st.integers(0, 24))
            procedure_end = start + FIVE * draw(st.integers(1, 12))
            blocked = procedure_end + FIVE * draw(st.integers(0, 4))
            keys = draw(st.sets(st.sampled_from(MAIN), min_size=1, max_size=2))
            keys |= draw(st.sets(st.sampled_from(OTHERS), max_size=2))
            found.append(
                Booking(len(found) + 1, Interval(start, blocked), procedure_end, frozenset(keys))
            )
            start = blocked
    return tuple(found)


@st.composite
def preferences(draw) -> tuple[TimePreference, ...]:
    found = []
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        start = draw(st.integers(4 * 12, 22 * 12))
        end = draw(st.integers(start + 1, 23 * 12 + 11))
        weekdays = draw(st.frozensets(st.integers(0, 6), min_size=1))
        found.append(TimePreference(weekdays, clock(start), clock(end)))
    return tuple(found)


@st.composite
def scenarios(draw, max_days: int = 2) -> tuple[Schedule, SlotRequest, datetime]:
    zone = draw(st.sampled_from(ZONES))
    first = draw(st.sampled_from(FIRST_DAYS))
    origin = datetime.combine(first, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    schedule = Schedule(zone, draw(resources(first, origin)), draw(bookings(origin)))
    earliest = origin + FIVE * draw(st.integers(7 * 12, DAY + 7 * 12))  # from 07:00
    duration = FIVE * draw(st.integers(3, 12))
    short, long = st.integers(0, 24), st.integers(DAY // 2, max_days * DAY)
    unknown = (3,) if draw(sometimes(0.1)) else ()  # no assistant 3 or equipment 3
    stranger = (4,) if draw(sometimes(0.1)) else ()  # no doctor 4 or chair 4
    doctors = [*draw(st.lists(st.integers(1, 3), min_size=1, max_size=3, unique=True)), *stranger]
    request = SlotRequest(
        duration=duration,
        buffer=FIVE * draw(st.integers(0, 6)),
        doctors=tuple(doctors),
        chairs=(*draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)), *stranger),
        earliest=earliest,
        latest=earliest + FIVE * draw(short if draw(sometimes(0.1)) else long),
        assistants=(*draw(st.lists(st.integers(1, 2), max_size=2, unique=True)), *unknown),
        equipment=(*draw(st.lists(st.integers(1, 2), max_size=2, unique=True)), *unknown),
        patient=draw(st.sampled_from([1, None, 2])),
        durations={doctors[0]: duration + FIVE} if draw(st.booleans()) else {},
        preferences=draw(preferences()),
        step=timedelta(minutes=draw(st.sampled_from(STEPS))),
        limit=draw(st.integers(1, 8)),
    )
    now = earliest + timedelta(seconds=draw(st.integers(-24 * 3600, 6 * 3600)))
    return schedule, request, now


@st.composite
def mornings(draw) -> tuple[WeeklyWindow, ...]:
    """Every day from 06:00 to a random time before noon, or (now and then) all day."""
    end = clock(draw(st.integers(7 * 12, 12 * 12))) if draw(sometimes(0.8)) else time(22)
    return tuple(WeeklyWindow(day, time(6), end) for day in range(7))


@st.composite
def crowded_scenarios(draw) -> tuple[Schedule, SlotRequest, datetime]:
    """One doctor, chair, assistant, piece of equipment and patient, each booked on its
    own, back to back with short gaps from the first morning: every opening has to
    squeeze between bookings, so each kind's buffer and hours rules decide."""
    zone = draw(st.sampled_from(ZONES))
    first = draw(st.sampled_from(FIRST_DAYS))
    origin = datetime.combine(first, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    known = {key: Resource(key=key, weekly=draw(mornings())) for key in MAIN[:3]}
    motor = ResourceKey(K.EQUIPMENT, 1)
    known[motor] = Resource(key=motor, capacity=draw(st.integers(1, 2)), always_available=True)
    found: list[Booking] = []
    start = origin + FIVE * draw(st.integers(6 * 12, 9 * 12))
    for _ in range(draw(st.integers(4, 24))):
        start += FIVE * draw(st.integers(0, 12))
        procedure_end = start + FIVE * draw(st.integers(1, 12))
        blocked = procedure_end + FIVE * draw(st.integers(0, 4))
        keys = frozenset({draw(st.sampled_from(MAIN))})
        found.append(Booking(len(found) + 1, Interval(start, blocked), procedure_end, keys))
        start = start + FIVE * draw(st.integers(0, 12)) if draw(sometimes(0.3)) else blocked
    earliest = origin + FIVE * draw(st.integers(6 * 12, 9 * 12))
    request = SlotRequest(
        duration=FIVE * draw(st.integers(3, 12)),
        buffer=FIVE * draw(st.integers(0, 6)),
        doctors=(1,),
        chairs=(1,),
        earliest=earliest,
        latest=earliest + FIVE * draw(st.integers(DAY // 2, DAY)),
        assistants=(1,) if draw(st.booleans()) else (),
        equipment=(1,) if draw(st.booleans()) else (),
        patient=1 if draw(st.booleans()) else None,
        step=timedelta(minutes=draw(st.sampled_from(STEPS[:3]))),
        limit=draw(st.integers(1, 8)),
    )
    return Schedule(zone, known, tuple(found)), request, earliest


any_scenario = st.one_of(scenarios(), crowded_scenarios())


# --- oracles ------------------------------------------------------------------------------
def keys_of(opening: Opening, request: SlotRequest) -> frozenset[ResourceKey]:
    keys = {ResourceKey(K.DOCTOR, opening.doctor), ResourceKey(K.CHAIR, opening.chair)}
    if opening.assistant is not None:
        keys.add(ResourceKey(K.ASSISTANT, opening.assistant))
    keys.update(ResourceKey(K.EQUIPMENT, e) for e in opening.equipment)
    if request.patient is not None:
        keys.add(ResourceKey(K.PATIENT, request.patient))
    return frozenset(keys)


def needed_until(key: ResourceKey, opening: Opening) -> datetime:
    """Doctors and patients must be at work for the procedure, the rest until cleaned."""
    if key.kind in (K.DOCTOR, K.PATIENT):
        return opening.interval.end
    return opening.blocked_until


def held(kind: ResourceKind, start: datetime, procedure_end: datetime, blocked: datetime):
    """Patients are held for the procedure, everything else until cleaned."""
    return (start, procedure_end) if kind is K.PATIENT else (start, blocked)


def at_work(resource: Resource, zone: ZoneInfo, instant: datetime) -> bool:
    if any(c.start <= instant < c.end for c in resource.closed):
        return False
    if resource.always_available:
        return True
    local = instant.astimezone(zone)
    return any(
        w.weekday == local.weekday() and w.start <= local.time() < w.end for w in resource.weekly
    )


def depth_at(spans: list[tuple[datetime, datetime]], instant: datetime) -> int:
    return sum(1 for start, end in spans if start <= instant < end)


def assert_fits_every_resource(schedule: Schedule, request: SlotRequest, opening: Opening):
    zone = ZoneInfo(schedule.time_zone)
    for key in keys_of(opening, request):
        resource = schedule.resources.get(key)
        assert resource is not None or key.kind is K.PATIENT, key
        instant = opening.interval.start
        while resource is not None and instant < needed_until(key, opening):
            assert at_work(resource, zone, instant), (key, instant)
            instant += FIVE
        ours = held(key.kind, opening.interval.start, opening.interval.end, opening.blocked_until)
        theirs = [
            held(key.kind, b.interval.start, min(b.procedure_end, b.interval.end), b.interval.end)
            for b in schedule.bookings
            if key in b.resources
        ]
        overlapping = [t for t in theirs if t[0] < ours[1] and ours[0] < t[1] and t[0] < t[1]]
        capacity = resource.capacity if resource is not None else 1
        instants = [ours[0]] + [t[0] for t in overlapping if t[0] > ours[0]]
        assert all(depth_at(overlapping, i) < capacity for i in instants), (key, overlapping)


def on_grid(zone: ZoneInfo, instant: datetime, step: timedelta) -> bool:
    local = instant.astimezone(zone)
    since_midnight = timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)
    return local.microsecond == 0 and since_midnight % step == timedelta(0)


def in_preferences(zone: ZoneInfo, procedure: Interval, wanted: tuple[TimePreference, ...]):
    if not wanted:
        return True
    start, end = procedure.start.astimezone(zone), procedure.end.astimezone(zone)
    return any(
        start.weekday() in p.weekdays
        and start.date() == end.date()
        and p.start <= start.time()
        and end.time() <= p.end
        for p in wanted
    )


def rank_key(request: SlotRequest, opening: Opening):
    return opening.interval.start, request.doctors.index(opening.doctor), opening.chair


# --- properties ---------------------------------------------------------------------------
@FAST
@given(any_scenario)
def test_every_opening_follows_every_rule(scenario):
    schedule, request, now = scenario
    openings = find_openings(schedule, request, now=now)
    zone = ZoneInfo(schedule.time_zone)
    assert len(openings) <= request.limit
    ranked = [rank_key(request, o) for o in openings]
    assert ranked == sorted(set(ranked))  # sorted, and distinct (doctor, chair, start)
    for opening in openings:
        duration = request.durations.get(opening.doctor, request.duration)
        assert opening.interval.end - opening.interval.start == duration
        assert opening.blocked_until == opening.interval.end + request.buffer
        assert max(now, request.earliest) <= opening.interval.start <= request.latest
        assert on_grid(zone, opening.interval.start, request.step)
        assert in_preferences(zone, opening.interval, request.preferences)
        assert opening.chair in request.chairs
        assert (opening.assistant is None) == (not request.assistants)
        assert opening.equipment == request.equipment
        assert_fits_every_resource(schedule, request, opening)
        proposal = Proposal(opening.interval, opening.blocked_until, keys_of(opening, request))
        assert check_proposal(schedule, proposal, now=now, horizon_end=request.latest) == []


@settings(FAST, max_examples=60)
@given(any_scenario)
def test_same_inputs_same_openings_whatever_the_order_of_bookings(scenario):
    schedule, request, now = scenario
    first = find_openings(schedule, request, now=now)
    assert find_openings(schedule, request, now=now) == first
    shuffled = replace(schedule, bookings=tuple(reversed(schedule.bookings)))
    assert find_openings(shuffled, request, now=now) == first


def first_valid_openings(schedule: Schedule, request: SlotRequest, now: datetime):
    """By hand: every grid instant, every doctor and chair in rank order, the first
    assistant that passes `check_proposal`, until `limit` are found."""
    zone = ZoneInfo(schedule.time_zone)
    found = []
    instant = max(now, request.earliest)
    instant += (-(instant - datetime(2000, 1, 1, tzinfo=UTC))) % FIVE  # up to the 5-minute grid
    assistants = list(request.assistants) or [None]
    while instant <= request.latest and len(found) < request.limit:
        if on_grid(zone, instant, request.step):
            for doctor in request.doctors:
                duration = request.durations.get(doctor, request.duration)
                procedure = Interval(instant, instant + duration)
                if not in_preferences(zone, procedure, request.preferences):
                    continue
                for chair in sorted(set(request.chairs)):
                    for assistant in assistants:
                        opening = Opening(
                            procedure,
                            procedure.end + request.buffer,
                            doctor,
                            chair,
                            assistant,
                            request.equipment,
                        )
                        proposal = Proposal(
                            procedure, opening.blocked_until, keys_of(opening, request)
                        )
                        if not check_proposal(
                            schedule, proposal, now=now, horizon_end=request.latest
                        ):
                            found.append(opening)
                            break
        instant += FIVE
    return found[: request.limit]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(st.one_of(scenarios(max_days=1), crowded_scenarios()))
def test_openings_are_exactly_the_first_starts_the_check_accepts(scenario):
    schedule, request, now = scenario
    assert find_openings(schedule, request, now=now) == first_valid_openings(schedule, request, now)
