"""The simulator's care work: the rules' own tasks over the last weeks, worked with
realistic outcomes, every row consistent with the care services' rules."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from django.db.models import Count

from chairtime.care.choices import Outcome, TaskKind, TaskStatus
from chairtime.care.models import CareTask, TaskAttempt
from chairtime.care.selectors import RecallFilters, list_recall
from chairtime.care.services import generate_care_tasks
from chairtime.patients.models import Consent
from chairtime.simulation.care import CareResult, simulated_now
from chairtime.simulation.generator import SimulationConfig, SimulationResult
from chairtime.simulation.tests.conftest import simulated_once

pytestmark = pytest.mark.django_db

# Vietnam and Spain: Madrid leaves summer time on 25 October 2026, inside the replayed weeks.
CARE = SimulationConfig(
    seed=13, slug="care", organization_name="Care Dental", countries=("VN", "ES"), branches=2,
    patients=800, min_chairs=3, max_chairs=4, batch_size=200, as_of=date(2026, 11, 1),
    history_days=200, future_days=7,
)  # fmt: skip


made = simulated_once(CARE)  # its last steps include `simulate_care`


@pytest.fixture
def simulated(made: SimulationResult) -> tuple[SimulationResult, CareResult]:
    return made, made.care


def test_calls_go_as_clinics_report_about_half_reached_a_third_unanswered(simulated):
    _made, result = simulated
    calls = sum(result.by_outcome.values())

    assert calls == result.attempts == TaskAttempt.objects.count() > 500
    assert 0.45 <= result.by_outcome[Outcome.REACHED] / calls <= 0.65
    assert 0.22 <= result.by_outcome[Outcome.NO_ANSWER] / calls <= 0.38
    for rare in (Outcome.BOOKED, Outcome.DECLINED, Outcome.WRONG_NUMBER, Outcome.DO_NOT_CONTACT):
        assert 0 < result.by_outcome[rare] < 0.15 * calls
    kinds = Counter(CareTask.objects.values_list("kind", flat=True))
    for kind in (TaskKind.POST_TREATMENT_DAY1, TaskKind.POST_TREATMENT_DAY7,
                 TaskKind.CONFIRMATION_CALL, TaskKind.RECALL_DUE, TaskKind.BIRTHDAY,
                 TaskKind.TREATMENT_CONTINUATION, TaskKind.REACTIVATION_6M):  # fmt: skip
        assert kinds[kind] > 0, kind
    assert result.tasks == CareTask.objects.count()
    assert result.open_tasks == CareTask.objects.filter(status=TaskStatus.OPEN).count() > 0


def test_every_task_agrees_with_its_calls(simulated):
    made, _result = simulated
    now = {b.pk: simulated_now(CARE, b) for b in made.branches}
    calls: dict[int, list[tuple[int, object, str]]] = {}
    rows = TaskAttempt.objects.order_by("task_id", "number").values_list(
        "task_id", "number", "at", "outcome"
    )
    for task_id, number, at, outcome in rows:
        calls.setdefault(task_id, []).append((number, at, outcome))
    for task in CareTask.objects.all():
        mine = calls.get(task.pk, [])
        assert [n for n, _at, _o in mine] == list(range(1, task.attempts + 1))
        assert task.attempts <= task.max_attempts
        assert all(task.due_at <= at < now[task.branch_id] for _n, at, _o in mine)
        assert task.created_at <= now[task.branch_id]
        if task.status == TaskStatus.OPEN:
            assert task.closed_at is None and task.cancel_reason == ""
            assert task.attempts < task.max_attempts
            assert not mine or mine[-1][2] == Outcome.NO_ANSWER
        elif task.status == TaskStatus.DONE:
            assert (task.closed_at, task.outcome) == (mine[-1][1], mine[-1][2])
        else:
            assert task.cancel_reason != "" and task.closed_at is not None


def test_patients_who_asked_not_to_be_called_have_a_refusal_and_no_later_task(simulated):
    refusing = TaskAttempt.objects.filter(outcome=Outcome.DO_NOT_CONTACT).values_list(
        "task__patient_id", "at"
    )
    assert refusing
    for patient_id, at in refusing:
        assert Consent.objects.filter(
            patient_id=patient_id, channel="phone", purpose="service", is_granted=False,
            recorded_at=at,
        ).count() == 1  # fmt: skip
        assert not CareTask.objects.filter(patient_id=patient_id, created_at__gt=at).exists()
        assert not CareTask.objects.filter(patient_id=patient_id, status=TaskStatus.OPEN).exists()


def test_the_rules_run_at_the_simulated_today_find_nothing_to_add_or_cancel(simulated):
    made, _result = simulated
    for branch in made.branches:
        run = generate_care_tasks(
            organization=made.organization, now=simulated_now(CARE, branch), branches=[branch]
        )

        assert (dict(run.created), dict(run.cancelled)) == ({}, {}), branch.name


def test_the_recall_list_shows_calls_already_made(simulated):
    made, _result = simulated
    branch = made.branches[0]

    result = list_recall(
        branch=branch, filters=RecallFilters(due_to=date(2026, 12, 1)), now=simulated_now(CARE, branch),
        offset=0, limit=500,
    )  # fmt: skip

    assert result.count > 0
    assert any(row.state.attempts > 0 for row in result.rows)
    assert all(row.state.due_on <= date(2026, 12, 1) for row in result.rows)
    duplicates = (
        CareTask.objects.values("organization_id", "cause_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert list(duplicates) == []
