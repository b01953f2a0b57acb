"""`{% live_book days %}`: the element static/js/live.js polls the book's version with.
Pages that show the book (the day view, the meetings) put it outside what they reload."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from django import template
from django.conf import settings
from django.urls import reverse

from chairtime.frontdesk.selectors import get_book_version

register = template.Library()
DEFAULT_INTERVAL_MS = 10_000


@register.inclusion_tag("frontdesk/live_book.html", takes_context=True)
def live_book(context: template.Context, days: date | list[date]) -> dict[str, Any]:
    access = context.get("branch_access")
    wanted = days if isinstance(days, list) else [days]
    if access is None or not wanted:
        return {"url": ""}
    query = urlencode([("day", day.isoformat()) for day in wanted])
    return {
        "url": f"{reverse('frontdesk:book_version')}?{query}",
        "version": ".".join(get_book_version(branch=access.branch, day=day) for day in wanted),
        "interval": getattr(settings, "CHAIRTIME_LIVE_POLL_MS", DEFAULT_INTERVAL_MS),
    }
