"""Template helpers: money in the user's locale."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

register = template.Library()

# Django's language codes to the CLDR locales Babel formats with.
_BABEL_LOCALES = {"zh-hans": "zh_Hans_CN", "en": "en_US", "vi": "vi_VN", "es": "es_ES"}


def babel_locale(language: str | None = None) -> str:
    language = (language or get_language() or "en").lower()
    return _BABEL_LOCALES.get(language, to_locale(language))


@register.filter
def minutes(duration: timedelta | None) -> int:
    """A duration in whole minutes, rounded up (a lockout of 90 s reads "2 minutes")."""
    if duration is None:
        return 0
    return -(-int(duration.total_seconds()) // 60)


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """1234567 VND -> "1.234.567 ₫" in Vietnamese, "₫1,234,567" in English: the currency's
    own minor unit (none for VND), grouped as the reader's language groups numbers."""
    if amount is None:
        return "—"
    return str(format_currency(amount, currency, locale=babel_locale()))
