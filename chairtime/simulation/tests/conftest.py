"""Simulated organisations made once per test module.

A simulation takes seconds to minutes; the tests of a module only read it (or change it
inside their own transaction). So each module's organisation is made once, inside a
transaction that stays open for the module and is rolled back after its last test; every
test runs in a savepoint of it (pytest-django's `db`), so a test's own writes are undone
as usual. pytest sets up a module-scoped fixture before any test's `db`, which keeps the
nesting in that order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction

from chairtime.simulation.generator import SimulationConfig, SimulationResult, simulate


def simulated_once(config: SimulationConfig) -> Callable[..., Any]:
    """A module-scoped fixture giving `simulate(config)`, made once for the module."""

    @pytest.fixture(scope="module")
    def fixture(django_db_setup: None, django_db_blocker: Any) -> Iterator[SimulationResult]:
        with django_db_blocker.unblock(), transaction.atomic():
            yield simulate(config)
            transaction.set_rollback(True)

    return fixture
