"""What the simulator needs to know about each country a branch can be in.

Names are common ones (Vietnamese family names cover most of the population with a dozen),
phones follow each country's mobile numbering so that `phonenumbers` accepts them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class Country:
    code: str
    locale: str
    language: str  # Django language code patients most often prefer
    time_zone: str
    currency: str
    price_factor: Decimal  # multiplies the catalogue's reference price (in USD)
    price_rounding: Decimal  # prices end in round amounts: 50,000 VND, 10 CNY, 5 EUR
    family_first: bool
    family_names: tuple[str, ...]
    given_female: tuple[str, ...]
    given_male: tuple[str, ...]
    cities: tuple[str, ...]
    chat_app: str  # "" when chat IDs are not usual
    mobile_prefixes: tuple[str, ...]  # national significant number prefixes
    mobile_length: int  # digits after the country code
    calling_code: str

    def phone(self, rng: random.Random) -> str:
        prefix = rng.choice(self.mobile_prefixes)
        length = self.mobile_length - len(prefix)
        # North American exchange codes start with 2-9 and are never N11 or 555.
        first = rng.choice("2346789") if self.calling_code == "1" else rng.choice("0123456789")
        rest = first + "".join(rng.choice("0123456789") for _ in range(length - 1))
        return f"+{self.calling_code}{prefix}{rest}"

    def person(self, rng: random.Random) -> tuple[str, str, str]:
        """(family name, given name, sex)."""
        sex = rng.choice(("female", "female", "male", "male", "male", "female", "unknown"))
        given_pool = self.given_female if sex == "female" else self.given_male
        if sex == "unknown":
            given_pool = self.given_female + self.given_male
        family = rng.choice(self.family_names)
        if self.code == "ES":  # two surnames, father's then mother's
            family = f"{family} {rng.choice(self.family_names)}"
        return family, rng.choice(given_pool), sex


VIETNAM = Country(
    code="VN", locale="vi_VN", language="vi", time_zone="Asia/Ho_Chi_Minh", currency="VND",
    price_factor=Decimal(25000), price_rounding=Decimal(50000), family_first=True,
    family_names=("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
                  "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"),
    given_female=("Thị Ánh", "Thị Hoa", "Ngọc Lan", "Thu Trang", "Thị Mai", "Minh Thư",
                  "Phương Linh", "Thanh Hương", "Bảo Ngọc", "Thị Hằng", "Khánh Linh", "Mỹ Duyên"),
    given_male=("Văn An", "Minh Đức", "Quốc Bảo", "Hoàng Nam", "Văn Hùng", "Thành Long",
                "Đức Anh", "Tuấn Kiệt", "Gia Huy", "Văn Dũng", "Quang Hải", "Hữu Phước"),
    cities=("Quận 1, TP. Hồ Chí Minh", "Quận 3, TP. Hồ Chí Minh", "Hoàn Kiếm, Hà Nội",
            "Cầu Giấy, Hà Nội", "Hải Châu, Đà Nẵng"),
    chat_app="zalo", mobile_prefixes=("90", "91", "93", "94", "96", "97", "98", "32", "35", "70",
                                      "77", "86", "88"),
    mobile_length=9, calling_code="84",
)  # fmt: skip

CHINA = Country(
    code="CN", locale="zh_Hans_CN", language="zh-hans", time_zone="Asia/Shanghai", currency="CNY",
    price_factor=Decimal(7), price_rounding=Decimal(10), family_first=True,
    family_names=("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
                  "胡", "郭"),
    given_female=("秀英", "丽", "静", "敏", "婷", "雪", "欣怡", "梓涵", "雨桐", "思琪", "佳怡"),
    given_male=("伟", "强", "磊", "洋", "勇", "军", "杰", "浩然", "子轩", "宇航", "俊杰", "明"),
    cities=("上海市浦东新区", "上海市徐汇区", "北京市朝阳区", "深圳市南山区", "广州市天河区"),
    chat_app="wechat", mobile_prefixes=("130", "131", "135", "136", "138", "139", "150", "151",
                                        "158", "159", "186", "187", "188"),
    mobile_length=11, calling_code="86",
)  # fmt: skip

SPAIN = Country(
    code="ES", locale="es_ES", language="es", time_zone="Europe/Madrid", currency="EUR",
    price_factor=Decimal("0.9"), price_rounding=Decimal(5), family_first=False,
    family_names=("García", "Rodríguez", "González", "Fernández", "López", "Martínez",
                  "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz"),
    given_female=("María", "Carmen", "Lucía", "Ana", "Laura", "Marta", "Elena", "Paula",
                  "Sofía", "Isabel", "Cristina", "Núria"),
    given_male=("Antonio", "José", "Manuel", "Francisco", "David", "Javier", "Daniel",
                "Carlos", "Alejandro", "Pablo", "Jordi", "Íñigo"),
    cities=("Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao"),
    # Spanish mobile numbers start with 6 or 71-74 (78 too); the rest of 7 is not mobile.
    chat_app="whatsapp", mobile_prefixes=("6", "71", "72", "73", "74"), mobile_length=9,
    calling_code="34",
)  # fmt: skip

UNITED_STATES = Country(
    code="US", locale="en_US", language="en", time_zone="America/New_York", currency="USD",
    price_factor=Decimal(1), price_rounding=Decimal(5), family_first=False,
    family_names=("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
                  "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Lee", "Nguyen", "Chen"),
    given_female=("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Sarah", "Emily",
                  "Jessica", "Ashley", "Olivia", "Emma", "Grace"),
    given_male=("James", "Robert", "John", "Michael", "William", "David", "Joseph", "Thomas",
                "Daniel", "Matthew", "Ethan", "Noah"),
    cities=("New York, NY", "Brooklyn, NY", "Boston, MA", "Philadelphia, PA", "Newark, NJ"),
    chat_app="", mobile_prefixes=("212", "347", "617", "646", "718", "917", "215", "973"),
    mobile_length=10, calling_code="1",
)  # fmt: skip

COUNTRIES: dict[str, Country] = {c.code: c for c in (VIETNAM, CHINA, SPAIN, UNITED_STATES)}


# --- public holidays -------------------------------------------------------------------------
@dataclass(frozen=True)
class Holiday:
    """Days a branch is closed: `days` days from `first_day`."""

    first_day: date
    days: int
    name: str


# Lunar New Year (Tết, 春节) falls between 21 January and 20 February; the table covers the
# years a simulation reaches, and 5 February stands in for any other year.
LUNAR_NEW_YEAR = {
    2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1),
    2023: date(2023, 1, 22), 2024: date(2024, 2, 10), 2025: date(2025, 1, 29),
    2026: date(2026, 2, 17), 2027: date(2027, 2, 6), 2028: date(2028, 1, 26),
    2029: date(2029, 2, 13), 2030: date(2030, 2, 3),
}  # fmt: skip

FIXED_HOLIDAYS: dict[str, tuple[tuple[int, int, int, str], ...]] = {
    # (month, day, days, name)
    "VN": ((1, 1, 1, "Tết Dương lịch"), (4, 30, 2, "Ngày Giải phóng và Quốc tế Lao động"),
           (9, 2, 2, "Quốc khánh")),
    "CN": ((1, 1, 1, "元旦"), (4, 4, 1, "清明节"), (5, 1, 3, "劳动节"), (10, 1, 3, "国庆节")),
    "ES": ((1, 1, 1, "Año Nuevo"), (1, 6, 1, "Epifanía del Señor"),
           (5, 1, 1, "Fiesta del Trabajo"), (8, 15, 1, "Asunción de la Virgen"),
           (10, 12, 1, "Fiesta Nacional de España"), (11, 1, 1, "Todos los Santos"),
           (12, 6, 1, "Día de la Constitución"), (12, 8, 1, "Inmaculada Concepción"),
           (12, 25, 1, "Navidad")),
    "US": ((1, 1, 1, "New Year's Day"), (7, 4, 1, "Independence Day"),
           (12, 25, 1, "Christmas Day")),
}  # fmt: skip


def public_holidays(country: str, year: int) -> list[Holiday]:
    """The country's public holidays of one year on which clinics close (a simplification:
    no substitute days, and the lunar holidays from a table)."""
    holidays = [
        Holiday(date(year, m, d), days, name) for m, d, days, name in FIXED_HOLIDAYS[country]
    ]
    lunar = LUNAR_NEW_YEAR.get(year, date(year, 2, 5))
    if country == "VN":  # from New Year's Eve, five days
        holidays.append(Holiday(lunar - timedelta(days=1), 5, "Tết Nguyên Đán"))
    elif country == "CN":
        holidays.append(Holiday(lunar - timedelta(days=1), 4, "春节"))
    elif country == "US":
        holidays += [
            Holiday(_nth_weekday(year, 5, 0, -1), 1, "Memorial Day"),
            Holiday(_nth_weekday(year, 9, 0, 1), 1, "Labor Day"),
            Holiday(_nth_weekday(year, 11, 3, 4), 1, "Thanksgiving Day"),
        ]
    return sorted(holidays, key=lambda holiday: holiday.first_day)


def _nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The nth `weekday` (0 = Monday) of the month; nth = -1 is the last one."""
    if nth > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)
