"""Calendar feed pages: where a staff member makes their feed URL, and the feed itself.

Views like those of views.py, kept apart because the feed is the one URL of the
appointment book that is not behind a login (the secret in the URL is the key).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_safe

from chairtime.accounts.access import acting_user
from chairtime.core.errors import NotFound
from chairtime.scheduling.ical import get_calendar_feed_token, list_feed_appointments, render_feed
from chairtime.scheduling.services import (
    authenticate_calendar_feed,
    revoke_calendar_feed_token,
    rotate_calendar_feed_token,
)
from chairtime.tenancy.decorators import branch_access_of, capability_required
from chairtime.tenancy.roles import Capability


@capability_required(Capability.SCHEDULE_VIEW)
def calendar_feed(request: HttpRequest) -> HttpResponse:
    """The user's own feed URL for the active branch: made anew on POST (the old one stops
    working) and shown once, like an API token; or stopped."""
    branch = branch_access_of(request).branch
    user = acting_user(request)
    feed_url = None
    if request.method == "POST":
        if request.POST.get("action") == "stop":
            revoke_calendar_feed_token(actor=user, branch=branch)
        else:
            _token, secret = rotate_calendar_feed_token(actor=user, branch=branch)
            feed_url = request.build_absolute_uri(
                reverse("scheduling:calendar_feed_ics", args=[secret])
            )
    context = {
        "feed_url": feed_url,
        "token": get_calendar_feed_token(user_id=user.pk, branch=branch),
    }
    return render(request, "scheduling/calendar_feed.html", context)


@require_safe
def calendar_feed_ics(request: HttpRequest, secret: str) -> HttpResponse:
    """The feed: no login (calendar apps cannot log in). Unknown, stopped and
    no-longer-allowed URLs are all 404, alike."""
    token = authenticate_calendar_feed(secret)
    if token is None:
        raise NotFound
    with translation.override(token.user.language or settings.LANGUAGE_CODE):
        body = render_feed(branch=token.branch, appointments=list_feed_appointments(token=token))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="chairtime.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
