"""Writes for users: preferences, API tokens, the login trail."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import ApiToken, User
from chairtime.audit.models import AuditAction
from chairtime.audit.services import record_event
from chairtime.core.errors import InvalidInput, NotFound

TOKEN_PREFIX_LENGTH = 8


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def set_user_language(*, actor: User, language: str) -> User:
    """Remember the language the user reads the product in."""
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput.on("language", _("This language is not available."))
    actor.language = language
    actor.save(update_fields=["language"])
    return actor


def create_api_token(*, actor: User, name: str) -> tuple[ApiToken, str]:
    """A new token for the actor; returns the row and the secret, which is never stored."""
    name = name.strip()
    if not name:
        raise InvalidInput.on("name", _("Give the token a name."))
    secret = "ct_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=actor, name=name, prefix=secret[:TOKEN_PREFIX_LENGTH], key_hash=hash_token(secret)
        )
        record_event(actor=actor, action=AuditAction.CREATE, target=token, summary=name)
    return token, secret


@transaction.atomic
def revoke_api_token(*, actor: User, token_id: int) -> ApiToken:
    """Stop a token working at once; only its owner can revoke it."""
    token = ApiToken.objects.select_for_update().filter(pk=token_id, user=actor).first()
    if token is None:
        raise NotFound
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_event(actor=actor, action=AuditAction.DELETE, target=token, summary=token.name)
    return token


@transaction.atomic
def record_login(*, user: User, ip_address: str | None) -> None:
    """Note a successful login in the audit trail (failures are counted by django-axes)."""
    record_event(actor=user, action=AuditAction.LOGIN, target=user, ip_address=ip_address)


@transaction.atomic
def record_logout(*, user: User, ip_address: str | None) -> None:
    record_event(actor=user, action=AuditAction.LOGOUT, target=user, ip_address=ip_address)


def authenticate_api_token(secret: str) -> User | None:
    """The active user behind a bearer token, or None; notes when it was last used."""
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=hash_token(secret), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user
