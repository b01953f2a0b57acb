"""Who is acting: the logged-in user behind a request, typed as our User."""

from __future__ import annotations

from django.http import HttpRequest

from chairtime.accounts.models import User
from chairtime.core.errors import NotFound


def acting_user(request: HttpRequest) -> User:
    """The authenticated user; pages and endpoints behind a login never see anyone else."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise NotFound
    return user
