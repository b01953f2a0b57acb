"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_POST

from chairtime.accounts.access import acting_user
from chairtime.accounts.forms import ApiTokenForm
from chairtime.accounts.middleware import mark_session_start
from chairtime.accounts.models import User
from chairtime.accounts.selectors import list_api_tokens
from chairtime.accounts.services import (
    create_api_token,
    record_login,
    record_logout,
    revoke_api_token,
    set_user_language,
)
from chairtime.core.errors import InvalidInput
from chairtime.core.http import client_ip, safe_next_url
from chairtime.tenancy.decorators import capability_required
from chairtime.tenancy.roles import Capability


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
        record_login(user=user, ip_address=client_ip(self.request))
        mark_session_start(self.request)
        if user.language:
            _remember_language(response, user.language)
        return response


class LogoutView(auth_views.LogoutView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if isinstance(request.user, User):
            record_logout(user=request.user, ip_address=client_ip(request))
        return super().post(request, *args, **kwargs)


@capability_required(Capability.API_TOKENS)
def token_list(request: HttpRequest) -> HttpResponse:
    """The user's API tokens; a new token's secret is shown once, right after creation."""
    user = acting_user(request)
    form = ApiTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _token, secret = create_api_token(actor=user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    tokens = list_api_tokens(user=user)
    return render(
        request, "accounts/token_list.html", {"form": form, "tokens": tokens, "secret": secret}
    )


@require_POST
@capability_required(Capability.API_TOKENS)
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    revoke_api_token(actor=acting_user(request), token_id=token_id)
    return redirect("accounts:token_list")


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
