"""The simulated clinic's patient relations, after its appointment book and money: the
complaints patients made, the NPS surveys they were sent and answered, two shared demo
segments, then every patient's profile and group (crm.profiles).

- Complaints: about 2% of the patients seen in the book complain about a visit (waiting,
  attitude, result, pain, billing, ...), more often about some doctors than others, most
  resolved by the branch manager within days or weeks; recent ones still open.
- NPS: about 40% of completed visits were followed by a survey (the day after, valid 30
  days), about 35% of them answered, the score depending on the doctor (some doctors are
  better liked) and low after a visit the patient complained about.
- Segments: "Potential, not seen for 6 months" and "VIP birthdays in <as_of's month>",
  shared and owned by the organisation's owner.

Referral chains (generator.py: a branch's champions refer again and again) and promotion
hunters (money.py) are made earlier, with the patients and the invoices. Rows are written
with `bulk.insert_rows` in chunks; everything random comes from generators seeded from the
configuration's seed (survey tokens apart: they are secrets).
"""

from __future__ import annotations

import calendar
import random
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any, Protocol

from django.db import connection, transaction
from django.db.models import Count

from chairtime.accounts.models import User
from chairtime.crm.choices import (
    ComplaintCategory,
    ComplaintSeverity,
    ComplaintStatus,
    CustomerGroup,
)
from chairtime.crm.models import Complaint, NpsSurvey, Segment
from chairtime.scheduling.choices import AppointmentStatus
from chairtime.scheduling.models import Appointment
from chairtime.simulation.bulk import insert_rows, next_id, reset_sequences
from chairtime.tenancy.models import Branch, Membership, Organization
from chairtime.tenancy.roles import Role

COMPLAINING_PATIENTS = 0.02  # of the patients with a completed visit in the book
SURVEYED_VISITS, ANSWERED_SURVEYS = 0.40, 0.35
SURVEY_DAYS = 30
NPS_MEAN, NPS_SPREAD = 8.2, 1.7  # an average doctor's scores (normal, rounded, 0-10)
COMMENTED = 0.4  # of answered surveys
CHUNK = 20_000  # appointments read (and rows written) at a time

