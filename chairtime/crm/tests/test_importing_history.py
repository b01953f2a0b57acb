"""Importing visit and payment history: mapping, amounts, doctors, the dry run, modes,
external IDs, patients named by the patients file's IDs (merged ones followed), the
profiles and timeline the history feeds, and the audit event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.audit.models import AuditEvent
from chairtime.core.errors import Conflict
from chairtime.crm.choices import ImportKind, ImportMode, ImportStatus
from chairtime.crm.importing.columns import propose_mapping
from chairtime.crm.importing.describe import describe
from chairtime.crm.importing.history import staff_of
from chairtime.crm.importing.rows import match_doctor, parse_amount
from chairtime.crm.importing.services import check_job, run_job
from chairtime.crm.models import (
    ExternalId,
    HistoricalPayment,
    HistoricalVisit,
    ImportJob,
    ImportRowError,
    PatientProfile,
)
from chairtime.crm.tests.helpers_history import (
    PAYMENTS_HEADER,
    VISITS_HEADER,
    history_job,
    known_as,
)
from chairtime.crm.timeline.selectors import patient_timeline
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import Patient
from chairtime.tenancy.roles import Capability, Role
from conftest import World
from tests.factories import BranchFactory, MembershipFactory, PatientFactory, UserFactory

VISITS = ImportKind.VISITS
PAYMENTS = ImportKind.PAYMENTS


@pytest.fixture(autouse=True)
def _files_in_tmp(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.VAR_DIR = tmp_path


@pytest.fixture
def owner(persona: Callable[[Role], User]) -> User:
    return persona(Role.OWNER)


@pytest.fixture
def an(world: World) -> Patient:
    patient: Patient = PatientFactory(home_branch=world.branch_a, given_name="An")
    known_as(patient, "P1")
    return patient


@pytest.fixture
def binh(world: World) -> Patient:
    patient: Patient = PatientFactory(home_branch=world.branch_b, given_name="Bình")
    known_as(patient, "P2")
    return patient


@pytest.fixture
def minh(world: World) -> User:
    user: User = UserFactory(
        username="minh", first_name="Minh", last_name="Nguyễn Văn", email="minh@acme.vn"
    )
    MembershipFactory(user=user, organization=world.acme, branch=world.branch_a, role="doctor")
    return user


def errors_of(job: ImportJob) -> list[tuple[int, str, str]]:
    return list(ImportRowError.objects.filter(job=job).values_list("line", "field", "code"))


# --- mapping ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "headers", "expected"),
    [
        (VISITS, ["Visit ID", "Patient ID", "Date", "Branch", "Doctor", "Treatment", "Amount"],
         {"external_id": "Visit ID", "patient_external_id": "Patient ID", "date": "Date",
          "branch": "Branch", "doctor": "Doctor", "description": "Treatment",
          "amount": "Amount"}),
        (VISITS, ["Mã lượt khám", "Mã bệnh nhân", "Ngày khám", "Bác sĩ", "Nội dung", "Thành tiền"],
         {"external_id": "Mã lượt khám", "patient_external_id": "Mã bệnh nhân",
          "date": "Ngày khám", "doctor": "Bác sĩ", "description": "Nội dung",
          "amount": "Thành tiền"}),
        (VISITS, ["就诊编号", "患者编号", "就诊日期", "医生", "治疗内容", "金额"],
         {"external_id": "就诊编号", "patient_external_id": "患者编号", "date": "就诊日期",
          "doctor": "医生", "description": "治疗内容", "amount": "金额"}),
        (PAYMENTS, ["Recibo", "Paciente", "Fecha de pago", "Importe", "Forma de pago",
                    "Referencia", "Sucursal"],
         {"external_id": "Recibo", "patient_external_id": "Paciente", "date": "Fecha de pago",
          "amount": "Importe", "method": "Forma de pago", "reference": "Referencia",
          "branch": "Sucursal"}),
        (PAYMENTS, ["Payment ID", "Patient ID", "Date", "Amount", "Method", "Reference"],
         {"external_id": "Payment ID", "patient_external_id": "Patient ID", "date": "Date",
          "amount": "Amount", "method": "Method", "reference": "Reference"}),
    ],
)  # fmt: skip
def test_proposes_history_mappings_from_headers(
    kind: str, headers: list[str], expected: dict[str, str]
) -> None:
    assert propose_mapping(kind, headers) == expected


# --- amounts and doctors -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "currency", "positive", "expected"),
    [
        ("150000", "VND", True, (Decimal("150000"), "")),
        ("450000.00", "VND", True, (Decimal("450000"), "")),
        ("150.000.000", "VND", True, (Decimal("150000000"), "")),
        ("1 500 000", "VND", True, (Decimal("1500000"), "")),
        ("1,234.50", "USD", True, (Decimal("1234.50"), "")),
        ("1.234,50", "USD", True, (Decimal("1234.50"), "")),
        ("12,5", "USD", True, (Decimal("12.50"), "")),
        ("0", "VND", False, (Decimal("0"), "")),
        ("12.5051", "USD", True, (None, "too_precise")),
        ("12.505", "USD", True, (None, "ambiguous_amount")),
        ("12.5", "VND", True, (None, "too_precise")),
        ("150.000", "VND", True, (None, "ambiguous_amount")),
        ("1,500", "USD", True, (None, "ambiguous_amount")),
        ("0", "VND", True, (None, "zero_amount")),
        ("-5", "VND", False, (None, "negative_amount")),
        ("9999999999999", "VND", True, (None, "amount_too_large")),
        ("abc", "VND", True, (None, "bad_amount")),
        ("1.2.3", "VND", True, (None, "bad_amount")),
        ("1e5", "VND", True, (None, "bad_amount")),
        ("12.", "USD", True, (None, "bad_amount")),
    ],
)
def test_reads_amounts_in_the_currency_s_minor_unit(
    raw: str, currency: str, positive: bool, expected: tuple[Decimal | None, str]
) -> None:
    assert parse_amount(raw, currency, positive=positive) == expected


def test_matches_doctors_by_email_username_or_name(world: World, minh: User) -> None:
    lan = UserFactory(username="lan1", first_name="Lan", last_name="Trần")
    twin = UserFactory(username="lan2", first_name="Lan", last_name="Trần")
    for user in (lan, twin):
        MembershipFactory(user=user, organization=world.acme, branch=None, role="doctor")
    stranger = UserFactory(username="bao", first_name="Bảo", last_name="Lê")
    MembershipFactory(user=stranger, organization=world.rival, branch=None, role="doctor")
    staff = staff_of(world.acme.pk)

    found = {
        text: match_doctor(text, staff)
        for text in ("minh@acme.vn", "MINH", "Nguyễn Văn Minh", "nguyen van minh",
                     "BS. Minh Nguyen Van", "Dr Nguyễn Văn Minh", "Bác sĩ Nguyễn Văn Minh",
                     "lan1", "Trần Lan", "Bảo Lê", "Someone")
    }  # fmt: skip

    assert found == {
        "minh@acme.vn": minh.pk, "MINH": minh.pk, "Nguyễn Văn Minh": minh.pk,
        "nguyen van minh": minh.pk, "BS. Minh Nguyen Van": minh.pk,
        "Dr Nguyễn Văn Minh": minh.pk, "Bác sĩ Nguyễn Văn Minh": minh.pk, "lan1": lan.pk,
        "Trần Lan": None,  # two people answer to it
        "Bảo Lê": None,  # another organisation's doctor
        "Someone": None,
    }  # fmt: skip


# --- the dry run -------------------------------------------------------------------------------
def test_visit_check_reports_every_bad_row_and_writes_nothing(
    world: World, owner: User, an: Patient, binh: Patient
) -> None:
    content = VISITS_HEADER + (
        "V1,P1,2024-03-05,,BS. Minh Nguyễn Văn,Cleaning,300000\n"
        "V2,P9,2024-03-06,,,,\n"  # nobody imported has ID P9
        "V3,P1,,,,,\n"  # no date
        "V4,P1,2099-01-01,,,,\n"
        "V5,P1,05/04/2024,,,,\n"  # day/month or month/day?
        "V6,P2,2024-03-07,nowhere,,,abc\n"  # branch and amount
        "V7,P2,2024-03-08,b,,,150000.5\n"  # VND has no minor unit
        "V8,P2,2024-03-09,,,,-1\n"
        "V9,P1\n"
        "V1,P2,2024-03-10,,,,\n"  # the ID of line 2 again
        "V10,P2,2024-03-11,a,,,\n"
        ",P2,2024-03-12,,,,\n"
        f"V11,P1,2024-03-13,,,{'x' * 301},\n"
    )
    job = history_job(world.branch_a, owner, VISITS, content)

    checked = check_job(job)

    assert (checked.status, checked.total_rows, checked.good_rows, checked.bad_rows) == (
        ImportStatus.CHECKED, 13, 2, 11,
    )  # fmt: skip
    assert errors_of(job) == [
        (3, "patient_external_id", "unknown_patient"),
        (4, "date", "required"),
        (5, "date", "future_date"),
        (6, "date", "ambiguous_date"),
        (7, "branch", "unknown_branch"),
        (7, "amount", "bad_amount"),
        (8, "amount", "too_precise"),
        (9, "amount", "negative_amount"),
        (10, "row", "short_row"),
        (11, "external_id", "duplicate_in_file"),
        (13, "external_id", "required"),
        (14, "description", "too_long"),
    ]
    assert HistoricalVisit.objects.count() == 0
    assert ExternalId.objects.filter(kind="visit").count() == 0
    messages = {e.code: describe(e.code, e.params) for e in ImportRowError.objects.filter(job=job)}
    assert messages["unknown_patient"] == (
        "No patient imported from this system has the ID “P9”. Import the patients file "
        "first, with the same system name."
    )
    assert messages["too_precise"] == ("“150000.5” has more decimals than VND allows (at most 0).")


def test_payment_check_reports_every_bad_row(world: World, owner: User, an: Patient) -> None:
    content = PAYMENTS_HEADER + (
        "R1,P1,2024-03-05,500000,Cash,T-1,\n"
        "R2,P1,2024-03-05,,Cash,,\n"  # no amount
        "R3,P1,2024-03-05,0,,,\n"
        "R4,P1,2024-03-05,-5,,,\n"
        'R5,P1,2024-03-05,"1,5",,,\n'  # a decimal comma: VND has no decimals
        "R6,P1,2024-03-05,150.000,,,\n"  # thousands or decimals?
        "R7,P1,2024-03-05,1.500.000,Card,,b\n"
        f"R8,P1,2024-03-05,500000,{'m' * 41},,\n"
        "R9,PX,2024-03-05,100,,,\n"
        "R10,P1,2024-03-05,100,,,elsewhere\n"
        "R1,P1,2024-03-06,100,,,\n"
    )
    job = history_job(world.branch_a, owner, PAYMENTS, content)

    checked = check_job(job)

    assert (checked.total_rows, checked.good_rows, checked.bad_rows) == (11, 2, 9)
    assert errors_of(job) == [
        (3, "amount", "required"),
        (4, "amount", "zero_amount"),
        (5, "amount", "negative_amount"),
        (6, "amount", "too_precise"),
        (7, "amount", "ambiguous_amount"),
        (9, "method", "too_long"),
        (10, "patient_external_id", "unknown_patient"),
        (11, "branch", "unknown_branch"),
        (12, "external_id", "duplicate_in_file"),
    ]
    assert HistoricalPayment.objects.count() == 0


def test_the_future_is_counted_from_the_branch_s_own_today(world: World, owner: User) -> None:
    """Kiritimati (UTC+14) is always a day or two ahead of Pago Pago (UTC-11)."""
    ahead = BranchFactory(organization=world.acme, code="k", time_zone="Pacific/Kiritimati")
    behind = BranchFactory(organization=world.acme, code="p", time_zone="Pacific/Pago_Pago")
    patient = PatientFactory(home_branch=ahead)
    known_as(patient, "P7")
    day = timezone.localdate(timezone=ZoneInfo("Pacific/Kiritimati")).isoformat()
    content = VISITS_HEADER + f"V1,P7,{day},k,,,\nV2,P7,{day},p,,,\n"
    job = history_job(behind, owner, VISITS, content)

    checked = check_job(job)

    assert checked.good_rows == 1
    assert errors_of(job) == [(3, "date", "future_date")]


# --- importing --------------------------------------------------------------------------------
def test_good_rows_mode_writes_the_good_visits(
    world: World, owner: User, an: Patient, binh: Patient, minh: User
) -> None:
    content = VISITS_HEADER + (
        "V1,P1,2024-03-05,,BS. Minh Nguyễn Văn,Cleaning,300000\n"
        "V2,P2,2024-03-06,a,Dr. Somebody Else,Filling 36,\n"
        "V3,P9,2024-03-07,,,,\n"
    )
    job = history_job(world.branch_a, owner, VISITS, content)

    done = run_job(job)

    assert (done.status, done.created_rows, done.bad_rows, done.skipped_rows) == (
        ImportStatus.DONE, 2, 1, 0,
    )  # fmt: skip
    rows = HistoricalVisit.objects.order_by("visited_on")
    assert [
        (v.patient_id, v.branch_id, v.visited_on, v.doctor_id, v.doctor_name, v.description,
         v.amount, v.currency, v.source_system, v.job_id, v.organization_id)
        for v in rows
    ] == [
        (an.pk, world.branch_a.pk, date(2024, 3, 5), minh.pk, "BS. Minh Nguyễn Văn",
         "Cleaning", Decimal("300000"), "VND", "OldDent", job.pk, world.acme.pk),
        # The file named branch A: not Bình's home branch B. The doctor is nobody we know.
        (binh.pk, world.branch_a.pk, date(2024, 3, 6), None, "Dr. Somebody Else",
         "Filling 36", None, "VND", "OldDent", job.pk, world.acme.pk),
    ]  # fmt: skip
    assert sorted(
        ExternalId.objects.filter(kind="visit").values_list("external_id", "object_id", "system")
    ) == [("V1", rows[0].pk, "OldDent"), ("V2", rows[1].pk, "OldDent")]
    event = AuditEvent.objects.filter(object_type="crm.importjob", object_id=str(job.pk))
    assert event.order_by("id").last().summary == "Imported 2 visits from visits.csv"  # type: ignore[union-attr]


def test_a_visit_without_a_branch_goes_to_the_patient_s_home_branch(
    world: World, owner: User, binh: Patient
) -> None:
    job = history_job(world.branch_a, owner, VISITS, VISITS_HEADER + "V1,P2,2024-03-05,,,,\n")
    run_job(job)
    assert HistoricalVisit.objects.get().branch == world.branch_b


def test_history_may_name_a_branch_closed_since(world: World, owner: User, an: Patient) -> None:
    closed = BranchFactory(organization=world.acme, code="old", name="Cơ sở cũ", is_active=False)
    job = history_job(
        world.branch_a, owner, VISITS, VISITS_HEADER + "V1,P1,2024-03-05,co so cu,,,\n"
    )
    run_job(job)
    assert HistoricalVisit.objects.get().branch == closed


def test_good_rows_mode_writes_the_good_payments(world: World, owner: User, an: Patient) -> None:
    content = PAYMENTS_HEADER + (
        "R1,P1,2024-03-05,500000,Tiền mặt,T-1,\nR2,P1,2024-04-05,1.500.000,Card,,b\nR3,P1,,1,,,\n"
    )
    job = history_job(world.branch_a, owner, PAYMENTS, content)

    done = run_job(job)

    assert (done.created_rows, done.bad_rows) == (2, 1)
    assert [
        (p.patient_id, p.branch_id, p.paid_on, p.amount, p.currency, p.method, p.reference)
        for p in HistoricalPayment.objects.order_by("paid_on")
    ] == [
        (an.pk, world.branch_a.pk, date(2024, 3, 5), Decimal("500000"), "VND", "Tiền mặt", "T-1"),
        (an.pk, world.branch_b.pk, date(2024, 4, 5), Decimal("1500000"), "VND", "Card", ""),
    ]  # fmt: skip
    event = AuditEvent.objects.filter(object_type="crm.importjob", object_id=str(job.pk))
    assert event.order_by("id").last().summary == "Imported 2 payments from payments.csv"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "content"),
    [
        (VISITS, VISITS_HEADER + "V1,P1,2024-03-05,,,,\nV2,P1,2024-03-06,,,,abc\n"),
        (PAYMENTS, PAYMENTS_HEADER + "R1,P1,2024-03-05,100,,,\nR2,P1,2024-03-06,0,,,\n"),
    ],
)
def test_all_or_nothing_writes_nothing_when_one_row_is_bad(
    world: World, owner: User, an: Patient, kind: str, content: str
) -> None:
    job = history_job(world.branch_a, owner, kind, content, mode=ImportMode.ALL_OR_NOTHING)

    with pytest.raises(Conflict):
        run_job(job)

    job.refresh_from_db()
    assert (job.status, job.good_rows, job.bad_rows, job.created_rows) == (
        ImportStatus.CHECKED, 1, 1, 0,
    )  # fmt: skip
    assert HistoricalVisit.objects.count() + HistoricalPayment.objects.count() == 0
    assert ExternalId.objects.exclude(kind="patient").count() == 0
    assert not PatientProfile.objects.filter(patient=an).exists()


def test_all_or_nothing_imports_a_clean_file(world: World, owner: User, an: Patient) -> None:
    content = VISITS_HEADER + "V1,P1,2024-03-05,,,,\nV2,P1,2024-03-06,,,,100000\n"
    job = history_job(world.branch_a, owner, VISITS, content, mode=ImportMode.ALL_OR_NOTHING)
    assert run_job(job).created_rows == 2
    assert HistoricalVisit.objects.filter(patient=an).count() == 2


@pytest.mark.parametrize("kind", [VISITS, PAYMENTS])
def test_importing_the_same_file_again_adds_nothing(
    world: World, owner: User, an: Patient, binh: Patient, kind: str
) -> None:
    if kind == VISITS:
        content = (
            VISITS_HEADER + "V1,P1,2024-03-05,,,,\nV2,P2,2024-03-06,,,,\nV3,P9,2024-03-07,,,,\n"
        )
        model: type[HistoricalVisit | HistoricalPayment] = HistoricalVisit
    else:
        content = PAYMENTS_HEADER + (
            "R1,P1,2024-03-05,100,,,\nR2,P2,2024-03-06,200,,,\nR3,P9,2024-03-07,300,,,\n"
        )
        model = HistoricalPayment
    first = run_job(history_job(world.branch_a, owner, kind, content))

    second = run_job(history_job(world.branch_a, owner, kind, content))

    assert (first.created_rows, first.skipped_rows, first.bad_rows) == (2, 0, 1)
    assert (second.created_rows, second.skipped_rows, second.bad_rows) == (0, 2, 1)
    assert model.objects.count() == 2
    assert ExternalId.objects.filter(kind=kind.rstrip("s")).count() == 2
    # Another system's IDs are other rows.
    known_as(an, "P1", system="Other")
    other = run_job(history_job(world.branch_a, owner, kind, content, source_system="Other"))
    assert (other.created_rows, other.bad_rows) == (1, 2)  # only P1 is known to "Other"


def test_visits_and_payments_ids_do_not_collide(world: World, owner: User, an: Patient) -> None:
    """The same ID in a visits file and a payments file names two rows."""
    run_job(history_job(world.branch_a, owner, VISITS, VISITS_HEADER + "X1,P1,2024-03-05,,,,\n"))
    paid = run_job(
        history_job(world.branch_a, owner, PAYMENTS, PAYMENTS_HEADER + "X1,P1,2024-03-05,5,,,\n")
    )
    assert (paid.created_rows, paid.skipped_rows) == (1, 0)


def test_a_merged_patient_s_history_goes_to_the_survivor(world: World, owner: User) -> None:
    survivor = PatientFactory(home_branch=world.branch_b)
    merged = PatientFactory(home_branch=world.branch_a)
    merged_earlier = PatientFactory(home_branch=world.branch_a)
    Patient.objects.filter(pk=merged.pk).update(status=PatientStatus.MERGED, merged_into=survivor)
    Patient.objects.filter(pk=merged_earlier.pk).update(
        status=PatientStatus.MERGED, merged_into=merged
    )
    known_as(merged, "P5")
    known_as(merged_earlier, "P6")
    content = VISITS_HEADER + "V1,P5,2024-03-05,,,,\nV2,P6,2024-03-06,,,,\n"

    done = run_job(history_job(world.branch_a, owner, VISITS, content))

    assert done.created_rows == 2
    assert list(
        HistoricalVisit.objects.order_by().values_list("patient_id", "branch_id").distinct()
    ) == [
        (survivor.pk, world.branch_b.pk)  # the survivor's home branch
    ]
    assert PatientProfile.objects.get(patient=survivor).visit_count == 2
    assert not PatientProfile.objects.filter(patient__in=[merged, merged_earlier]).exists()


# --- what the history feeds ------------------------------------------------------------------
def test_profiles_count_the_imported_history(world: World, owner: User, an: Patient) -> None:
    usd = BranchFactory(organization=world.acme, code="us", currency="USD", country="US")
    visits = VISITS_HEADER + (
        "V1,P1,2024-03-05,,,Cleaning,300000\nV2,P1,2024-06-10,,,Check-up,\n"
        "V3,P1,2024-06-10,,,Filling,0\n"
    )
    payments = PAYMENTS_HEADER + (
        "R1,P1,2024-03-05,500000,,,\nR2,P1,2024-06-10,200000,,,\nR3,P1,2024-06-11,70.50,,,us\n"
    )
    run_job(history_job(world.branch_a, owner, VISITS, visits))
    run_job(history_job(world.branch_a, owner, PAYMENTS, payments))

    profile = PatientProfile.objects.get(patient=an)
    assert (profile.visit_count, profile.first_visit_on, profile.last_visit_on) == (
        3, date(2024, 3, 5), date(2024, 6, 10),
    )  # fmt: skip
    assert profile.usual_interval_days == 48  # 97 days over 2 gaps
    assert profile.paid_visit_count == 1  # only the visit with an amount above zero
    assert profile.spend_total == Decimal("700000")  # the USD payment is not in VND
    assert profile.currency == "VND"
    assert HistoricalPayment.objects.get(branch=usd).amount == Decimal("70.50")


def test_the_timeline_shows_the_imported_history(
    world: World, owner: User, an: Patient, minh: User
) -> None:
    visits = VISITS_HEADER + "V1,P1,2024-03-05,,minh@acme.vn,Cleaning,300000\n"
    payments = PAYMENTS_HEADER + "R1,P1,2024-03-06,500000,Tiền mặt,T-1,b\n"
    run_job(history_job(world.branch_a, owner, VISITS, visits))
    run_job(history_job(world.branch_a, owner, PAYMENTS, payments))

    page = patient_timeline(an, user_caps=frozenset(Capability))

    assert [
        (e.kind, e.on, e.title, e.detail, e.branch, e.amount, e.currency)
        for e in page.entries
        if e.kind != "group_change"
    ] == [
        ("imported_payment", date(2024, 3, 6), "Payment imported from OldDent",
         "Tiền mặt · T-1", "Acme Hà Nội", Decimal("500000"), "VND"),
        ("imported_visit", date(2024, 3, 5), "Visit imported from OldDent",
         "Cleaning · Minh Nguyễn Văn", "Acme Quận 1", Decimal("300000"), "VND"),
    ]  # fmt: skip
