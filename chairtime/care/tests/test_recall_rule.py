"""One recall rule (ADR 11): `care.rules.relevant_recall_due` is the specification; the
CRM profile's `recall_due_on` (aggregates grouped by interval, for a whole organisation)
and care's procedure lookup (grouped by procedure, for a page of patients) both reach it
through their own query. Over random histories, all three give the same date."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chairtime.care.rules import local_day, relevant_recall_due
from chairtime.care.selectors import recall_dates, recall_states
from chairtime.crm.models import PatientProfile
from tests.factories import PatientFactory, make_doctor

from .helpers import NOW, TODAY, computed_profile, done_on, procedure

pytestmark = pytest.mark.django_db

# A visit: which procedure (index into the clinic's), how many days ago, at what hour.
# Hours 0-6 in Saigon are the day before in UTC: the local day must decide.
VISITS = st.lists(
    st.tuples(st.integers(0, 4), st.integers(1, 900), st.integers(0, 23)),
    min_size=1, max_size=6, unique_by=lambda visit: (visit[1], visit[2]),
)  # fmt: skip


@pytest.fixture
def clinic(world):
    org = world.acme
    return {
        # Two procedures share the six-month interval; one has no recall at all.
        "procedures": [
            procedure(org, "ORTHO-ADJ", "orthodontic", recall=1),
            procedure(org, "PERIO", "periodontic", recall=4),
            procedure(org, "SCALE", "hygiene", recall=6),
            procedure(org, "POLISH", "hygiene", recall=6),
            procedure(org, "EXAM", "diagnostic"),
        ],
    }


def specified(history: list[tuple[int, date]]) -> date | None:
    """The specification: per interval the last day it was done, then the one rule."""
    last: dict[int, date] = defaultdict(lambda: date.min)
    for months, day in history:
        if months:
            last[months] = max(last[months], day)
    return relevant_recall_due(last.items())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(visits=VISITS)
def test_the_crm_profile_and_care_compute_the_same_recall_date(world, clinic, visits):
    branch = world.branch_a
    patient = PatientFactory(home_branch=branch)
    doctor = make_doctor(branch)  # one per example: the examples share the book
    history = []
    for index, days_ago, hour in visits:
        proc = clinic["procedures"][index]
        appointment = done_on(branch, patient, doctor, TODAY - timedelta(days=days_ago),
                              proc, hour)  # fmt: skip
        history.append((proc.recall_interval_months or 0, local_day(appointment.starts_at,
                                                                      branch.zone)))  # fmt: skip
    expected = specified(history)

    profile_date = computed_profile(patient).recall_due_on
    care = recall_dates(
        PatientProfile.objects.filter(patient=patient), organization_id=world.acme.pk,
        zone=branch.zone,
    )  # fmt: skip
    states = recall_states(branch=branch, now=NOW, patient_ids=[patient.pk], with_procedures=True)

    assert profile_date == expected
    assert (care[patient.pk][0] if patient.pk in care else None) == expected
    assert [s.due_on for s in states] == ([expected] if expected else [])
    if expected is not None:
        # The procedure to book is one whose interval decided the date.
        decided = {clinic["procedures"][i].pk for i, _d, _h in visits}
        assert states[0].procedure_id in decided