CATEGORY_WEIGHTS = (
    (ComplaintCategory.WAITING, 22), (ComplaintCategory.ATTITUDE, 14),
    (ComplaintCategory.RESULT, 14), (ComplaintCategory.PAIN, 11), (ComplaintCategory.BILLING, 16),
    (ComplaintCategory.HYGIENE, 4), (ComplaintCategory.COMMUNICATION, 14),
    (ComplaintCategory.OTHER, 5),
)  # fmt: skip
SEVERITY_WEIGHTS = (
    (ComplaintSeverity.LOW, 38), (ComplaintSeverity.MEDIUM, 37), (ComplaintSeverity.HIGH, 20),
    (ComplaintSeverity.CRITICAL, 5),
)  # fmt: skip
# About the doctor: these name the doctor of the visit; the others are about the clinic.
ABOUT_THE_DOCTOR = frozenset({
    ComplaintCategory.ATTITUDE, ComplaintCategory.RESULT, ComplaintCategory.PAIN,
    ComplaintCategory.COMMUNICATION,
})  # fmt: skip
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    ComplaintCategory.WAITING: (
        "Waited 50 minutes past the appointment time without an explanation.",
        "Arrived on time and was seated only after 40 minutes.",
        "Was told the doctor was running late only after waiting half an hour.",
    ),
    ComplaintCategory.ATTITUDE: (
        "Felt rushed; the doctor did not answer questions about the procedure.",
        "The receptionist was impatient on the phone and at the desk.",
        "Felt talked down to when asking about the cost of the treatment.",
    ),
    ComplaintCategory.RESULT: (
        "The filling came loose within two weeks.",
        "The crown does not match the colour of the neighbouring teeth.",
        "Still sensitive to cold a month after the treatment.",
    ),
    ComplaintCategory.PAIN: (
        "The anaesthetic did not work well and the procedure hurt.",
        "Strong pain for several days after the extraction.",
        "Gums sore and bleeding after the cleaning.",
    ),
    ComplaintCategory.BILLING: (
        "The invoice was higher than the price quoted in the plan.",
        "Charged for an X-ray that was not explained beforehand.",
        "The promotion code was not applied at the desk.",
    ),
    ComplaintCategory.HYGIENE: (
        "The waiting room and the toilet were not clean.",
        "Saw an assistant not change gloves between patients.",
    ),
    ComplaintCategory.COMMUNICATION: (
        "Nobody called back about the lab work as promised.",
        "The treatment options and their risks were not explained.",
        "The reminder gave the wrong time for the appointment.",
    ),
    ComplaintCategory.OTHER: (
        "Could not find parking near the clinic.",
        "The air conditioning in the treatment room was too cold.",
    ),
}
RESOLUTIONS: dict[str, tuple[str, ...]] = {
    ComplaintCategory.WAITING: (
        "Apologised by phone; the next visit booked at the first slot of the day.",
        "Explained the emergency that delayed the schedule; offered a free cleaning.",
    ),
    ComplaintCategory.ATTITUDE: (
        "Spoke with the staff member; apologised to the patient in person.",
        "The doctor called the patient to explain the procedure again.",
    ),
    ComplaintCategory.RESULT: (
        "Redone free of charge at a follow-up visit; the patient is satisfied.",
        "Examined again: within normal healing, follow-up in two weeks agreed.",
    ),
    ComplaintCategory.PAIN: (
        "Follow-up examination, painkillers prescribed; pain gone after three days.",
        "The doctor called the next day; the patient recovered normally.",
    ),
    ComplaintCategory.BILLING: (
        "Difference refunded; price list explained.",
        "Invoice corrected and the promotion applied.",
    ),
    ComplaintCategory.HYGIENE: (
        "Cleaning schedule tightened; thanked the patient for telling us.",
        "Reminded the team of the glove protocol; apologised to the patient.",
    ),
    ComplaintCategory.COMMUNICATION: (
        "Called the patient with the results; the front desk now logs call-backs.",
        "Explained the options again in a consultation at no charge.",
    ),
    ComplaintCategory.OTHER: (
        "Explained the options; noted for the branch meeting.",
        "Apologised; the room temperature is now checked each morning.",
    ),
}
COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "promoter": {
        "en": ("Very gentle doctor, no pain at all.", "Friendly staff and on time."),
        "vi": ("Bác sĩ rất nhẹ nhàng, không đau chút nào.", "Nhân viên thân thiện, đúng giờ."),
        "zh-hans": ("医生很温柔,一点都不疼。", "工作人员友好,很准时。"),
        "es": ("Doctora muy amable, sin dolor.", "Personal muy atento y puntual."),
    },
    "passive": {
        "en": ("Good treatment but a long wait.", "Fine, a bit expensive."),
        "vi": ("Điều trị tốt nhưng phải chờ lâu.", "Ổn, hơi đắt."),
        "zh-hans": ("治疗不错,但等了很久。", "还可以,有点贵。"),
        "es": ("Buen tratamiento pero mucha espera.", "Bien, algo caro."),
    },
    "detractor": {
        "en": ("Waited too long and nobody explained why.", "Still in pain after the visit."),
        "vi": ("Chờ quá lâu mà không ai giải thích.", "Vẫn còn đau sau khi khám."),
        "zh-hans": ("等太久了,没人解释。", "看完牙还是疼。"),
        "es": ("Esperé demasiado y nadie me explicó nada.", "Sigo con dolor después de la visita."),
    },
}

COMPLAINT_COLUMNS = (
    "id", "organization", "branch", "patient", "appointment", "doctor", "category", "severity",
    "status", "description", "received_at", "owner", "recorded_by", "resolution", "resolved_at",
    "resolved_by", "created_at", "updated_at",
)  # fmt: skip
SURVEY_COLUMNS = (
    "id", "organization", "branch", "patient", "appointment", "doctor", "token", "language",
    "sent_at", "expires_at", "answered_at", "score", "comment", "created_at", "updated_at",
)  # fmt: skip


# The demo segments (crm.segments.filters, docs/filter.md): a name and a definition. The
# birthday segment names the month of as_of: a segment is re-evaluated, never re-dated.
def demo_segments(as_of: date) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "Potential, not seen for 6 months",
            {"match": "all", "conditions": [
                {"field": "group", "op": "in", "value": [CustomerGroup.POTENTIAL.value]},
                {"field": "days_since_last_visit", "op": "gte", "value": 180},
            ]},
        ),
        (
            f"VIP birthdays in {calendar.month_name[as_of.month]}",
            {"match": "all", "conditions": [
                {"field": "group", "op": "in", "value": [CustomerGroup.LOYAL.value]},
                {"field": "birthday_month", "op": "in", "value": [as_of.month]},
            ]},
        ),
    ]  # fmt: skip


@dataclass
class CrmResult:
    complaints: int = 0
    surveys: int = 0
    answered: int = 0
    segments: int = 0
    profiles: int = 0  # patients whose profile and group were computed
    seconds: float = 0.0


