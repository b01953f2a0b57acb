"""Reads for the accounts pages."""

from __future__ import annotations

from django.db.models import QuerySet

from chairtime.accounts.models import ApiToken, User


def list_api_tokens(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")
