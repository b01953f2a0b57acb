"""Placeholder until the profiles work lands: connects nothing yet."""


def connect() -> None:
    return None