class _Config(Protocol):  # the fields of generator.SimulationConfig used here
    @property
    def seed(self) -> int: ...
    @property
    def slug(self) -> str: ...
    @property
    def as_of(self) -> date: ...


def simulate_crm(
    config: _Config, organization: Organization, branches: Sequence[Branch]
) -> CrmResult:
    """Complaints, surveys and segments of an organisation whose book and money are made,
    then its profiles and groups."""
    started = time.perf_counter()
    result = CrmResult()
    with transaction.atomic():
        feedback = _Feedback(config, organization, branches)
        feedback.run()
        result.complaints, result.surveys = feedback.complaints, feedback.surveys
        result.answered = feedback.answered
        result.segments = _make_segments(config, organization)
    _analyze()
    # As of the simulated today (the start of as_of where it comes last), not the clock's.
    now = max(datetime.combine(config.as_of, clock(0), tzinfo=b.zone) for b in branches)
    result.profiles = recompute_profiles(organization, now=now.astimezone(UTC))
    result.seconds = time.perf_counter() - started
    return result


def recompute_profiles(organization: Organization, *, now: datetime | None = None) -> int:
    """Every patient's profile and group, by crm.profiles (imported on use)."""
    from chairtime.crm.profiles.compute import recompute_organization

    return recompute_organization(organization, now=now).patients


