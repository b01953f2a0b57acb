"""Session hygiene for logged-in pages: no caching, and a hard limit on a session's age."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

SESSION_STARTED_KEY = "session_started_at"


def mark_session_start(request: HttpRequest) -> None:
    request.session[SESSION_STARTED_KEY] = int(time.time())


class SessionSecurityMiddleware:
    """For logged-in users: pages are never cached (patient data must not linger in a
    shared browser's cache or history), and a session ends SESSION_MAX_AGE_SECONDS after
    login however active it stays. The idle timeout is Django's own SESSION_COOKIE_AGE."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.get_response(request)
        started = request.session.setdefault(SESSION_STARTED_KEY, int(time.time()))
        if time.time() - started > settings.SESSION_MAX_AGE_SECONDS:
            logout(request)
            return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        add_never_cache_headers(response)
        return response
