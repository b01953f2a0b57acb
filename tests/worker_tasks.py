"""Tasks that exist only for the worker tests (tests/test_worker.py).

They leave their marks in a plain file rather than the database, so what a task did
survives its worker being killed half-way through, transaction or not.
"""

from __future__ import annotations

import time
from pathlib import Path


def _mark(marker: str, word: str) -> None:
    with Path(marker).open("a", encoding="utf-8") as file:
        file.write(f"{word}\n")
        file.flush()


def sleep_and_mark_task(marker: str, seconds: float) -> str:
    """Write "start", sleep, write "finish": a killed run leaves only its "start"."""
    _mark(marker, "start")
    time.sleep(seconds)
    _mark(marker, "finish")
    return "finished"
