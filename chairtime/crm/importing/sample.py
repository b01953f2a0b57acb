"""A generated patient file for tests, benchmarks and demos: Vietnamese headers, a share of
rows broken in known ways (`broken` maps each broken line to the field reported)."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field

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
