"""Login, logout and the language switch."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.accounts.models import User
from chairtime.accounts.services import set_user_language
from chairtime.core.errors import InvalidInput
from chairtime.core.http import safe_next_url


def _remember_language(response: HttpResponse, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
    )


class LoginView(auth_views.LoginView):
    """Django's login (argon2, lockout by django-axes), then the user's own language."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        user: User = form.get_user()
        if user.language:
            _remember_language(response, user.language)
        return response


class LogoutView(auth_views.LogoutView):
    pass


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; a logged-in user keeps it on every device."""
    language = request.POST.get("language", "")
    response = HttpResponseRedirect(safe_next_url(request, reverse("analytics:home")))
    if language not in dict(settings.LANGUAGES):
        return response
    if request.user.is_authenticated:
        try:
            set_user_language(actor=acting_user(request), language=language)
        except InvalidInput:
            return response
    translation.activate(language)
    _remember_language(response, language)
    return response
