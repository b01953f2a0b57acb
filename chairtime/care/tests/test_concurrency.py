"""Real concurrent clients (threads with their own connections, released together): two
people recording a call on the same task, and two generation runs at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from chairtime.care.choices import Outcome
from chairtime.care.models import CareTask, TaskAttempt
from chairtime.care.services import generate_care_tasks, record_attempt
from chairtime.core.errors import Conflict
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory, make_doctor

from .helpers import NOW, TODAY, done_on, make_task, procedure

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]
CLIENTS = 4


def race(work: Callable[[int], Any], clients: int = CLIENTS) -> list[Any]:
    """Run `work(i)` in `clients` threads released at once; what each returned or raised."""
    barrier = threading.Barrier(clients)
    results: list[Any] = [None] * clients

    def client(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as failure:  # the test looks at what each client got
            results[i] = failure
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_calls_recorded_at_once_are_each_counted_once(world, persona):
    receptionist = persona(Role.RECEPTIONIST)
    task = make_task(world.branch_a, PatientFactory(home_branch=world.branch_a), max_attempts=10)

    results = race(
        lambda i: record_attempt(
            actor=receptionist, task=task, outcome=Outcome.NO_ANSWER, note=f"call {i}", now=NOW
        )
    )

    assert [r for r in results if not isinstance(r, CareTask)] == []
    assert CareTask.objects.get(pk=task.pk).attempts == CLIENTS
    numbers = TaskAttempt.objects.filter(task=task).values_list("number", flat=True)
    assert sorted(numbers) == list(range(1, CLIENTS + 1))


def test_the_same_call_recorded_twice_at_once_counts_once(world, persona):
    receptionist = persona(Role.RECEPTIONIST)
    task = make_task(world.branch_a, PatientFactory(home_branch=world.branch_a))

    results = race(
        lambda i: record_attempt(
            actor=receptionist,
            task=task,
            outcome=Outcome.NO_ANSWER,
            expected_attempts=0,
            now=NOW,
        )
    )

    assert sum(isinstance(r, CareTask) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == CLIENTS - 1
    assert CareTask.objects.get(pk=task.pk).attempts == 1
    assert TaskAttempt.objects.filter(task=task).count() == 1


def test_generation_runs_at_once_make_each_task_once(world):
    doctor = make_doctor(world.branch_a)
    implant = procedure(world.acme, "IMPL", "implant")
    for hour in range(8, 14):
        patient = PatientFactory(home_branch=world.branch_a)
        done_on(world.branch_a, patient, doctor, TODAY - timedelta(days=1), implant, hour)

    results = race(lambda i: generate_care_tasks(organization=world.acme, now=NOW))

    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(r.total_created for r in results) == 12
    assert CareTask.objects.count() == 12
    assert len(set(CareTask.objects.values_list("cause_key", flat=True))) == 12
