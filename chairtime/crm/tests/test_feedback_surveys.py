"""NPS surveys: one per completed visit, the daily task per branch day, answering once
before expiry with a score 0-10, and the public page (no login, the patient's language,
CSRF-protected, 404 for an unknown token)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chairtime.core.errors import Conflict, InvalidInput, NotFound
from chairtime.crm.feedback.services import (
    answer_survey,
    create_survey,
    create_surveys_for_day,
    create_surveys_for_yesterday,
)
from chairtime.crm.feedback.tasks import create_surveys_task
from chairtime.crm.models import NpsSurvey
from chairtime.crm.tests.helpers_feedback import visit
from chairtime.patients.models import Patient
from tests.factories import PatientFactory, UserFactory

VISIT = datetime(2030, 1, 7, 2, 0, tzinfo=UTC)  # 09:00 in Ho Chi Minh City
NOW = datetime(2030, 1, 8, 1, 0, tzinfo=UTC)  # 08:00 the next morning there


@pytest.fixture
def patient(world: Any) -> Patient:
    return PatientFactory(home_branch=world.branch_a, preferred_language="vi")


@pytest.fixture
def survey(world: Any, patient: Patient) -> NpsSurvey:
    made = create_survey(appointment=visit(world.branch_a, patient, UserFactory(), VISIT), now=NOW)
    assert made is not None
    return made


def test_survey_of_a_completed_visit(world, patient):
    doctor = UserFactory()
    appointment = visit(world.branch_a, patient, doctor, VISIT)

    survey = create_survey(appointment=appointment, now=NOW)

    assert survey is not None
    assert (survey.patient, survey.branch, survey.doctor, survey.language) == (
        patient, world.branch_a, doctor, "vi",
    )  # fmt: skip
    assert survey.expires_at - survey.sent_at == timedelta(days=30)
    assert len(survey.token) >= 43
    assert (survey.score, survey.answered_at) == (None, None)


def test_language_falls_back_to_the_branchs(world):
    patient = PatientFactory(home_branch=world.branch_a, preferred_language="")

    survey = create_survey(appointment=visit(world.branch_a, patient, UserFactory(), VISIT))

    assert survey is not None and survey.language == "vi"  # branch locale vi_VN


def test_one_survey_per_appointment(world, patient):
    appointment = visit(world.branch_a, patient, UserFactory(), VISIT)

    first = create_survey(appointment=appointment, now=NOW)
    second = create_survey(appointment=appointment, now=NOW)

    assert first is not None and second is None
    assert NpsSurvey.objects.count() == 1


@pytest.mark.parametrize("status", ["booked", "cancelled", "no_show", "arrived"])
def test_no_survey_for_a_visit_not_completed(world, patient, status):
    appointment = visit(world.branch_a, patient, UserFactory(), VISIT, status=status)

    assert create_survey(appointment=appointment, now=NOW) is None
    assert NpsSurvey.objects.count() == 0


def test_daily_task_takes_yesterdays_completed_visits_of_each_branch(world, patient):
    doctor = UserFactory()
    yesterday = visit(world.branch_a, patient, doctor, VISIT)
    # 23:30 local on the 7th is still yesterday in Ho Chi Minh City (UTC+7).
    late = visit(world.branch_a, PatientFactory(home_branch=world.branch_a), doctor,
                 datetime(2030, 1, 7, 16, 30, tzinfo=UTC))  # fmt: skip
    visit(world.branch_a, patient, doctor, VISIT - timedelta(days=1))  # the day before
    visit(world.branch_a, patient, doctor, VISIT + timedelta(hours=3), status="no_show")
    today = visit(world.branch_a, patient, doctor, datetime(2030, 1, 7, 17, 30, tzinfo=UTC))

    made = create_surveys_for_yesterday(now=NOW)
    again = create_surveys_for_yesterday(now=NOW)

    assert (made, again) == (2, 0)
    assert set(NpsSurvey.objects.values_list("appointment_id", flat=True)) == {
        yesterday.pk, late.pk,
    }  # fmt: skip
    assert today.pk not in set(NpsSurvey.objects.values_list("appointment_id", flat=True))


def test_task_returns_the_number_made(world, patient):
    visit(world.branch_a, patient, UserFactory(), VISIT)

    assert create_surveys_for_day(branch=world.branch_b, day=VISIT.date()) == 0
    assert create_surveys_task() == 0  # the real clock is years before 2030


# --- answering ----------------------------------------------------------------------------
def test_answer_once(survey):
    answered = answer_survey(token=survey.token, score=9, comment=" Great ", now=NOW)

    assert (answered.score, answered.comment, answered.answered_at) == (9, "Great", NOW)
    with pytest.raises(Conflict) as error:
        answer_survey(token=survey.token, score=3, now=NOW)
    assert error.value.errors == {"token": ["This survey has already been answered."]}
    survey.refresh_from_db()
    assert survey.score == 9


@pytest.mark.parametrize("score", [-1, 11, 7.5, "9", None, True])
def test_out_of_range_score_is_refused(survey, score):
    with pytest.raises(InvalidInput) as error:
        answer_survey(token=survey.token, score=score, now=NOW)

    assert error.value.errors == {"score": ["Choose a score from 0 to 10."]}
    survey.refresh_from_db()
    assert (survey.score, survey.answered_at) == (None, None)


@pytest.mark.parametrize("score", [0, 10])
def test_both_ends_of_the_scale_are_accepted(survey, score):
    assert answer_survey(token=survey.token, score=score, now=NOW).score == score


def test_expired_survey_is_refused(survey):
    with pytest.raises(InvalidInput) as error:
        answer_survey(token=survey.token, score=8, now=survey.expires_at)

    assert error.value.errors == {"token": ["This survey has expired."]}
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_unknown_token_is_not_found(survey):
    with pytest.raises(NotFound):
        answer_survey(token="nope", score=8, now=NOW)


# --- the public page ----------------------------------------------------------------------
def _url(survey: NpsSurvey) -> str:
    return reverse("public:survey", args=[survey.token])


def test_public_page_opens_without_login_in_the_patients_language(client, survey):
    response = client.get(_url(survey))

    assert response.status_code == 200
    assert response["Content-Language"] == "vi"
    assert 'lang="vi"' in response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
    assert [str(n) for n in range(11)] == [
        str(choice[0]) for choice in response.context["form"].fields["score"].choices
    ]


def test_public_answer_then_thank_you_then_answered(client, survey):
    first = client.post(_url(survey), {"score": "10", "comment": "Kind staff"})
    second = client.post(_url(survey), {"score": "0"})
    reopened = client.get(_url(survey))

    assert (first.status_code, first.context["state"]) == (200, "thanks")
    assert second.context["state"] == "answered"
    assert reopened.context["state"] == "answered"
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (10, "Kind staff")


def test_public_out_of_range_score_shows_the_form_again(client, survey):
    response = client.post(_url(survey), {"score": "11"})

    assert response.context["state"] == "open"
    assert "score" in response.context["form"].errors
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_public_expired_page(client, survey):
    NpsSurvey.objects.filter(pk=survey.pk).update(
        sent_at=datetime(2020, 1, 1, tzinfo=UTC), expires_at=datetime(2020, 1, 31, tzinfo=UTC)
    )

    shown = client.get(_url(survey))
    posted = client.post(_url(survey), {"score": "9"})

    assert (shown.status_code, shown.context["state"]) == (200, "expired")
    assert posted.context["state"] == "expired"
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_public_unknown_token_is_404(client, survey):
    assert client.get(reverse("public:survey", args=["x" * 43])).status_code == 404
    assert client.post(reverse("public:survey", args=["x" * 43]), {"score": "9"}).status_code == 404


def test_public_post_without_csrf_token_is_refused(survey):
    strict = Client(enforce_csrf_checks=True)

    response = strict.post(_url(survey), {"score": "9"})

    assert response.status_code == 403
    survey.refresh_from_db()
    assert survey.answered_at is None
