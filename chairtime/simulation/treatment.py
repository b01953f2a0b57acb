"""Treatment plans the simulated clinic presents, and the procedures its chairs perform.

A plan is presented at a consultation (a first visit or a check-up that completed): one
to three options of phased items, on FDI teeth with surfaces where they apply, priced from
the branch's `ProcedurePrice`, now and then with a discount and its reason. Whether the
patient accepts depends on what is proposed: most say yes to a cleaning or a filling
(70-80%), far fewer to implants or braces (25-40%). Some accept on the spot (signed or
verbal consent), some days later; others decline with a reason, let the plan expire
(`Branch.plan_validity_days` after it was presented) or have not answered yet.

The booking step (bookings.py) asks the plan book for a patient's next accepted item when
it books them, and reports what became of it: done (completed), booked ahead (scheduled),
or missed (planned again). Some patients never come back for it, so the unscheduled
treatment list has members. Items follow each other, phase by phase, with the healing
time the procedure needs (three months from implant to its crown, a month between
orthodontic adjustments).

After the book, `PlanBook.finish()` writes the plans, options and items, a
`PerformedProcedure` for every completed appointment (from its plan item, or ad hoc with
the appointment's own procedure) and the `LadderStep`s those reach; it returns the
production for the money step (money.py).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from chairtime.clinical.models import (
    LADDER_RANK,
    AcceptanceMethod,
    ItemStatus,
    LadderStep,
    OptionStatus,
    PerformedProcedure,
    PlanStatus,
    TreatmentItem,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.simulation.bulk import insert_rows, next_id

if TYPE_CHECKING:
    from chairtime.simulation.bookings import Bookable

S = AppointmentStatus
ZERO = Decimal(0)
DAY = timedelta(days=1)

# Consultations at which a plan may be presented, and how often: most first visits end
# with a plan, a fifth of check-ups find something to do.
CONSULTATIONS = frozenset({"EXAM", "KID-EXAM", "ORTHO-C", "CBCT", "XRAY-PAN"})
FIRST_VISIT_PLAN_CHANCE = 0.6
CHECK_UP_PLAN_CHANCE = 0.2
ON_THE_SPOT = 0.55  # of acceptances: at the consultation itself
NEVER_BACK = 0.15  # of accepted plans: the patient does not come back to book them
CANCELLED_LAST_ITEM = 0.05  # of accepted plans with several items: the last one dropped
DISCOUNT_CHANCE = 0.12  # of items

MOLARS = (16, 17, 26, 27, 36, 37, 46, 47)
PREMOLARS = (14, 15, 24, 25, 34, 35, 44, 45)
BACK_TEETH = MOLARS + PREMOLARS
ANTERIORS = (11, 12, 13, 21, 22, 23, 31, 32, 33, 41, 42, 43)
UPPER_FRONT = (11, 12, 21, 22)
WISDOM = (18, 28, 38, 48)
FIRST_MOLARS = (16, 26, 36, 46)
PRIMARY_MOLARS = (54, 55, 64, 65, 74, 75, 84, 85)
GAP_TEETH = (14, 15, 16, 24, 25, 26, 34, 35, 36, 44, 45, 46)  # with a neighbour either side
BACK_SURFACES = ("O", "O", "MO", "DO", "MOD", "B", "OB", "L")
FRONT_SURFACES = ("M", "D", "MI", "DI", "F", "L")

DECLINE_REASONS = ("Cost", "Wants a second opinion", "Will think about it", "Not a priority now",
                   "Afraid of the treatment", "Prefers another clinic",
                   "Insurance does not cover it")  # fmt: skip
DISCOUNT_REASONS = ("Several teeth in one plan", "Loyal patient", "Staff family",
                    "Referred by a patient", "Opening month")  # fmt: skip
ACCEPTANCE_NOTES = ("Explained risks and alternatives", "Patient asked for evening visits",
                    "Wants to start after payday", "")  # fmt: skip
# A drawn signature as the acceptance page stores it (a PNG data URL): a 1x1 pixel stands
# in for the drawing.
SIGNATURE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="

# After an item, the next one waits this long (healing, the next adjustment).
GAPS = {"IMPL": 90, "BONE": 120, "ORTHO-B": 28, "ORTHO-A": 28, "ORTHO-ADJ": 28, "EXT": 14,
        "ENDO-M": 10, "ENDO-A": 10, "EXT-W": 14}  # fmt: skip
DEFAULT_GAP = 7

L10N = dict[str, str]  # language → text


def _t(en: str, vi: str, zh: str, es: str) -> L10N:
    return {"en": en, "vi": vi, "zh-hans": zh, "es": es}


# --- what a consultation finds ----------------------------------------------------------
ItemSpec = tuple[int, str, tuple[int, ...], str, int]  # phase, code, teeth, surfaces, quantity


@dataclass(frozen=True)
class OptionSpec:
    label: L10N
    items: list[ItemSpec]


@dataclass(frozen=True)
class Finding:
    """A diagnosis and what can be done about it: the plan's options, the recommended
    first, and how likely a patient is to accept it."""

    kind: str  # hygiene, restorative, endodontic, implant, orthodontic, cosmetic, ...
    title: L10N
    options: list[OptionSpec]
    acceptance: float


def _hygiene(rng: random.Random) -> Finding:
    quadrants = rng.randint(2, 4)
    return Finding("hygiene", _t("Gum care", "Điều trị nha chu", "牙周护理", "Cuidado de encías"), [
        OptionSpec(_t("Scaling and deep cleaning", "Cạo vôi và nạo túi nha chu", "洁牙与牙周刮治",
                      "Limpieza y curetaje"),
                   [(1, "SCALE", (), "", 1), (2, "PERIO", (), "", quadrants)]),
        OptionSpec(_t("Scaling only", "Chỉ cạo vôi", "仅洁牙", "Solo limpieza"),
                   [(1, "SCALE", (), "", 1)]),
    ][: rng.choice((1, 2))], 0.78)  # fmt: skip


def _fillings(rng: random.Random, child: bool) -> Finding:
    teeth = sorted(rng.sample(PRIMARY_MOLARS if child else BACK_TEETH + ANTERIORS,
                              rng.randint(1, 3)))  # fmt: skip
    items: list[ItemSpec] = [
        (1, "FILL-C", (tooth,), rng.choice(FRONT_SURFACES if tooth in ANTERIORS
                                           else BACK_SURFACES), 1)
        for tooth in teeth
    ]  # fmt: skip
    return Finding(
        "restorative", _t("Fillings", "Trám răng", "补牙", "Empastes"),
        [OptionSpec(_t("Composite fillings", "Trám composite", "树脂补牙", "Empastes de composite"),
                    items)],
        0.74,
    )  # fmt: skip


def _root_canal(rng: random.Random) -> Finding:
    tooth = rng.choice(MOLARS)
    return Finding("endodontic", _t("Root canal and crown", "Điều trị tủy và bọc sứ", "根管治疗与牙冠",
                                    "Endodoncia y corona"), [
        OptionSpec(_t("Root canal + zirconia crown", "Điều trị tủy + mão Zirconia",
                      "根管治疗 + 氧化锆冠", "Endodoncia + corona de zirconio"),
                   [(1, "ENDO-M", (tooth,), "", 1), (2, "CROWN-Z", (tooth,), "", 1)]),
        OptionSpec(_t("Root canal + metal-ceramic crown", "Điều trị tủy + mão sứ kim loại",
                      "根管治疗 + 烤瓷冠", "Endodoncia + corona metal-porcelana"),
                   [(1, "ENDO-M", (tooth,), "", 1), (2, "CROWN-M", (tooth,), "", 1)]),
        OptionSpec(_t("Extraction", "Nhổ răng", "拔牙", "Extracción"),
                   [(1, "EXT", (tooth,), "", 1)]),
    ][: rng.choice((2, 3))], 0.6)  # fmt: skip


def _missing_tooth(rng: random.Random) -> Finding:
    gap = rng.choice(GAP_TEETH)
    implant: list[ItemSpec] = [(1, "IMPL", (gap,), "", 1), (2, "IMPL-AB", (gap,), "", 1)]
    if rng.random() < 0.3:
        implant.insert(0, (1, "BONE", (gap,), "", 1))
    return Finding("implant", _t("Replacing a missing tooth", "Phục hình răng mất", "缺牙修复",
                                 "Reposición de un diente"), [
        OptionSpec(_t("Implant and crown", "Implant và mão sứ", "种植牙与牙冠",
                      "Implante y corona"), implant),
        OptionSpec(_t("Three-unit bridge", "Cầu răng 3 đơn vị", "三单位固定桥", "Puente de tres piezas"),
                   [(1, "BRIDGE", (gap - 1, gap, gap + 1), "", 1)]),
        OptionSpec(_t("Removable denture", "Hàm tháo lắp", "活动义齿", "Prótesis removible"),
                   [(1, "DENTURE", (gap,), "", 1)]),
    ][: rng.choice((2, 3, 3))], 0.32)  # fmt: skip


def _orthodontics(rng: random.Random) -> Finding:
    braces: list[ItemSpec] = [(1, "ORTHO-B", (), "", 1)]
    braces += [(2, "ORTHO-ADJ", (), "", 1)] * rng.randint(6, 10)
    braces += [(3, "RETAIN", (), "", 1)]
    aligners: list[ItemSpec] = [(1, "ORTHO-A", (), "", 1)]
    aligners += [(2, "ORTHO-ADJ", (), "", 1)] * rng.randint(3, 5)
    aligners += [(3, "RETAIN", (), "", 1)]
    options = [
        OptionSpec(_t("Fixed braces", "Niềng răng mắc cài", "固定矫治", "Brackets"), braces),
        OptionSpec(_t("Clear aligners", "Niềng răng trong suốt", "隐形矫治",
                      "Alineadores transparentes"), aligners),
    ]  # fmt: skip
    if rng.random() < 0.3:
        options.reverse()
    return Finding(
        "orthodontic", _t("Orthodontic treatment", "Chỉnh nha", "正畸治疗", "Ortodoncia"), options,
        0.3,
    )  # fmt: skip


def _wisdom(rng: random.Random) -> Finding:
    teeth = sorted(rng.sample(WISDOM, rng.randint(1, 2)))
    return Finding("surgery", _t("Wisdom teeth", "Răng khôn", "智齿", "Muelas del juicio"), [
        OptionSpec(_t("Extraction", "Nhổ răng khôn", "拔除", "Extracción"),
                   [(1, "EXT-W", (tooth,), "", 1) for tooth in teeth]),
    ], 0.6)  # fmt: skip


def _whitening(rng: random.Random) -> Finding:
    return Finding("cosmetic", _t("Whitening", "Tẩy trắng răng", "牙齿美白", "Blanqueamiento"), [
        OptionSpec(_t("Scaling, then in-office whitening", "Cạo vôi rồi tẩy trắng",
                      "洁牙后诊室美白", "Limpieza y blanqueamiento"),
                   [(1, "SCALE", (), "", 1), (2, "WHITEN", (), "", 1)]),
    ], 0.5)  # fmt: skip


def _smile(rng: random.Random) -> Finding:
    teeth = UPPER_FRONT if rng.random() < 0.7 else (13, *UPPER_FRONT, 23)
    return Finding("cosmetic", _t("Smile makeover", "Thiết kế nụ cười", "微笑改造",
                                  "Diseño de sonrisa"), [
        OptionSpec(_t("Porcelain veneers", "Mặt dán sứ", "瓷贴面", "Carillas de porcelana"),
                   [(1, "VENEER", teeth, "", len(teeth))]),
        OptionSpec(_t("Full smile design", "Thiết kế nụ cười toàn hàm", "全口微笑设计",
                      "Diseño de sonrisa completo"), [(1, "SMILE", (), "", 1)]),
        OptionSpec(_t("Whitening", "Tẩy trắng", "美白", "Blanqueamiento"),
                   [(1, "WHITEN", (), "", 1)]),
    ], 0.25)  # fmt: skip


def _children(rng: random.Random) -> Finding:
    teeth = tuple(sorted(rng.sample(FIRST_MOLARS, rng.randint(2, 4))))
    return Finding("paediatric", _t("Protecting children's teeth", "Bảo vệ răng trẻ em",
                                    "儿童牙齿防护", "Prevención infantil"), [
        OptionSpec(_t("Fluoride and sealants", "Bôi fluor và trám bít hố rãnh", "涂氟与窝沟封闭",
                      "Flúor y selladores"),
                   [(1, "FLUOR", (), "", 1), (1, "SEAL", teeth, "O", len(teeth))]),
        OptionSpec(_t("Fluoride only", "Chỉ bôi fluor", "仅涂氟", "Solo flúor"),
                   [(1, "FLUOR", (), "", 1)]),
    ], 0.8)  # fmt: skip


def find(rng: random.Random, consultation: str) -> Finding:
    """What a consultation of this kind finds."""
    roll = rng.random()
    if consultation == "ORTHO-C":
        return _orthodontics(rng) if roll < 0.85 else _whitening(rng)
    if consultation == "KID-EXAM":
        return _children(rng) if roll < 0.7 else _fillings(rng, child=True)
    if consultation == "CBCT":
        return _missing_tooth(rng) if roll < 0.6 else _wisdom(rng) if roll < 0.8 else (
            _root_canal(rng))  # fmt: skip
    for limit, make in ((0.26, _hygiene), (0.54, lambda r: _fillings(r, child=False)),
                        (0.66, _root_canal), (0.77, _missing_tooth), (0.84, _wisdom),
                        (0.91, _whitening), (0.94, _smile)):  # fmt: skip
        if roll < limit:
            return make(rng)
    return _orthodontics(rng)


def ad_hoc_teeth(rng: random.Random, code: str) -> tuple[tuple[int, ...], str, int]:
    """Teeth, surfaces and quantity of a procedure done without a plan."""
    if code == "FILL-C":
        tooth = rng.choice(BACK_TEETH + ANTERIORS)
        return (tooth,), rng.choice(FRONT_SURFACES if tooth in ANTERIORS else BACK_SURFACES), 1
    single = {"ENDO-A": ANTERIORS, "ENDO-M": MOLARS, "EXT": BACK_TEETH, "EXT-W": WISDOM,
              "CROWN-Z": BACK_TEETH, "CROWN-M": BACK_TEETH, "IMPL": GAP_TEETH,
              "IMPL-AB": GAP_TEETH, "BONE": GAP_TEETH, "DENTURE": GAP_TEETH,
              "VENEER": UPPER_FRONT}  # fmt: skip
    if code in single:
        return (rng.choice(single[code]),), "", 1
    if code == "BRIDGE":
        gap = rng.choice(GAP_TEETH)
        return (gap - 1, gap, gap + 1), "", 1
    if code == "SEAL":
        return (rng.choice(FIRST_MOLARS),), "O", 1
    return (), "", 1


# --- the plan book -----------------------------------------------------------------------
@dataclass(eq=False)
class PlanItem:
    id: int
    option_id: int
    phase: int
    position: int
    procedure: Bookable
    teeth: tuple[int, ...]
    surfaces: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    discount_reason: str
    amount: Decimal
    status: str = ItemStatus.PLANNED
    appointment_id: int | None = None
    completed_at: datetime | None = None
    plan: Plan | None = None


@dataclass(eq=False)
class Plan:
    """A plan as the simulator tracks it; written as rows by `PlanBook.finish()`."""

    id: int
    patient_id: int
    index: int  # the patient's index in the booking step
    kind: str
    title: str
    doctor: int
    consultant: int | None
    presented_at: datetime
    expires_on: Any  # date
    options: list[tuple[int, str, list[PlanItem]]]  # (option id, label, items)
    status: str = PlanStatus.PROPOSED
    accepted_option: int | None = None  # index into options
    accepted_at: datetime | None = None
    acceptance: tuple[Any, ...] = ()  # accepted_by, method, signature, signed name, witness, note
    declined_at: datetime | None = None
    decline_reason: str = ""
    expired_at: datetime | None = None
    completed_at: datetime | None = None
    # The accepted option's items still to do, in order, and when the next may be booked.
    queue: list[PlanItem] = field(default_factory=list)
    ready_at: datetime | None = None
    in_flight: bool = False  # its next item is booked ahead

    @property
    def items(self) -> list[PlanItem]:
        return self.options[self.accepted_option][2] if self.accepted_option is not None else []

    @property
    def total(self) -> Decimal:
        return sum((item.amount for item in self.items if item.status != ItemStatus.CANCELLED),
                   ZERO)  # fmt: skip


@dataclass
class Performed:
    """A performed procedure as the money step needs it."""

    id: int
    patient_id: int
    appointment_id: int
    procedure: Bookable
    performed_at: datetime
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    plan: Plan | None


@dataclass
class Production:
    performed: list[Performed]
    plans: list[Plan]


class PlanBook:
    """One branch's plans while its appointment book is filled."""

    def __init__(
        self,
        rng: random.Random,
        *,
        branch: Any,
        language: str,
        procedures: Sequence[Bookable],
        prices: dict[int, Decimal],
        places: int,
        consultants: Sequence[int],
        witnesses: Sequence[int],
        now: datetime,
    ) -> None:
        self.rng, self.branch, self.language, self.now = rng, branch, language, now
        self.by_code = {p.code: p for p in procedures}
        self.tiers = {p.id: p.tier for p in procedures}
        self.prices, self.quantum = prices, Decimal(1).scaleb(-places)
        self.consultants, self.witnesses = list(consultants), list(witnesses)
        self.validity = timedelta(days=branch.plan_validity_days)
        self.plans: list[Plan] = []
        self.open: dict[int, list[Plan]] = {}  # patient index → accepted plans with items to do
        self.waiting: list[int] = []  # patient indexes with treatment to book (lazily pruned)
        self.by_appointment: dict[int, PlanItem] = {}
        self.next_plan, self.next_option = next_id(TreatmentPlan), next_id(TreatmentOption)
        self.next_item = next_id(TreatmentItem)

    # --- at a consultation ---------------------------------------------------------------
    def consulted(
        self,
        *,
        index: int,
        patient_id: int,
        patient_name: str,
        code: str,
        first_visit: bool,
        doctor: int,
        completed_at: datetime,
    ) -> None:
        """A consultation completed: maybe a plan, and what the patient made of it."""
        rng = self.rng
        chance = FIRST_VISIT_PLAN_CHANCE if first_visit else CHECK_UP_PLAN_CHANCE
        if code not in CONSULTATIONS or rng.random() >= chance:
            return
        finding = find(rng, code)
        presented_at = completed_at + timedelta(minutes=rng.randint(3, 25))
        if presented_at >= self.now:
            return
        local_day = presented_at.astimezone(self.branch.zone).date()
        plan = Plan(
            id=self.next_plan, patient_id=patient_id, index=index, kind=finding.kind,
            title=finding.title.get(self.language, finding.title["en"]), doctor=doctor,
            consultant=rng.choice(self.consultants) if self.consultants else None,
            presented_at=presented_at, expires_on=local_day + self.validity, options=[],
        )  # fmt: skip
        self.next_plan += 1
        for option in finding.options:
            items = [self._item(plan, number, spec) for number, spec in enumerate(option.items, 1)]
            plan.options.append(
                (self.next_option, option.label.get(self.language, option.label["en"]), items)
            )
            self.next_option += 1
        self.plans.append(plan)
        self._decide(plan, finding, patient_name)

    def _item(self, plan: Plan, position: int, spec: ItemSpec) -> PlanItem:
        phase, code, teeth, surfaces, quantity = spec
        procedure = self.by_code[code]
        price = self.prices[procedure.id]
        discount, reason = ZERO, ""
        if self.rng.random() < DISCOUNT_CHANCE:
            share = Decimal(self.rng.choice((5, 10, 10, 15, 20))) / 100
            discount = (price * quantity * share).quantize(self.quantum, rounding=ROUND_HALF_UP)
            reason = self.rng.choice(DISCOUNT_REASONS)
        item = PlanItem(
            id=self.next_item, option_id=self.next_option, phase=phase, position=position,
            procedure=procedure, teeth=teeth, surfaces=surfaces, quantity=quantity,
            unit_price=price, discount=discount, discount_reason=reason,
            amount=price * quantity - discount, plan=plan,
        )  # fmt: skip
        self.next_item += 1
        return item

    def _decide(self, plan: Plan, finding: Finding, patient_name: str) -> None:
        rng, now = self.rng, self.now
        if rng.random() < finding.acceptance:
            if rng.random() < ON_THE_SPOT:
                at = plan.presented_at + timedelta(minutes=rng.randint(5, 40))
            else:
                at = plan.presented_at + timedelta(days=rng.randint(1, 21),
                                                   minutes=rng.randint(0, 300))  # fmt: skip
            if at >= now:
                return  # not yet: still proposed
            chosen = 0 if rng.random() < 0.7 or len(plan.options) == 1 else rng.randrange(
                1, len(plan.options))  # fmt: skip
            plan.status, plan.accepted_option, plan.accepted_at = PlanStatus.ACCEPTED, chosen, at
            recorder = plan.consultant or plan.doctor
            if rng.random() < 0.6:
                plan.acceptance = (recorder, AcceptanceMethod.SIGNATURE, SIGNATURE, patient_name,
                                   None, rng.choice(ACCEPTANCE_NOTES))  # fmt: skip
            else:
                witness = rng.choice(self.witnesses) if self.witnesses else plan.doctor
                plan.acceptance = (recorder, AcceptanceMethod.VERBAL, "", "", witness,
                                   rng.choice(ACCEPTANCE_NOTES))  # fmt: skip
            items = plan.items
            if len(items) > 1 and rng.random() < CANCELLED_LAST_ITEM:
                items[-1].status = ItemStatus.CANCELLED
            plan.queue = [item for item in items if item.status == ItemStatus.PLANNED]
            plan.ready_at = at
            if rng.random() >= NEVER_BACK:
                self.open.setdefault(plan.index, []).append(plan)
                self.waiting.append(plan.index)
            return
        if rng.random() < 0.6:
            at = plan.presented_at + timedelta(
                days=rng.randint(0, 30), minutes=rng.randint(10, 600)
            )
            if at < now:
                plan.status, plan.declined_at = PlanStatus.DECLINED, at
                plan.decline_reason = rng.choice(DECLINE_REASONS)
            return
        # No answer: the nightly job expires it the night after its last day.
        expired_at = datetime.combine(plan.expires_on + DAY, datetime.min.time(),
                                      tzinfo=self.branch.zone) + timedelta(hours=2)  # fmt: skip
        if expired_at < now:
            plan.status, plan.expired_at = PlanStatus.EXPIRED, expired_at

    # --- the booking step asks and tells --------------------------------------------------
    def next_for(self, index: int, day_start: datetime) -> PlanItem | None:
        """The patient's next accepted item that may be booked on this day, if any."""
        for plan in self.open.get(index, ()):
            ready = plan.ready_at
            if plan.queue and not plan.in_flight and ready is not None and ready < day_start:
                return plan.queue[0]
        return None

    def waiting_patient(self, rng: random.Random) -> int | None:
        """A patient with accepted treatment still to book."""
        while self.waiting:
            position = rng.randrange(len(self.waiting))
            index = self.waiting[position]
            if any(p.queue and not p.in_flight for p in self.open.get(index, ())):
                return index
            self.waiting[position] = self.waiting[-1]
            self.waiting.pop()
        return None

    def booked(
        self, item: PlanItem, appointment_id: int, status: str, completed_at: datetime | None
    ) -> None:
        """What became of the appointment booked for the item."""
        plan = item.plan
        assert plan is not None
        if status == S.COMPLETED and completed_at is not None:
            item.status, item.appointment_id, item.completed_at = (
                ItemStatus.COMPLETED, appointment_id, completed_at)  # fmt: skip
            self.by_appointment[appointment_id] = item
            plan.queue.pop(0)
            gap = GAPS.get(item.procedure.code, DEFAULT_GAP)
            plan.ready_at = completed_at + timedelta(days=gap)
        elif status in (S.BOOKED, S.CONFIRMED):
            item.status, item.appointment_id = ItemStatus.SCHEDULED, appointment_id
            plan.in_flight = True
        # Cancelled or missed: the item is to be booked again.

    # --- rows ------------------------------------------------------------------------------
    def finish(self, appointments: Sequence[tuple[Any, ...]], columns: Sequence[str]) -> Production:
        """Write plans, performed procedures and ladder steps; return the production."""
        self._settle_statuses()
        self._write_plans()
        performed = self._write_performed(appointments, columns)
        return Production(performed=performed, plans=self.plans)

    def _settle_statuses(self) -> None:
        for plan in self.plans:
            if plan.accepted_option is None:
                continue
            items = plan.items
            done = [i for i in items if i.status == ItemStatus.COMPLETED]
            if done and all(
                i.status in (ItemStatus.COMPLETED, ItemStatus.CANCELLED) for i in items
            ):
                plan.status = PlanStatus.COMPLETED
                plan.completed_at = max(i.completed_at for i in done if i.completed_at)
            elif done:
                plan.status = PlanStatus.IN_PROGRESS

    def _write_plans(self) -> None:
        branch_id = self.branch.pk
        plans, options, items = [], [], []
        for plan in self.plans:
            stamps = [plan.presented_at, plan.accepted_at, plan.declined_at, plan.expired_at,
                      plan.completed_at]  # fmt: skip
            updated = max(s for s in stamps if s is not None)
            accepted_by, method, signature, signed, witness, note = plan.acceptance or (
                None, "", "", "", None, "")  # fmt: skip
            plans.append((
                plan.id, branch_id, plan.patient_id, plan.title, plan.doctor, plan.consultant,
                plan.status, plan.presented_at, plan.expires_on, plan.accepted_at, accepted_by,
                method, signature, signed, witness, note, plan.declined_at, plan.decline_reason,
                plan.expired_at, plan.completed_at, "", plan.presented_at, updated,
            ))  # fmt: skip
            for position, (option_id, label, option_items) in enumerate(plan.options):
                if plan.accepted_option is not None:
                    status = (OptionStatus.ACCEPTED if position == plan.accepted_option
                              else OptionStatus.DECLINED)  # fmt: skip
                elif plan.status == PlanStatus.DECLINED:
                    status = OptionStatus.DECLINED
                else:
                    status = OptionStatus.OPEN
                options.append((option_id, plan.id, label, position + 1, position == 0, status,
                                plan.presented_at, updated))  # fmt: skip
                for item in option_items:
                    items.append((
                        item.id, option_id, item.phase, item.position, item.procedure.id,
                        list(item.teeth), item.surfaces, item.quantity, item.unit_price,
                        item.discount, item.discount_reason, item.amount, item.status,
                        item.appointment_id, item.completed_at, plan.presented_at,
                        item.completed_at or updated,
                    ))  # fmt: skip
        insert_rows(TreatmentPlan, PLAN_COLUMNS, plans)
        insert_rows(TreatmentOption, OPTION_COLUMNS, options)
        insert_rows(TreatmentItem, ITEM_COLUMNS, items)

    def _write_performed(
        self, appointments: Sequence[tuple[Any, ...]], columns: Sequence[str]
    ) -> list[Performed]:
        at = {name: columns.index(name) for name in columns}
        rng, branch_id = self.rng, self.branch.pk
        procedures = {p.id: p for p in self.by_code.values()}
        done = sorted(
            (row for row in appointments if row[at["status"]] == S.COMPLETED),
            key=lambda row: (row[at["completed_at"]], row[at["id"]]),
        )
        first_id = next_id(PerformedProcedure)
        rows, result, steps = [], [], []
        highest: dict[int, str] = {}  # patient → tier
        for number, row in enumerate(done):
            performed_id = first_id + number
            appointment_id, patient_id = row[at["id"]], row[at["patient"]]
            seated, completed = row[at["seated_at"]], row[at["completed_at"]]
            item = self.by_appointment.get(appointment_id)
            if item is not None:
                procedure, teeth, surfaces, quantity = (item.procedure, item.teeth, item.surfaces,
                                                        item.quantity)  # fmt: skip
                unit_price, discount, amount = item.unit_price, item.discount, item.amount
            else:
                procedure = procedures[row[at["procedure"]]]
                teeth, surfaces, quantity = ad_hoc_teeth(rng, procedure.code)
                unit_price, discount = self.prices[procedure.id], ZERO
                amount = unit_price * quantity
            minutes = max(1, round((completed - seated).total_seconds() / 60))
            rows.append((
                performed_id, branch_id, patient_id, appointment_id,
                item.id if item else None, procedure.id, row[at["doctor"]], row[at["assistant"]],
                row[at["chair"]], completed, minutes, list(teeth), surfaces, quantity,
                unit_price, discount, amount, "", row[at["doctor"]], completed, completed,
            ))  # fmt: skip
            result.append(Performed(
                performed_id, patient_id, appointment_id, procedure, completed, quantity,
                unit_price, discount, amount, item.plan if item else None,
            ))  # fmt: skip
            tier, previous = procedure.tier, highest.get(patient_id, "")
            if not previous or LADDER_RANK[tier] > LADDER_RANK[previous]:
                highest[patient_id] = tier
                steps.append((patient_id, branch_id, tier, LADDER_RANK[tier], previous, completed,
                              performed_id))  # fmt: skip
        insert_rows(PerformedProcedure, PERFORMED_COLUMNS, rows)
        insert_rows(LadderStep, ("patient", "branch", "tier", "rank", "previous_tier",
                                 "reached_at", "performed"), steps)  # fmt: skip
        return result


PLAN_COLUMNS = (
    "id", "branch", "patient", "title", "doctor", "consultant", "status", "presented_at",
    "expires_on", "accepted_at", "accepted_by", "acceptance_method", "signature", "signed_name",
    "verbal_witness", "acceptance_note", "declined_at", "decline_reason", "expired_at",
    "completed_at", "notes", "created_at", "updated_at",
)  # fmt: skip
OPTION_COLUMNS = ("id", "plan", "label", "position", "is_recommended", "status", "created_at",
                  "updated_at")  # fmt: skip
ITEM_COLUMNS = (
    "id", "option", "phase", "position", "procedure", "teeth", "surfaces", "quantity",
    "unit_price", "discount", "discount_reason", "amount", "status", "appointment",
    "completed_at", "created_at", "updated_at",
)  # fmt: skip
PERFORMED_COLUMNS = (
    "id", "branch", "patient", "appointment", "plan_item", "procedure", "doctor", "assistant",
    "chair", "performed_at", "chair_minutes", "teeth", "surfaces", "quantity", "unit_price",
    "discount", "amount", "notes", "recorded_by", "created_at", "updated_at",
)  # fmt: skip