def _analyze() -> None:
    """Statistics for PostgreSQL's planner: it plans the profiles' queries with what it last
    knew of the tables, empty before the simulator filled them (then a nested loop over two
    "empty" tables takes minutes). ANALYZE counts this transaction's rows too."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


# --- complaints and surveys ----------------------------------------------------------------
class _Feedback:
    def __init__(
        self, config: _Config, organization: Organization, branches: Sequence[Branch]
    ) -> None:
        self.rng = random.Random(f"{config.seed}:crm")
        self.organization_id = organization.pk
        self.branches = {b.pk: b for b in branches}
        # The start of as_of in each branch's zone, as the clinic computes "now".
        self.now = {
            b.pk: datetime.combine(config.as_of, clock(0), tzinfo=b.zone).astimezone(UTC)
            for b in branches
        }
        self.staff: dict[tuple[int, str], list[int]] = {}
        for user_id, branch_id, role in (
            Membership.objects.filter(organization=organization, branch__isnull=False)
            .order_by("user_id")
            .values_list("user_id", "branch_id", "role")
        ):
            self.staff.setdefault((branch_id, role), []).append(user_id)
        # Some doctors are better liked than others: quality in [-1, 1] moves their NPS
        # scores and how often patients complain about their visits.
        doctors = sorted(
            {u for (_, role), users in self.staff.items() if role == Role.DOCTOR for u in users}
        )
        self.quality = {doctor: self.rng.uniform(-1, 1) for doctor in doctors}
        self.completed = Appointment.objects.filter(
            branch__organization=organization, status=AppointmentStatus.COMPLETED
        )
        self.complaints = self.surveys = self.answered = 0
        self.complaint_share = 0.0  # of visits: set by run() from the numbers seen
        self.complaint_id = self.survey_id = 0
        self.complaint_rows: list[tuple[Any, ...]] = []
        self.survey_rows: list[tuple[Any, ...]] = []

    def run(self) -> None:
        visits = self.completed.count()
        patients = self.completed.aggregate(n=Count("patient", distinct=True))["n"]
        if not visits:
            return
        self.complaint_share = min(1.0, COMPLAINING_PATIENTS * patients / visits)
        self.complaint_id, self.survey_id = next_id(Complaint), next_id(NpsSurvey)
        for chunk in self._visits():
            for visit in chunk:
                self._visit(*visit)
            self._flush()
        reset_sequences(Complaint, NpsSurvey)

    def _visits(self) -> Iterator[list[tuple[Any, ...]]]:
        """Completed appointments in id order, a chunk at a time (by key, not by offset)."""
        last = 0
        while True:
            chunk = list(
                self.completed.filter(pk__gt=last)
                .order_by("pk")
                .values_list(
                    "pk", "branch_id", "patient_id", "doctor_id", "completed_at",
                    "patient__preferred_language",
                )[:CHUNK]
            )  # fmt: skip
            if not chunk:
                return
            last = chunk[-1][0]
            yield chunk

    def _visit(
        self,
        appointment_id: int,
        branch_id: int,
        patient_id: int,
        doctor_id: int | None,
        completed_at: datetime | None,
        language: str,
    ) -> None:
        if completed_at is None:
            return
        rng, now = self.rng, self.now[branch_id]
        quality = self.quality.get(doctor_id, 0.0) if doctor_id else 0.0
        complained = False
        if rng.random() < self.complaint_share * (1 - 0.6 * quality):
            complained = self._complaint(
                appointment_id, branch_id, patient_id, doctor_id, completed_at, now
            )
        if rng.random() >= SURVEYED_VISITS:
            return
        sent_at = completed_at + timedelta(hours=rng.uniform(16, 26))
        if sent_at >= now:
            return  # tomorrow's
        expires_at = sent_at + timedelta(days=SURVEY_DAYS)
        answered_at, score, comment = None, None, ""
        if rng.random() < ANSWERED_SURVEYS:
            answered_at = sent_at + timedelta(hours=min(rng.expovariate(1 / 20), 24 * 29))
            if answered_at < now:
                if complained:
                    score = rng.randint(0, 5)
                else:
                    mean = NPS_MEAN + quality
                    score = max(0, min(10, round(rng.gauss(mean, NPS_SPREAD))))
                if rng.random() < COMMENTED:
                    comment = self._comment(score, language)
                self.answered += 1
            else:
                answered_at = None  # not yet
        self.survey_rows.append((
            self.survey_id, self.organization_id, branch_id, patient_id, appointment_id,
            doctor_id, secrets.token_urlsafe(32), language, sent_at, expires_at, answered_at,
            score, comment, sent_at, answered_at or sent_at,
        ))  # fmt: skip
        self.survey_id += 1
        self.surveys += 1

    def _comment(self, score: int, language: str) -> str:
        kind = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
        texts = COMMENTS[kind]
        return self.rng.choice(texts.get(language, texts["en"]))

    def _complaint(
        self,
        appointment_id: int,
        branch_id: int,
        patient_id: int,
        doctor_id: int | None,
        visit_at: datetime,
        now: datetime,
    ) -> bool:
        rng = self.rng
        received_at = visit_at + timedelta(hours=rng.uniform(1, 96))
        if received_at >= now:
            return False
        category = _weighted(rng, CATEGORY_WEIGHTS)
        severity = _weighted(rng, SEVERITY_WEIGHTS)
        managers = self.staff.get((branch_id, Role.BRANCH_MANAGER), [])
        desk = self.staff.get((branch_id, Role.RECEPTIONIST), []) or managers
        manager = managers[0] if managers else None
        recorded_by = rng.choice(desk) if desk else None
        age_days = (now - received_at).total_seconds() / 86400
        roll = rng.random()
        if age_days < 3:
            status = ComplaintStatus.OPEN if roll < 0.6 else ComplaintStatus.IN_PROGRESS
        elif roll < (0.92 if age_days > 14 else 0.6):
            status = ComplaintStatus.RESOLVED
        else:
            status = ComplaintStatus.IN_PROGRESS if roll < 0.97 else ComplaintStatus.OPEN
        owner = manager if status != ComplaintStatus.OPEN or rng.random() < 0.5 else None
        resolution, resolved_at, resolved_by = "", None, None
        if status == ComplaintStatus.RESOLVED:
            quickest = (
                0.2 if severity in {ComplaintSeverity.HIGH, ComplaintSeverity.CRITICAL} else 1
            )
            days = rng.uniform(quickest, min(21.0, age_days))
            resolved_at = received_at + timedelta(days=days)
            resolution = rng.choice(RESOLUTIONS[category])
            resolved_by = owner
        self.complaint_rows.append((
            self.complaint_id, self.organization_id, branch_id, patient_id, appointment_id,
            doctor_id if category in ABOUT_THE_DOCTOR else None, category, severity, status,
            rng.choice(DESCRIPTIONS[category]), received_at, owner, recorded_by, resolution,
            resolved_at, resolved_by, received_at, resolved_at or received_at,
        ))  # fmt: skip
        self.complaint_id += 1
        self.complaints += 1
        return True

    def _flush(self) -> None:
        insert_rows(Complaint, COMPLAINT_COLUMNS, self.complaint_rows)
        insert_rows(NpsSurvey, SURVEY_COLUMNS, self.survey_rows)
        self.complaint_rows, self.survey_rows = [], []


# --- segments ------------------------------------------------------------------------------
def _make_segments(config: _Config, organization: Organization) -> int:
    owner = User.objects.filter(username=f"{config.slug}-{Role.OWNER}").first()
    if owner is None:
        return 0
    segments = Segment.objects.bulk_create(
        Segment(organization=organization, name=name, definition=definition, owner=owner,
                is_shared=True)
        for name, definition in demo_segments(config.as_of)
    )  # fmt: skip
    return len(segments)


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, int]]) -> str:
    return rng.choices([value for value, _ in pairs], weights=[weight for _, weight in pairs])[0]
