# ruff: noqa: RUF001 - Chinese samples use full-width punctuation, as Chinese is written
"""A template filled in for a sample patient, as the pages show it while it is typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from chairtime.messaging.automation.formatting import appointment_time, money
from chairtime.messaging.automation.templating import (
    CHAT_CHANNELS,
    CODE_VARIABLES,
    cut,
    render,
    sms_segments,
    validate_template,
)
from chairtime.messaging.transports.chat import CHAT_TEMPLATES
from chairtime.patients.choices import ContactChannel
from chairtime.tenancy.models import Branch

# A made-up patient, doctor and visit per language (never a real patient's data).
SAMPLES: dict[str, dict[str, str]] = {
    "en": {"patient_name": "Alex Morgan", "doctor_name": "Dr Sam Taylor",
           "procedure_name": "Scale and polish", "offer": "15% off teeth whitening this month",
           "plan_title": "Implant, lower left molar", "text": "See you on Tuesday!"},
    "vi": {"patient_name": "Nguyễn Thị Lan", "doctor_name": "Trần Văn Bình",
           "procedure_name": "Lấy cao răng", "offer": "giảm 15% tẩy trắng răng trong tháng này",
           "plan_title": "Cấy ghép implant răng 36", "text": "Hẹn gặp bạn thứ Ba nhé!"},
    "zh-hans": {"patient_name": "王小明", "doctor_name": "李医生", "procedure_name": "洗牙",
                "offer": "本月美白八五折", "plan_title": "种植牙（36号牙）", "text": "周二见！"},
    "es": {"patient_name": "María García López", "doctor_name": "Dra. Lucía Martín",
           "procedure_name": "Limpieza dental", "offer": "un 15 % de descuento en blanqueamiento",
           "plan_title": "Implante, molar inferior izquierdo", "text": "¡Nos vemos el martes!"},
}  # fmt: skip


@dataclass(frozen=True)
class Preview:
    subject: str
    body: str
    params: dict[str, str]
    sms_parts: int  # 0 when not an SMS


def sample_values(*, code: str, channel: str, language: str, branch: Branch) -> dict[str, str]:
    sample = SAMPLES.get(language, SAMPLES["en"])
    tomorrow = timezone.localdate(timezone.now(), branch.zone) + timedelta(days=1)
    starts_at = datetime.combine(tomorrow, time(9, 30), tzinfo=branch.zone)
    values = {
        **sample, "branch_name": branch.name, "branch_phone": branch.phone or "028 3822 1234",
        "appointment_time": appointment_time(starts_at, branch.zone, language,
                                             short=channel in CHAT_CHANNELS),
        "confirm_link": "https://clinic.example/c/0123456789abcdefghijklmnopqrstuv",
        "claim_link": "https://clinic.example/w/0123456789abcdefghijklmnopqrstuv",
        "plan_total": money(Decimal("12500000") if branch.currency == "VND" else Decimal("4200"),
                            branch.currency, language),
    }  # fmt: skip
    return {name: values[name] for name in CODE_VARIABLES.get(code, ()) if name in values}


def preview_template(
    *, code: str, channel: str, language: str, subject: str, body: str, branch: Branch
) -> Preview:
    """The template checked (InvalidInput as saving would raise) and filled in."""
    validate_template(code=code, channel=channel, subject=subject, body=body)
    values = sample_values(code=code, channel=channel, language=language, branch=branch)
    params = {}
    if channel in CHAT_CHANNELS:
        params = {f.ours: cut(values.get(f.ours) or "-", f.max_length)
                  for f in CHAT_TEMPLATES[channel][code].fields}  # fmt: skip
    text = render(body, values)
    return Preview(
        subject=render(subject, values) if channel == ContactChannel.EMAIL else "",
        body=text, params=params,
        sms_parts=sms_segments(text) if channel == ContactChannel.SMS else 0,
    )  # fmt: skip
