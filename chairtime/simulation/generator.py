"""The clinic simulator: a deterministic (seeded) organisation with branches, staff,
catalogue, channels and patients, from one clinic to 100 branches and 1,000,000 patients.

It is the data source of the demo, the tests and the benchmarks, so every capability adds
its own entities and behaviour here, as one more step of `simulate()`.

Treatment plans, performed procedures and the product ladder (treatment.py), then invoices
and payments (money.py) are made per branch as its appointment book is filled: plans are
presented at consultations and their accepted items booked on later visits.
Then (with treatment) the patient relations (crm.py): complaints, NPS surveys, demo
segments, and every patient's profile and customer group; then the care tasks of the last
weeks with their calls and outcomes (care.py), and the messages the automation rules sent
with their confirmations and replies (messaging.py). The front desk's day comes around
them: the waitlist with the offers of freed slots and their claims (waitlist.py, before
care because claims book and cancel), then lab cases for the book as it ended up (labs.py)
and each branch's daily goal with its frozen mornings (frontdesk.py).

It writes with bulk inserts (no per-row services and no audit events: this is history
being made up, not work being done) and everything random comes from generators seeded
from `seed`, so the same configuration always gives the same organisation. The steps
after the patients (rota.py: working hours, leave, holidays, equipment; bookings.py: the
appointment book) have generators of their own, so they never change the patients.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision
from django.db import transaction
from tqdm import tqdm

from chairtime.accounts.models import Seniority, Specialty, StaffProfile, User
from chairtime.clinical.models import (
    LadderStep,
    PerformedProcedure,
    Procedure,
    ProcedureCategory,
    ProcedurePrice,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.core.text import fold
from chairtime.marketing.models import Channel, ChannelFamily, ChannelKind
from chairtime.patients.choices import (
    AlertKind,
    ConsentOrigin,
    ConsentPurpose,
    ContactChannel,
    NameOrder,
    PatientStatus,
    PreferredTime,
)
from chairtime.patients.models import (
    Consent,
    MedicalAlert,
    Patient,
    PatientChatId,
    PatientPhone,
    Tag,
)
from chairtime.patients.services import build_search_key, compose_display_name
from chairtime.scheduling.models import Appointment, Chair
from chairtime.simulation.bookings import (
    APPOINTMENT_COLUMNS,
    Bookable,
    BookingWindow,
    book_branches,
    bookables,
)
from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
from chairtime.simulation.care import CareResult, simulate_care, simulated_now
from chairtime.simulation.catalogue import CATALOGUE
from chairtime.simulation.countries import COUNTRIES, Country
from chairtime.simulation.crm import CrmResult, simulate_crm
from chairtime.simulation.frontdesk import FrontDeskResult, simulate_frontdesk
from chairtime.simulation.labs import LabsResult, simulate_labs
from chairtime.simulation.messaging import MessagingResult, simulate_messaging
from chairtime.simulation.money import BranchMoney, Promo, finish_promotions, make_promotions
from chairtime.simulation.rota import (
    BranchRota,
    StaffPlan,
    categories_for,
    cover_categories,
    make_durations,
    make_rota,
)
from chairtime.simulation.treatment import PlanBook
from chairtime.simulation.waitlist import WaitlistResult, simulate_waitlist
from chairtime.tenancy.models import Branch, Membership, OpeningHours, Organization
from chairtime.tenancy.roles import Role


@dataclass(frozen=True)
class SimulationConfig:
    seed: int = 1
    organization_name: str = "Nụ Cười Dental Group"
    slug: str = "nucuoi"
    countries: tuple[str, ...] = ("VN",)  # the branches cycle through these
    branches: int = 1
    patients: int = 2_000
    min_chairs: int = 4
    max_chairs: int = 12
    as_of: date = date(2026, 11, 1)  # "today" of the simulated history
    history_years: int = 3
    batch_size: int = 5_000
    # The appointment book: days of history before as_of, days of future bookings from it,
    # and the share of doctors' working time booked (cleaning buffers included).
    history_days: int = 182
    future_days: int = 42
    utilisation: float = 0.8
    # Treatment plans, performed procedures and money (needs the appointment book).
    treatment: bool = True
    # The front desk's day (needs treatment): the waitlist with its offers and claims, lab
    # cases, daily goals and frozen production. Off when a test runs one of these steps itself.
    front_desk: bool = True


@dataclass
class SimulationResult:
    organization: Organization
    branches: list[Branch]
    patients: int
    seconds: float
    staff: int = 0
    appointments: int = 0
    booking_seconds: float = 0.0  # of `seconds`, the appointment book's
    plans: int = 0
    performed: int = 0
    invoices: int = 0
    payments: int = 0
    money_seconds: float = 0.0  # of `seconds`: plans' rows, production, ladder and money
    complaints: int = 0
    surveys: int = 0
    answered_surveys: int = 0
    segments: int = 0
    profiles: int = 0
    crm_seconds: float = 0.0  # of `seconds`: the steps after the money (crm, care, front desk…)
    care: CareResult = field(default_factory=CareResult)  # the care tasks and their calls
    messaging: MessagingResult = field(default_factory=MessagingResult)  # outbox and replies
    waitlist: WaitlistResult = field(default_factory=WaitlistResult)  # entries, offers, claims
    labs: LabsResult = field(default_factory=LabsResult)  # labs and their cases
    front_desk: FrontDeskResult = field(default_factory=FrontDeskResult)  # goals, snapshots

    @property
    def patients_per_second(self) -> float:
        """Over the time before the appointment book."""
        before_booking = self.seconds - self.booking_seconds - self.money_seconds - self.crm_seconds
        return self.patients / before_booking if before_booking > 0 else 0.0

    @property
    def appointments_per_second(self) -> float:
        return self.appointments / self.booking_seconds if self.booking_seconds else 0.0

    @property
    def invoices_per_second(self) -> float:
        return self.invoices / self.money_seconds if self.money_seconds else 0.0


CHANNELS: tuple[tuple[str, str, str, str, int], ...] = (
    # code, name, family, kind, weight among new patients
    ("google", "Google Ads", ChannelFamily.PUBLIC, ChannelKind.SEARCH_ADS, 14),
    ("facebook", "Facebook Ads", ChannelFamily.PUBLIC, ChannelKind.SOCIAL_ADS, 16),
    ("tiktok", "TikTok", ChannelFamily.PUBLIC, ChannelKind.CONTENT, 8),
    ("kol", "KOL partnerships", ChannelFamily.PUBLIC, ChannelKind.KOL, 4),
    ("partner", "Partner companies", ChannelFamily.PUBLIC, ChannelKind.PARTNER, 3),
    ("website", "Website", ChannelFamily.PUBLIC, ChannelKind.WEBSITE, 8),
    ("walk-in", "Walk-in", ChannelFamily.PUBLIC, ChannelKind.WALK_IN, 10),
    ("phone", "Phone", ChannelFamily.PUBLIC, ChannelKind.PHONE, 5),
    ("referral", "Patient referral", ChannelFamily.PRIVATE, ChannelKind.REFERRAL, 0),
    ("community", "Community groups", ChannelFamily.PRIVATE, ChannelKind.COMMUNITY, 4),
    ("koc", "Patient reviews (KOC)", ChannelFamily.PRIVATE, ChannelKind.KOC, 3),
)  # fmt: skip

CHAMPION_REFERRALS = 0.25  # of patient referrals: from the branch's champions (see _source)

TAGS = ("Orthodontic lead", "Corporate plan", "Student", "Family plan", "Anxious patient",
        "Prefers female doctor", "Insurance")  # fmt: skip

ALERTS = (
    (AlertKind.ALLERGY, "Penicillin allergy", "critical"),
    (AlertKind.ALLERGY, "Latex allergy", "critical"),
    (AlertKind.ALLERGY, "Lidocaine sensitivity", "warning"),
    (AlertKind.CONDITION, "Hypertension", "warning"),
    (AlertKind.CONDITION, "Type 2 diabetes", "warning"),
    (AlertKind.CONDITION, "Heart valve replacement: antibiotic cover", "critical"),
    (AlertKind.MEDICATION, "Anticoagulants (warfarin)", "critical"),
    (AlertKind.MEDICATION, "Bisphosphonates", "warning"),
    (AlertKind.PREGNANCY, "Pregnant", "warning"),
)

SPECIALTY_WEIGHTS = (
    (Specialty.GENERAL, 10), (Specialty.ORTHODONTICS, 3), (Specialty.ENDODONTICS, 2),
    (Specialty.PROSTHODONTICS, 2), (Specialty.IMPLANTOLOGY, 2), (Specialty.ORAL_SURGERY, 1),
    (Specialty.PAEDIATRIC, 2), (Specialty.COSMETIC, 1), (Specialty.PERIODONTICS, 1),
)  # fmt: skip
COLOURS = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2",
           "#ff9da6", "#9d755d", "#bab0ac")  # fmt: skip


def simulate(config: SimulationConfig, *, progress: bool = False) -> SimulationResult:
    """Create one simulated organisation; returns what was made and how long it took."""
    for code in config.countries:
        if code not in COUNTRIES:
            raise ValueError(f"countries: {code!r} is not one of {', '.join(COUNTRIES)}")
    if config.branches < 1 or config.patients < 0:
        raise ValueError("branches must be at least 1 and patients at least 0")
    if config.history_days < 0 or config.future_days < 0:
        raise ValueError("history_days and future_days must be at least 0")
    if not 0 < config.utilisation <= 1:
        raise ValueError("utilisation must be more than 0 and at most 1")
    started = time.perf_counter()
    rng = random.Random(config.seed)
    window = _booking_window(config)
    with transaction.atomic():
        organization = Organization.objects.create(name=config.organization_name, slug=config.slug)
        branches = _make_branches(rng, config, organization)
        staff = _make_staff(rng, config, organization, branches)
        procedures = _make_catalogue(organization, branches)
        channels = _make_channels(organization)
        tags = Tag.objects.bulk_create(Tag(organization=organization, name=n) for n in TAGS)
        rotas, durations = _make_rota(config, window, branches, staff, procedures)
    made = _make_patients(rng, config, organization, branches, staff, channels, tags, progress)
    booking_started = time.perf_counter()
    appointments = 0
    clinic = None
    if window.first_day <= window.last_day:
        if config.treatment:
            clinic = _Clinic(config, organization, branches, procedures, channels)
        bar = tqdm(total=len(branches), unit="branches", disable=not progress, mininterval=0.5)
        appointments = book_branches(
            config.seed, window, [rotas[b.pk] for b in branches], bookables(procedures),
            durations, progress=bar, clinic=clinic,
        )  # fmt: skip
        bar.close()
        reset_sequences(Appointment)
        if clinic is not None:
            clinic.finish()
    crm, care, messaging = CrmResult(), CareResult(), MessagingResult()
    waitlist, labs, front_desk = WaitlistResult(), LabsResult(), FrontDeskResult()
    if clinic is not None:  # complaints and surveys follow visits; groups need the money
        now = simulated_now(config, branches[0])
        crm = simulate_crm(config, organization, branches)
        if config.front_desk:  # ranks by the groups; books and cancels before care reads
            waitlist = simulate_waitlist(
                config, organization, branches, random.Random(f"{config.seed}:waitlist"), now
            )
        care = simulate_care(config, organization, branches)  # reads the profiles
        messaging = simulate_messaging(
            organization, branches, random.Random(f"{config.seed}:messaging"), now=now
        )
        if config.front_desk:  # lab work for the book as it ended up, then the day's goals
            labs = simulate_labs(
                config, organization, branches, random.Random(f"{config.seed}:labs"), now
            )
            front_desk = simulate_frontdesk(
                config, organization, branches, random.Random(f"{config.seed}:desk"), now
            )
    finished = time.perf_counter()
    staff_count = sum(len(s.doctors) + len(s.others) for s in staff.values())
    money_seconds = clinic.seconds if clinic else 0.0
    after_money = (crm.seconds + care.seconds + messaging.seconds + waitlist.seconds
                   + labs.seconds + front_desk.seconds)  # fmt: skip
    return SimulationResult(
        organization, branches, made, finished - started, staff_count, appointments,
        finished - booking_started - money_seconds - after_money,
        plans=clinic.plans if clinic else 0, performed=clinic.performed if clinic else 0,
        invoices=clinic.invoices if clinic else 0, payments=clinic.payments if clinic else 0,
        money_seconds=money_seconds, complaints=crm.complaints, surveys=crm.surveys,
        answered_surveys=crm.answered, segments=crm.segments, profiles=crm.profiles,
        crm_seconds=after_money, care=care, messaging=messaging, waitlist=waitlist, labs=labs, front_desk=front_desk,
    )  # fmt: skip


class _Clinic:
    """Plans presented while the book is filled, then production and money per branch
    (see bookings.Clinic)."""

    def __init__(
        self,
        config: SimulationConfig,
        organization: Organization,
        branches: list[Branch],
        procedures: list[Procedure],
        channels: dict[str, Channel],
    ) -> None:
        started = time.perf_counter()
        self.config = config
        self.procedures: list[Bookable] = bookables(procedures)
        self.codes = {p.code: p.pk for p in procedures}
        self.names = {
            language: {p.pk: p.localized_name(language) for p in procedures}
            for language in {COUNTRIES[b.country].language for b in branches}
        }
        self.prices: dict[int, dict[int, Decimal]] = {b.pk: {} for b in branches}
        for branch_id, procedure_id, price in ProcedurePrice.objects.filter(
            branch__in=branches
        ).values_list("branch_id", "procedure_id", "price"):
            self.prices[branch_id][procedure_id] = price
        self.promos: list[Promo] = make_promotions(
            organization, [b.currency for b in branches], config.as_of,
            {code: channel.pk for code, channel in channels.items()},
        )  # fmt: skip
        # Closed periods: the books are locked up to the end of the month before last.
        lock = config.as_of.replace(day=1) - timedelta(days=1)
        lock = lock.replace(day=1) - timedelta(days=1)
        Branch.objects.filter(pk__in=[b.pk for b in branches]).update(financial_lock_date=lock)
        self.plans = self.performed = self.invoices = self.payments = 0
        self.seconds = time.perf_counter() - started

    def now(self, branch: Branch) -> datetime:
        """The start of as_of in the branch's zone, as the booking step computes it."""
        offset = datetime.combine(self.config.as_of, clock(12), tzinfo=branch.zone).utcoffset()
        assert offset is not None
        return (datetime.combine(self.config.as_of, clock(0)) - offset).replace(tzinfo=UTC)

    def plans_for(self, rota: BranchRota) -> PlanBook:
        branch = rota.branch
        return PlanBook(
            random.Random(f"{self.config.seed}:plans:{branch.code}"), branch=branch,
            language=COUNTRIES[branch.country].language, procedures=self.procedures,
            prices=self.prices[branch.pk], places=get_currency_precision(branch.currency),
            consultants=rota.consultants,
            witnesses=[n.id for n in rota.nurses] or [d.id for d in rota.doctors],
            now=self.now(branch),
        )  # fmt: skip

    def after_book(
        self, rota: BranchRota, plans: PlanBook, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        started = time.perf_counter()
        branch = rota.branch
        production = plans.finish(rows, APPOINTMENT_COLUMNS)
        money = BranchMoney(
            random.Random(f"{self.config.seed}:money:{branch.code}"), branch=branch,
            now=self.now(branch), production=production, prices=self.prices[branch.pk],
            procedure_codes=self.codes, names=self.names[COUNTRIES[branch.country].language],
            promos=self.promos, receptionists=rota.receptionists, managers=rota.managers,
            rounding=COUNTRIES[branch.country].price_rounding,
            hunters=random.Random(f"{self.config.seed}:promotion-hunters:{branch.code}"),
        )  # fmt: skip
        money.run()
        self.plans += len(production.plans)
        self.performed += len(production.performed)
        self.invoices += len(money.invoices)
        self.payments += len(money.payments)
        self.seconds += time.perf_counter() - started

    def finish(self) -> None:
        started = time.perf_counter()
        reset_sequences(TreatmentPlan, TreatmentOption, TreatmentItem, PerformedProcedure,
                        LadderStep)  # fmt: skip
        finish_promotions(self.promos)
        self.seconds += time.perf_counter() - started


def _booking_window(config: SimulationConfig) -> BookingWindow:
    return BookingWindow(
        first_day=config.as_of - timedelta(days=config.history_days),
        as_of=config.as_of,
        last_day=config.as_of + timedelta(days=config.future_days - 1),
        utilisation=config.utilisation,
    )


def _make_rota(
    config: SimulationConfig,
    window: BookingWindow,
    branches: list[Branch],
    staff: dict[int, StaffPlan],
    procedures: list[Procedure],
) -> tuple[dict[int, BranchRota], dict[tuple[int, int], int]]:
    """Working hours, leave, holidays, equipment and doctors' own durations. Leave and
    holidays reach as far ahead as anyone may book, not only the simulated weeks."""
    rng = random.Random(f"{config.seed}:rota")
    horizon = config.as_of + timedelta(days=max(b.booking_horizon_days for b in branches))
    rotas = make_rota(rng, branches, staff, window.first_day, max(horizon, window.last_day))
    return rotas, make_durations(rng, staff, procedures)


# --- organisation ------------------------------------------------------------------------
def _make_branches(
    rng: random.Random, config: SimulationConfig, organization: Organization
) -> list[Branch]:
    branches = []
    seen: dict[str, int] = {}
    for index in range(config.branches):
        country = COUNTRIES[config.countries[index % len(config.countries)]]
        # The n-th branch in a country takes the country's n-th city; a second lap numbers them.
        nth = seen[country.code] = seen.get(country.code, -1) + 1
        city = country.cities[nth % len(country.cities)]
        lap = nth // len(country.cities)
        name = city if lap == 0 else f"{city} {lap + 1}"
        branches.append(
            Branch(
                organization=organization, name=name, code=f"b{index + 1:03d}",
                country=country.code, time_zone=country.time_zone, currency=country.currency,
                locale=country.locale, address=f"{rng.randint(1, 300)} {city}",
                phone=country.phone(rng),
            )
        )  # fmt: skip
    branches = Branch.objects.bulk_create(branches)
    hours, chairs = [], []
    for branch in branches:
        for weekday in range(5):
            hours.append(
                OpeningHours(branch=branch, weekday=weekday, opens_at=clock(8), closes_at=clock(12))
            )
            hours.append(
                OpeningHours(
                    branch=branch, weekday=weekday, opens_at=clock(13, 30), closes_at=clock(20)
                )
            )
        hours.append(OpeningHours(branch=branch, weekday=5, opens_at=clock(8), closes_at=clock(17)))
        if branch.country in {"VN", "CN"}:  # Sunday mornings are busy in Asian clinics
            hours.append(
                OpeningHours(branch=branch, weekday=6, opens_at=clock(8), closes_at=clock(12))
            )
        for number in range(rng.randint(config.min_chairs, config.max_chairs)):
            chairs.append(Chair(branch=branch, name=f"Chair {number + 1}", sort_order=number))
    OpeningHours.objects.bulk_create(hours)
    Chair.objects.bulk_create(chairs)
    return branches


def _make_staff(
    rng: random.Random, config: SimulationConfig, organization: Organization, branches: list[Branch]
) -> dict[int, StaffPlan]:
    """Doctors, nurses, front desk and consultants per branch; owners and analysts above.

    Doctors are qualified for their specialty's procedure categories, and every category
    of the catalogue has a doctor in every branch; nurses assist with everything."""
    chair_counts = _chairs_per_branch(branches)
    users: list[User] = []
    memberships: list[tuple[int, Branch | None, Role]] = []  # (user index, branch, role)

    def add(username: str, family: str, given: str, role: Role, branch: Branch | None) -> None:
        user = User(username=username, first_name=given, last_name=family, language="")
        user.set_unusable_password()
        memberships.append((len(users), branch, role))
        users.append(user)

    head = COUNTRIES[branches[0].country]
    for role in (Role.OWNER, Role.MARKETER, Role.ANALYST):
        family, given, _ = head.person(rng)
        add(f"{config.slug}-{role}", family, given, role, None)
    for branch in branches:
        country = COUNTRIES[branch.country]
        chairs = chair_counts[branch.pk]
        plan = ((Role.BRANCH_MANAGER, 1), (Role.DOCTOR, max(2, chairs * 4 // 5)),
                (Role.NURSE, chairs), (Role.RECEPTIONIST, 2 + chairs // 6),
                (Role.CONSULTANT, 1 + chairs // 8), (Role.INVENTORY_CLERK, 1))  # fmt: skip
        for role, count in plan:
            for number in range(count):
                family, given, _ = country.person(rng)
                add(f"{config.slug}-{branch.code}-{role}-{number + 1}", family, given, role, branch)
    users = User.objects.bulk_create(users)
    Membership.objects.bulk_create(
        Membership(user=users[i], organization=organization, branch=branch, role=role)
        for i, branch, role in memberships
    )
    staff: dict[int, StaffPlan] = {b.pk: StaffPlan() for b in branches}
    profiles = []
    for i, home, role in memberships:
        if home is not None:
            profile = _enrol(rng, staff[home.pk], users[i], role)
            if profile is not None:
                profiles.append(profile)
    needed = list(dict.fromkeys(entry.category for entry in CATALOGUE))
    for branch_staff in staff.values():  # the lists are the profiles' own: covered in place
        cover_categories([branch_staff.categories[d] for d in branch_staff.doctors], needed)
    StaffProfile.objects.bulk_create(profiles)
    return staff


def _enrol(rng: random.Random, staff: StaffPlan, user: User, role: Role) -> StaffProfile | None:
    """File a branch's staff member under their role. Doctors and nurses get a profile with
    the procedure categories they may do (doctors: their specialty's; nurses: all)."""
    if role == Role.DOCTOR:
        staff.doctors.append(user.pk)
        profile = StaffProfile(
            user=user, title="Dr.", specialty=_weighted(rng, SPECIALTY_WEIGHTS),
            seniority=rng.choice(Seniority.values), licence_number=f"L{rng.randint(10**5, 10**6 - 1)}",
            calendar_colour=COLOURS[len(staff.doctors) % len(COLOURS)],
        )  # fmt: skip
        staff.categories[user.pk] = categories_for(profile.specialty)
        profile.procedure_categories = staff.categories[user.pk]
        staff.seniority[user.pk] = profile.seniority
        return profile
    staff.others.append(user.pk)
    if role == Role.RECEPTIONIST:
        staff.receptionists.append(user.pk)
    elif role == Role.CONSULTANT:
        staff.consultants.append(user.pk)
    elif role == Role.BRANCH_MANAGER:
        staff.managers.append(user.pk)
    if role != Role.NURSE:
        return None
    staff.nurses.append(user.pk)
    staff.categories[user.pk] = list(ProcedureCategory.values)
    return StaffProfile(user=user, procedure_categories=staff.categories[user.pk])


def _chairs_per_branch(branches: list[Branch]) -> dict[int, int]:
    counts = dict.fromkeys((b.pk for b in branches), 0)
    for branch_id in Chair.objects.filter(branch__in=branches).values_list("branch_id", flat=True):
        counts[branch_id] += 1
    return counts


def _make_catalogue(organization: Organization, branches: list[Branch]) -> list[Procedure]:
    procedures = Procedure.objects.bulk_create(
        Procedure(
            organization=organization, code=e.code, name=e.names["en"], names=e.names,
            category=e.category, ladder_tier=e.tier, default_duration_minutes=e.minutes,
            needs_lab_case=e.needs_lab_case, needs_assistant=e.needs_assistant,
            recall_interval_months=e.recall_months, equipment_codes=list(e.equipment),
        )
        for e in CATALOGUE
    )  # fmt: skip
    prices = []
    for branch in branches:
        country = COUNTRIES[branch.country]
        quantum = Decimal(1).scaleb(-get_currency_precision(branch.currency))
        for entry, procedure in zip(CATALOGUE, procedures, strict=True):
            price = _round_to(entry.reference_price * country.price_factor, country.price_rounding)
            cost = (price * entry.cost_share).quantize(quantum, rounding=ROUND_HALF_UP)
            prices.append(
                ProcedurePrice(branch=branch, procedure=procedure, price=price, standard_cost=cost)
            )
    ProcedurePrice.objects.bulk_create(prices)
    return procedures


def _round_to(amount: Decimal, step: Decimal) -> Decimal:
    return max(step, (amount / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step)


def _make_channels(organization: Organization) -> dict[str, Channel]:
    channels = Channel.objects.bulk_create(
        Channel(organization=organization, code=code, name=name, family=family, kind=kind)
        for code, name, family, kind, _ in CHANNELS
    )
    return {channel.code: channel for channel in channels}


# --- patients ----------------------------------------------------------------------------
def _make_patients(
    rng: random.Random,
    config: SimulationConfig,
    organization: Organization,
    branches: list[Branch],
    staff: dict[int, StaffPlan],
    channels: dict[str, Channel],
    tags: Sequence[Tag],
    progress: bool,
) -> int:
    """Patients in batches, each batch one transaction with its phones, consents, alerts."""
    weights = [len(staff[b.pk].doctors) for b in branches]
    context = _PatientContext(
        rng=rng, config=config, organization_id=organization.pk, staff=staff,
        channel_ids={code: channel.pk for code, channel in channels.items()},
        channel_choices=[channels[code].pk for code, _, _, _, w in CHANNELS if w],
        channel_weights=[w for _, _, _, _, w in CHANNELS if w],
        tag_ids=[tag.pk for tag in tags], zones={b.pk: ZoneInfo(b.time_zone) for b in branches},
    )  # fmt: skip
    made = 0
    bar = tqdm(total=config.patients, unit="patients", disable=not progress, mininterval=0.5)
    for start in range(0, config.patients, config.batch_size):
        count = min(config.batch_size, config.patients - start)
        homes = rng.choices(branches, weights=weights, k=count)
        with transaction.atomic():
            batch = _PatientBatch(context, first_id=next_id(Patient))
            for offset, branch in enumerate(homes):
                batch.add(start + offset + 1, branch)
            made += batch.save()
        for branch_id, patient_id in batch.referred_here:
            context.referrer_ids.setdefault(branch_id, []).append(patient_id)
        bar.update(count)
    bar.close()
    reset_sequences(
        Patient, PatientPhone, PatientChatId, Consent, MedicalAlert, Patient.tags.through
    )
    Organization.objects.filter(pk=organization.pk).update(patient_number_seq=config.patients)
    return made


@dataclass
class _PatientContext:
    rng: random.Random
    config: SimulationConfig
    organization_id: int
    staff: dict[int, StaffPlan]
    channel_ids: dict[str, int]
    channel_choices: list[int]
    channel_weights: list[int]
    tag_ids: list[int]
    zones: dict[int, ZoneInfo]
    referrer_ids: dict[int, list[int]] = field(default_factory=dict)  # per home branch


PATIENT_COLUMNS = (
    "id", "organization", "home_branch", "number", "family_name", "given_name", "name_order",
    "display_name", "birth_date", "sex", "email", "preferred_language", "preferred_doctor",
    "preferred_times", "source_channel", "referred_by_patient", "referred_by_staff",
    "referrer_external", "notes", "status", "first_seen_on", "search_key", "created_at",
    "updated_at",
)  # fmt: skip


class _PatientBatch:
    """One batch of patients and everything that hangs off them, as plain rows."""

    def __init__(self, context: _PatientContext, *, first_id: int) -> None:
        self.c = context
        self.next_id = first_id
        self.patients: list[tuple[Any, ...]] = []
        self.phones: list[tuple[Any, ...]] = []
        self.chats: list[tuple[Any, ...]] = []
        self.consents: list[tuple[Any, ...]] = []
        self.alerts: list[tuple[Any, ...]] = []
        self.tags: list[tuple[Any, ...]] = []
        self.referred_here: list[tuple[int, int]] = []  # (branch, patient) for later referrals

    def add(self, sequence: int, branch: Branch) -> None:
        rng, country, patient_id = self.c.rng, COUNTRIES[branch.country], self.next_id
        self.next_id += 1
        family, given, sex = country.person(rng)
        order = NameOrder.FAMILY_FIRST if country.family_first else NameOrder.GIVEN_FIRST
        display = compose_display_name(family_name=family, given_name=given, name_order=order)
        first_seen = _first_visit(self.c.config, sequence)
        registered_at = datetime.combine(first_seen, clock(10), tzinfo=self.c.zones[branch.pk])
        age = int(rng.triangular(3, 85, 34))
        number = f"P{sequence:06d}"
        phones = [(country.phone(rng), "mobile")]
        if rng.random() < 0.1:
            phones.append((country.phone(rng), "home"))
        email = ""
        if age >= 16 and rng.random() < 0.45:
            ascii_name = fold(f"{given}.{family}").replace(" ", "").encode("ascii", "ignore")
            local = ascii_name.decode().strip(".")  # a Chinese name leaves only the dot
            email = f"{local or 'patient'}{sequence}@example.com"
        doctors = self.c.staff[branch.pk].doctors
        preferred_doctor = rng.choice(doctors) if doctors and rng.random() < 0.4 else None
        channel, by_patient, by_staff, external = self._source(branch, doctors)
        self.patients.append((
            patient_id, self.c.organization_id, branch.pk, number, family, given, order, display,
            _birth_date(rng, first_seen, age), sex, email,
            country.language if rng.random() < 0.92 else "en", preferred_doctor,
            sorted(rng.sample(PreferredTime.values, rng.randint(0, 2))), channel, by_patient,
            by_staff, external, "",
            PatientStatus.INACTIVE if rng.random() < 0.02 else PatientStatus.ACTIVE, first_seen,
            build_search_key(display_name=display, family_name=family, given_name=given,
                             number=number, phones=[n for n, _ in phones]),
            registered_at, registered_at,
        ))  # fmt: skip
        self.phones += [(patient_id, n, k, i == 0) for i, (n, k) in enumerate(phones)]
        self._extras(patient_id, country, phones[0][0], email, registered_at)
        self._alert(patient_id, sex, age, registered_at)
        self.referred_here.append((branch.pk, patient_id))

    def _source(
        self, branch: Branch, doctors: list[int]
    ) -> tuple[int, int | None, int | None, str]:
        """Where the patient came from: mostly channels, many by referral ("old brings new").

        A referring patient is an earlier patient of the same branch (numbers follow first
        visits, so the referrer came first). A quarter of referrals come from the branch's
        champions, its first 2% of patients, who bring friends again and again."""
        rng, roll, ids = self.c.rng, self.c.rng.random(), self.c.channel_ids
        referrers = self.c.referrer_ids.get(branch.pk)
        if roll < 0.18 and referrers:
            if rng.random() < CHAMPION_REFERRALS:
                return ids["referral"], referrers[rng.randrange(len(referrers) // 50 + 1)], None, ""
            return ids["referral"], rng.choice(referrers), None, ""
        if roll < 0.21 and doctors:
            return ids["referral"], None, rng.choice(doctors), ""
        if roll < 0.23:
            partner = rng.choice(("Công ty ABC", "Fitness club", "Beauty salon", "Pharmacy"))
            return ids["partner"], None, None, partner
        channel = rng.choices(self.c.channel_choices, weights=self.c.channel_weights)[0]
        return channel, None, None, ""

    def _extras(
        self,
        patient_id: int,
        country: Country,
        phone: str,
        email: str,
        at: datetime,
    ) -> None:
        rng = self.c.rng
        chat_app = ""
        if country.chat_app and rng.random() < 0.6:
            chat_app = country.chat_app
            handle = (
                phone.lstrip("+") if chat_app != "wechat" else f"wxid_{rng.getrandbits(40):010x}"
            )
            self.chats.append((patient_id, chat_app, handle))
        origin = rng.choice(
            (ConsentOrigin.PAPER_FORM, ConsentOrigin.PAPER_FORM, ConsentOrigin.WEB_FORM)
        )
        wanted = [
            (rng.random() < 0.85, ContactChannel.SMS, ConsentPurpose.SERVICE),
            (rng.random() < 0.45, ContactChannel.SMS, ConsentPurpose.MARKETING),
            (bool(email) and rng.random() < 0.7, ContactChannel.EMAIL, ConsentPurpose.SERVICE),
            (bool(chat_app) and rng.random() < 0.5, chat_app, ConsentPurpose.SERVICE),
        ]
        self.consents += [
            (patient_id, ch, pu, True, origin, at, "") for yes, ch, pu in wanted if yes
        ]
        if self.c.tag_ids and rng.random() < 0.15:
            self.tags.append((patient_id, rng.choice(self.c.tag_ids)))

    def _alert(self, patient_id: int, sex: str, age: int, at: datetime) -> None:
        """About 6% carry a medical alert; pregnancy only for women of childbearing age."""
        if self.c.rng.random() >= 0.06:
            return
        can_be_pregnant = sex == "female" and 18 <= age <= 45
        choices = [a for a in ALERTS if a[0] != AlertKind.PREGNANCY or can_be_pregnant]
        kind, text, severity = self.c.rng.choice(choices)
        self.alerts.append((patient_id, kind, text, severity, True, at, at))

    def save(self) -> int:
        made = insert_rows(Patient, PATIENT_COLUMNS, self.patients)
        insert_rows(PatientPhone, ("patient", "number", "kind", "is_primary"), self.phones)
        insert_rows(PatientChatId, ("patient", "app", "handle"), self.chats)
        insert_rows(
            Consent, ("patient", "channel", "purpose", "is_granted", "origin", "recorded_at", "note"),
            self.consents,
        )  # fmt: skip
        insert_rows(
            MedicalAlert,
            ("patient", "kind", "description", "severity", "is_active", "created_at", "updated_at"),
            self.alerts,
        )
        insert_rows(Patient.tags.through, ("patient", "tag"), self.tags)
        return made


def _first_visit(config: SimulationConfig, sequence: int) -> date:
    """The day patient number `sequence` first came. Numbers follow first visits, and the
    organisation grows: the cumulative count rises with the square of time."""
    span = 365 * config.history_years
    progress = (sequence / max(config.patients, 1)) ** 0.5
    return config.as_of - timedelta(days=span - int(span * progress))


def _birth_date(rng: random.Random, first_seen: date, age: int) -> date | None:
    if rng.random() < 0.05:
        return None  # not everyone gives it
    return first_seen - timedelta(days=age * 365 + rng.randint(0, 364))


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, int]]) -> str:
    return rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]


def iter_sizes() -> Iterator[tuple[str, SimulationConfig]]:
    """Named sizes for the command line, the benchmarks and the README."""
    yield "demo", SimulationConfig(countries=("VN", "CN", "ES", "US"), branches=4, patients=5_000)
    yield "clinic", SimulationConfig(branches=1, patients=10_000)
    yield "chain", SimulationConfig(countries=("VN", "VN", "CN"), branches=20, patients=100_000)
    # A quarter of history and four weeks ahead keep the million-patient run within minutes.
    yield (
        "large",
        SimulationConfig(
            countries=("VN", "CN", "ES", "US"), branches=100, patients=1_000_000,
            history_days=91, future_days=28,
        ),
    )  # fmt: skip


SIZES: dict[str, SimulationConfig] = dict(iter_sizes())
