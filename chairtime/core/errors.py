"""Errors that services raise and views and the API translate for the user."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.http import Http404
from django.utils.functional import Promise

Message = str | Promise


class NotFound(Http404):
    """The object is missing, or the actor may not see it: the two look the same."""


class InvalidInput(Exception):
    """Input that a service refuses, with the reasons per field.

    `errors` maps a field name (or "__all__") to translated messages, so a page can show
    them beside the fields and the API can return them as they are.
    """

    def __init__(self, errors: Mapping[str, Sequence[Message]]) -> None:
        self.errors = {field: [str(m) for m in messages] for field, messages in errors.items()}
        super().__init__("; ".join(f"{f}: {', '.join(m)}" for f, m in self.errors.items()))

    @classmethod
    def on(cls, field: str, message: Message) -> InvalidInput:
        return cls({field: [message]})


class Conflict(InvalidInput):
    """The input is valid but something it needs is taken (a chair, a doctor, a slot).

    Pages show it like any field error; the API answers 409 instead of 422."""
