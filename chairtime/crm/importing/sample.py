"""Generated import files for tests, benchmarks and demos, with a share of rows broken in
known ways (`broken` maps each broken line to the field reported, `codes` to the reason
for history files): patients with Vietnamese headers, their visit history with
Vietnamese headers and their payment history with Spanish ones."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

HEADERS = [
    "Mã bệnh nhân", "Họ", "Tên", "Ngày sinh", "Giới tính", "Điện thoại", "Email",
    "Chi nhánh", "Nhãn", "Ghi chú",
]  # fmt: skip
FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng"]
GIVEN = ["Văn An", "Thị Bình", "Minh Châu", "Quốc Dũng", "Thu Hà", "Đức Huy", "Ngọc Lan"]
BREAKS = (
    "phone", "family_name", "ambiguous_date", "impossible_date", "email", "branch",
    "duplicate", "half_empty", "too_many",
)  # fmt: skip
BROKEN_FIELD = {
    "phone": "phone", "family_name": "family_name", "ambiguous_date": "birth_date",
    "impossible_date": "birth_date", "email": "email", "branch": "home_branch",
    "duplicate": "external_id", "half_empty": "row", "too_many": "row",
}  # fmt: skip


@dataclass
class SampleFile:
    content: bytes
    rows: int
    broken: dict[int, str] = field(default_factory=dict)  # line -> field reported
    codes: dict[int, str] = field(default_factory=dict)  # line -> reason (history files)


def patient_csv(
    rows: int, *, broken_share: float = 0.05, branch_codes: tuple[str, ...] = ("a",), seed: int = 5
) -> SampleFile:
    """`rows` data rows (line 1 is the header); every 1/broken_share-th row is broken,
    cycling through BREAKS."""
    rng = random.Random(seed)  # noqa: S311  # test data, not secrets
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADERS)
    step = round(1 / broken_share) if broken_share else 0
    broken: dict[int, str] = {}
    for index in range(rows):
        line = index + 2
        day = 1 + index % 28
        month = 1 + index % 12
        row = [
            f"BN{index:07d}", rng.choice(FAMILY), rng.choice(GIVEN),
            f"{1950 + index % 60}-{month:02d}-{day:02d}", rng.choice(["Nam", "Nữ", ""]),
            f"09{index:08d}", f"patient{index}@example.com" if index % 3 else "",
            rng.choice(branch_codes), "import;vip" if index % 10 == 0 else "", "",
        ]  # fmt: skip
        if step and index % step == step - 1:
            kind = BREAKS[(index // step) % len(BREAKS)]
            broken[line] = BROKEN_FIELD[kind]
            if kind == "phone":
                row[5] = "12345"
            elif kind == "family_name":
                row[1] = ""
            elif kind == "ambiguous_date":
                row[3] = "03/04/1990"
            elif kind == "impossible_date":
                row[3] = "1990-02-30"
            elif kind == "email":
                row[6] = "not-an-email"
            elif kind == "branch":
                row[7] = "nowhere"
            elif kind == "duplicate":
                row[0] = f"BN{index - 1:07d}"  # the row before, which is good
            elif kind == "half_empty":
                row = row[:5]
            elif kind == "too_many":
                row = [*row, "extra"]
        writer.writerow(row)
    return SampleFile(content=out.getvalue().encode(), rows=rows, broken=broken)


# --- visit and payment history -----------------------------------------------------------
VISIT_HEADERS = [
    "Mã lượt khám", "Mã bệnh nhân", "Ngày khám", "Chi nhánh", "Bác sĩ", "Nội dung", "Thành tiền",
]  # fmt: skip
PAYMENT_HEADERS = [
    "Recibo", "Paciente", "Fecha de pago", "Importe", "Forma de pago", "Referencia", "Sucursal",
]  # fmt: skip
DOCTORS = ["BS. Nguyễn Văn Minh", "BS. Trần Thu Hà", "Dr. Lê Quốc Bảo", "Phạm Ngọc Lan"]
TREATMENTS = [
    "Cạo vôi răng", "Trám răng 36", "Nhổ răng khôn 48", "Khám tổng quát", "Tẩy trắng răng",
    "Chữa tủy răng 26", "Bọc sứ răng 11",
]  # fmt: skip
METHODS = ["Efectivo", "Tarjeta", "Transferencia", "Bizum"]
FIRST_DAY = date(2015, 1, 5)
# Break -> (column, cell written, field reported, reason).
VISIT_BREAKS: tuple[tuple[int, str, str, str], ...] = (
    (1, "NOPE-{index}", "patient_external_id", "unknown_patient"),
    (2, "", "date", "required"),
    (2, "2099-01-01", "date", "future_date"),
    (2, "05/04/2019", "date", "ambiguous_date"),
    (2, "2019-02-30", "date", "impossible_date"),
    (6, "abc", "amount", "bad_amount"),
    (6, "-150000", "amount", "negative_amount"),
    (6, "150000.5", "amount", "too_precise"),
    (6, "150.000", "amount", "ambiguous_amount"),
    (3, "nowhere", "branch", "unknown_branch"),
    (0, "", "external_id", "duplicate_in_file"),
    (-1, "", "row", "short_row"),
    (-2, "", "row", "long_row"),
)  # fmt: skip
PAYMENT_BREAKS: tuple[tuple[int, str, str, str], ...] = (
    (1, "NOPE-{index}", "patient_external_id", "unknown_patient"),
    (2, "", "date", "required"),
    (2, "2099-01-01", "date", "future_date"),
    (2, "05/04/2019", "date", "ambiguous_date"),
    (3, "", "amount", "required"),
    (3, "0", "amount", "zero_amount"),
    (3, "-500000", "amount", "negative_amount"),
    (3, "12,5", "amount", "too_precise"),
    (3, "quinientos", "amount", "bad_amount"),
    (6, "ninguna", "branch", "unknown_branch"),
    (0, "", "external_id", "duplicate_in_file"),
    (-1, "", "row", "short_row"),
)  # fmt: skip


def visit_csv(
    rows: int, patient_ids: Sequence[str], *, broken_share: float = 0.05,
    branch_codes: tuple[str, ...] = ("a",), seed: int = 7,
) -> SampleFile:  # fmt: skip
    """`rows` visits of these patients (IDs of an imported patients file), in VND; every
    1/broken_share-th row broken, cycling through VISIT_BREAKS."""
    rng = random.Random(seed)  # noqa: S311  # test data, not secrets

    def good(index: int) -> list[str]:
        amount = "" if index % 7 == 0 else "0" if index % 11 == 0 else f"{rng.randint(1, 60)}00000"
        return [
            f"LK{index:07d}", patient_ids[index % len(patient_ids)], _day(index),
            rng.choice(branch_codes) if index % 3 else "", rng.choice(DOCTORS),
            rng.choice(TREATMENTS), amount,
        ]  # fmt: skip

    return _history_csv(rows, VISIT_HEADERS, good, VISIT_BREAKS, broken_share, "LK")


def payment_csv(
    rows: int, patient_ids: Sequence[str], *, broken_share: float = 0.05,
    branch_codes: tuple[str, ...] = ("a",), seed: int = 9,
) -> SampleFile:  # fmt: skip
    """`rows` payments of these patients, in VND; every 1/broken_share-th row broken,
    cycling through PAYMENT_BREAKS."""
    rng = random.Random(seed)  # noqa: S311  # test data, not secrets

    def good(index: int) -> list[str]:
        return [
            f"RC{index:07d}", patient_ids[index % len(patient_ids)], _day(index),
            f"{rng.randint(1, 90)}0000{'' if index % 4 else '.00'}", rng.choice(METHODS),
            f"T-{index}" if index % 2 else "", rng.choice(branch_codes) if index % 3 else "",
        ]  # fmt: skip

    return _history_csv(rows, PAYMENT_HEADERS, good, PAYMENT_BREAKS, broken_share, "RC")


def _day(index: int) -> str:
    return (FIRST_DAY + timedelta(days=index % 3000)).isoformat()


def _history_csv(
    rows: int, headers: list[str], good: Callable[[int], list[str]],
    breaks: tuple[tuple[int, str, str, str], ...], broken_share: float, prefix: str,
) -> SampleFile:  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    step = round(1 / broken_share) if broken_share else 0
    sample = SampleFile(content=b"", rows=rows)
    for index in range(rows):
        line = index + 2
        row = good(index)
        if step and index % step == step - 1:
            column, cell, reported, code = breaks[(index // step) % len(breaks)]
            sample.broken[line], sample.codes[line] = reported, code
            if column == -1:
                row = row[:3]  # half-empty
            elif column == -2:
                row = [*row, "extra"]
            elif code == "duplicate_in_file":
                row[0] = f"{prefix}{index - 1:07d}"  # the row before, which is good
            else:
                row[column] = cell.format(index=index)
        writer.writerow(row)
    sample.content = out.getvalue().encode()
    return sample
