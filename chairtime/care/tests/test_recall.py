"""The recall list: one date per patient, booked and lapsed patients left out, filters by
due range, doctor (preferred or last), branch and calls made; lapsed recalls handed over."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chairtime.care.choices import Outcome, TaskKind, TaskStatus
from chairtime.care.generation import recall_key
from chairtime.care.rules import add_months
from chairtime.care.selectors import RecallFilters, list_recall
from tests.factories import PatientFactory, make_doctor

from .helpers import NOW, done_on, generate, make_task, procedure, profile, tasks_of, visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(world):
    """Branch A: two doctors; five patients due back on different days (one booked), one
    in branch B."""
    org, branch = world.acme, world.branch_a
    minh = make_doctor(branch, first_name="Minh", last_name="Lê")
    hoa = make_doctor(branch, first_name="Hoa", last_name="Trần")
    scale = procedure(org, "SCALE", "hygiene", recall=6)
    perio = procedure(org, "PERIO", "periodontic", recall=4)
    people = {}

    def due(name, day, by, proc, *, hour=9, preferred=None, home=branch):
        patient = PatientFactory(home_branch=home, given_name=name, preferred_doctor=preferred)
        done_on(home, patient, by, day, proc, hour)
        months = proc.recall_interval_months
        profile(patient, recall_due_on=add_months(day, months), last_visit_on=day,
                preferred_doctor=preferred)  # fmt: skip
        people[name] = patient
        return patient

    due("An", date(2029, 9, 1), minh, scale)  # due 1 March: overdue
    due("Binh", date(2029, 11, 10), hoa, perio, hour=10)  # due 10 March
    due("Chi", date(2029, 9, 20), hoa, scale, hour=11, preferred=minh)  # due 20 March
    due("Dung", date(2029, 10, 30), minh, scale, hour=12)  # due 30 April: beyond a month
    booked = due("Em", date(2029, 9, 5), minh, scale, hour=13)  # due 5 March, but booked
    visit(branch, booked, hoa, NOW + timedelta(days=2), scale, status="booked")
    b_doctor = make_doctor(world.branch_b)
    due("Giang", date(2029, 9, 2), b_doctor, scale, home=world.branch_b)
    return {"minh": minh, "hoa": hoa, "scale": scale, "perio": perio, "people": people}


def names(result):
    return [(row.patient.given_name, row.state.due_on) for row in result.rows]


def recall(world, **filters):
    return list_recall(
        branch=world.branch_a, filters=RecallFilters(**filters), now=NOW, offset=0, limit=50
    )


def test_one_row_per_patient_by_recall_date_booked_patients_left_out(world, book):
    result = recall(world, due_to=date(2030, 4, 4))

    assert names(result) == [
        ("An", date(2030, 3, 1)), ("Binh", date(2030, 3, 10)), ("Chi", date(2030, 3, 20)),
    ]  # fmt: skip
    assert (result.count, result.overdue) == (3, 1)
    assert [(row.procedure.code, row.doctor) for row in result.rows] == [
        ("SCALE", book["minh"]), ("PERIO", book["hoa"]), ("SCALE", book["minh"]),
    ]  # fmt: skip


def test_due_range_filters_both_ends(world, book):
    assert names(recall(world, due_from=date(2030, 3, 5), due_to=date(2030, 3, 31))) == [
        ("Binh", date(2030, 3, 10)), ("Chi", date(2030, 3, 20)),
    ]  # fmt: skip
    assert names(recall(world, due_from=date(2030, 4, 1))) == [("Dung", date(2030, 4, 30))]


def test_doctor_filter_matches_the_preferred_or_the_last_doctor(world, book):
    # Chi last saw Hoa but prefers Minh: she is on both lists.
    assert [n for n, _d in names(recall(world, doctor_id=book["minh"].pk))] == [
        "An", "Chi", "Dung",
    ]  # fmt: skip
    assert [n for n, _d in names(recall(world, doctor_id=book["hoa"].pk))] == ["Binh", "Chi"]


def test_attempts_are_the_recall_tasks_calls_and_filter_the_list(world, book):
    people = book["people"]
    for name, attempts in (("An", 2), ("Binh", 1)):
        patient = people[name]
        due_on = recall(world).rows[["An", "Binh"].index(name)].state.due_on
        make_task(world.branch_a, patient, kind=TaskKind.RECALL_DUE, cause_on=due_on,
                  key=recall_key(patient.pk, due_on), attempts=attempts)  # fmt: skip

    result = recall(world, due_to=date(2030, 4, 4))
    assert [(row.patient.given_name, row.state.attempts) for row in result.rows] == [
        ("An", 2), ("Binh", 1), ("Chi", 0),
    ]  # fmt: skip
    assert [n for n, _d in names(recall(world, attempts_min=1))] == ["An", "Binh"]
    assert [n for n, _d in names(recall(world, attempts_max=1, due_to=date(2030, 4, 4)))] == [
        "Binh", "Chi",
    ]  # fmt: skip


def test_the_other_branch_has_its_own_list(world, book):
    result = list_recall(
        branch=world.branch_b, filters=RecallFilters(), now=NOW, offset=0, limit=50
    )

    assert names(result) == [("Giang", date(2030, 3, 2))]


def test_pages_of_the_list_keep_the_order_and_the_count(world, book):
    first = list_recall(branch=world.branch_a, filters=RecallFilters(due_to=date(2030, 5, 1)),
                        now=NOW, offset=0, limit=2)  # fmt: skip
    second = list_recall(branch=world.branch_a, filters=RecallFilters(due_to=date(2030, 5, 1)),
                         now=NOW, offset=2, limit=2)  # fmt: skip

    assert (names(first), names(second), first.count, second.count) == (
        [("An", date(2030, 3, 1)), ("Binh", date(2030, 3, 10))],
        [("Chi", date(2030, 3, 20)), ("Dung", date(2030, 4, 30))],
        4, 4,
    )  # fmt: skip


def test_a_lapsed_recall_leaves_the_list_for_a_reactivation_task(world, book):
    # A monthly check due on 1 January (63 days ago): three calls, nobody answered.
    ortho = procedure(world.acme, "ORTHO-ADJ", "orthodontic", recall=1)
    patient = PatientFactory(home_branch=world.branch_a, given_name="Khoa")
    done_on(world.branch_a, patient, book["minh"], date(2029, 12, 1), ortho, 15)
    profile(patient, recall_due_on=date(2030, 1, 1), last_visit_on=date(2029, 12, 1))
    assert names(recall(world, due_to=date(2030, 1, 31))) == [("Khoa", date(2030, 1, 1))]
    make_task(world.branch_a, patient, kind=TaskKind.RECALL_DUE, cause_on=date(2030, 1, 1),
              key=recall_key(patient.pk, date(2030, 1, 1)), attempts=3, max_attempts=3,
              status=TaskStatus.DONE, outcome=Outcome.NO_ANSWER)  # fmt: skip

    assert names(recall(world, due_to=date(2030, 1, 31))) == []
    generate(world.acme)
    assert [(t.kind, t.cause_on, t.status) for t in tasks_of(patient=patient)] == [
        (TaskKind.RECALL_DUE, date(2030, 1, 1), TaskStatus.DONE),
        (TaskKind.REACTIVATION_6M, date(2029, 12, 1), TaskStatus.OPEN),
    ]
    assert generate(world.acme).total_created == 0


def test_a_recall_with_calls_left_stays_on_the_list_however_late(world, book):
    ortho = procedure(world.acme, "ORTHO-ADJ", "orthodontic", recall=1)
    patient = PatientFactory(home_branch=world.branch_a, given_name="Khoa")
    done_on(world.branch_a, patient, book["minh"], date(2029, 12, 1), ortho, 15)
    profile(patient, recall_due_on=date(2030, 1, 1), last_visit_on=date(2029, 12, 1))
    make_task(world.branch_a, patient, kind=TaskKind.RECALL_DUE, cause_on=date(2030, 1, 1),
              key=recall_key(patient.pk, date(2030, 1, 1)), attempts=2, max_attempts=3)  # fmt: skip

    assert names(recall(world, due_to=date(2030, 1, 31))) == [("Khoa", date(2030, 1, 1))]


def test_patients_who_refused_calls_or_were_merged_are_not_on_the_list(world, book):
    people = book["people"]
    people["An"].consents.create(
        channel="phone", purpose="service", is_granted=False, origin="verbal", recorded_at=NOW
    )
    type(people["Binh"]).objects.filter(pk=people["Binh"].pk).update(status="merged")

    assert [n for n, _d in names(recall(world, due_to=date(2030, 4, 4)))] == ["Chi"]


def test_a_list_longer_than_a_page_is_filtered_counted_and_paged_in_the_database(world, book):
    # Seven more patients due on the 2nd to the 8th of April, four of them with one call.
    scale, minh = book["scale"], book["minh"]
    more = []
    for n in range(7):
        patient = PatientFactory(home_branch=world.branch_a, given_name=f"P{n}")
        last = date(2029, 10, 2 + n)
        done_on(world.branch_a, patient, minh, last, scale, hour=9)
        profile(patient, recall_due_on=add_months(last, 6), last_visit_on=last)
        if n % 2 == 0:
            due_on = add_months(last, 6)
            make_task(world.branch_a, patient, kind=TaskKind.RECALL_DUE, cause_on=due_on,
                      key=recall_key(patient.pk, due_on), attempts=1)  # fmt: skip
        more.append(patient)
    filters = RecallFilters(due_from=date(2030, 3, 5), due_to=date(2030, 4, 30), attempts_max=0)

    pages, queries = [], []
    for offset in (0, 3, 6):
        with CaptureQueriesContext(connection) as captured:
            pages.append(
                list_recall(branch=world.branch_a, filters=filters, now=NOW, offset=offset, limit=3)
            )
        queries.append(len(captured))

    assert [names(page) for page in pages] == [
        [("Binh", date(2030, 3, 10)), ("Chi", date(2030, 3, 20)), ("P1", date(2030, 4, 3))],
        [("P3", date(2030, 4, 5)), ("P5", date(2030, 4, 7)), ("Dung", date(2030, 4, 30))],
        [],
    ]
    assert [(page.count, page.overdue) for page in pages] == [(6, 0)] * 3
    # The rules, the count, the page; for a page with rows its recall procedures (two
    # queries), then its patients, procedures and doctors by id: no query per patient.
    assert queries == [8, 8, 3]
    everyone = list_recall(branch=world.branch_a, filters=RecallFilters(), now=NOW, limit=50)
    assert (everyone.count, len(everyone.rows), everyone.overdue) == (11, 11, 1)


def test_a_patient_who_moves_branch_keeps_one_open_recall_call_in_the_new_branch(world, book):
    an = book["people"]["An"]
    generate(world.acme)
    assert [(t.branch_id, t.status) for t in tasks_of(TaskKind.RECALL_DUE, patient=an)] == [
        (world.branch_a.pk, TaskStatus.OPEN)
    ]

    an.home_branch = world.branch_b
    an.save(update_fields=["home_branch"])
    an.profile.home_branch = world.branch_b  # as the CRM's refresh on commit writes it
    an.profile.save(update_fields=["home_branch"])
    result = generate(world.acme)

    assert [(t.branch_id, t.status, t.cause_on) for t in tasks_of(TaskKind.RECALL_DUE, patient=an)] == [
        (world.branch_b.pk, TaskStatus.OPEN, date(2030, 3, 1))
    ]  # fmt: skip
    assert (result.total_created, result.total_cancelled) == (0, 0)
    assert names(list_recall(branch=world.branch_b, filters=RecallFilters(), now=NOW)) == [
        ("An", date(2030, 3, 1)), ("Giang", date(2030, 3, 2)),
    ]  # fmt: skip
    assert generate(world.acme).total_created == 0
