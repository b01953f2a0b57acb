"""Duplicate candidates: the same phone, the same email in any case, or the same name
(case and diacritics ignored) with the same birth date; merged patients never appear."""

from __future__ import annotations

from datetime import date

from django.template.loader import render_to_string

from chairtime.crm.duplicates.selectors import MAX_GROUP, duplicates_of, find_duplicates
from chairtime.patients.choices import PatientStatus
from chairtime.patients.models import PatientPhone
from conftest import World
from tests.factories import PatientFactory


def _pairs(world: World) -> list[tuple[int, int, list[str]]]:
    return [(c.a.pk, c.b.pk, c.reasons) for c in find_duplicates(organization=world.acme)]


def test_same_phone_is_a_candidate(world: World) -> None:
    first = PatientFactory(home_branch=world.branch_a, phone="+84912345678")
    second = PatientFactory(home_branch=world.branch_b, phone="+84912345678")
    PatientFactory(home_branch=world.branch_a, phone="+84912345679")

    assert _pairs(world) == [(first.pk, second.pk, ["phone"])]


def test_same_email_in_any_case_is_a_candidate(world: World) -> None:
    first = PatientFactory(home_branch=world.branch_a, email="An.Nguyen@Example.com")
    second = PatientFactory(home_branch=world.branch_a, email="an.nguyen@example.com")
    PatientFactory(home_branch=world.branch_a, email="")
    PatientFactory(home_branch=world.branch_a, email="")

    assert _pairs(world) == [(first.pk, second.pk, ["email"])]


def test_same_name_without_diacritics_and_same_birth_date_is_a_candidate(world: World) -> None:
    born = date(1990, 5, 17)
    first = PatientFactory(
        home_branch=world.branch_a, family_name="Nguyễn", given_name="Văn An", birth_date=born
    )
    second = PatientFactory(
        home_branch=world.branch_b, family_name="NGUYEN", given_name="van an", birth_date=born
    )
    # The same name born another day, and another name born the same day, are other people.
    PatientFactory(
        home_branch=world.branch_a, family_name="Nguyễn", given_name="Văn An",
        birth_date=date(1991, 5, 17),
    )  # fmt: skip
    PatientFactory(
        home_branch=world.branch_a, family_name="Nguyễn", given_name="Văn Anh", birth_date=born
    )

    assert _pairs(world) == [(first.pk, second.pk, ["name_birth_date"])]


def test_a_pair_with_several_reasons_lists_them_all_and_comes_first(world: World) -> None:
    born = date(1985, 1, 2)
    phone_only = [
        PatientFactory(home_branch=world.branch_a, phone="+84900000001") for _ in range(2)
    ]
    first = PatientFactory(
        home_branch=world.branch_a, family_name="Trần", given_name="Thị Bình",
        birth_date=born, email="binh@example.com", phone="+84900000002",
    )  # fmt: skip
    second = PatientFactory(
        home_branch=world.branch_a, family_name="tran", given_name="THI BINH",
        birth_date=born, email="BINH@example.com", phone="+84900000002",
    )  # fmt: skip

    assert _pairs(world) == [
        (first.pk, second.pk, ["phone", "email", "name_birth_date"]),
        (phone_only[0].pk, phone_only[1].pk, ["phone"]),
    ]


def test_merged_patients_and_other_organisations_are_left_out(world: World) -> None:
    kept = PatientFactory(home_branch=world.branch_a, phone="+84912000000")
    merged = PatientFactory(home_branch=world.branch_a, phone="+84912000000")
    merged.status, merged.merged_into = PatientStatus.MERGED, kept
    merged.save()
    PatientFactory(home_branch=world.rival_branch, phone="+84912000000")

    assert _pairs(world) == []
    assert [(c.a.pk, c.b.pk) for c in find_duplicates(organization=world.rival)] == []


def test_a_number_shared_by_many_patients_is_not_listed(world: World) -> None:
    company = [
        PatientFactory(home_branch=world.branch_a, phone="+84281234567")
        for _ in range(MAX_GROUP + 1)
    ]

    assert _pairs(world) == []
    assert PatientPhone.objects.filter(patient__in=company).count() == MAX_GROUP + 1


def test_limit_keeps_the_first_pairs(world: World) -> None:
    for n in range(3):
        for _ in range(2):
            PatientFactory(home_branch=world.branch_a, phone=f"+8491111000{n}")

    assert len(find_duplicates(organization=world.acme, limit=2)) == 2
    assert len(find_duplicates(organization=world.acme)) == 3


def test_duplicates_of_a_patient(world: World) -> None:
    born = date(2000, 2, 29)
    patient = PatientFactory(
        home_branch=world.branch_a, family_name="Lê", given_name="Đức", birth_date=born,
        email="duc@example.com", phone="+84987654321",
    )  # fmt: skip
    by_name = PatientFactory(
        home_branch=world.branch_b, family_name="LE", given_name="duc", birth_date=born
    )
    by_email = PatientFactory(home_branch=world.branch_a, email="Duc@Example.com")
    by_phone = PatientFactory(home_branch=world.branch_a, phone="+84987654321")
    PatientFactory(home_branch=world.rival_branch, phone="+84987654321")

    found = {(c.a.pk, c.b.pk): c.reasons for c in duplicates_of(patient)}

    assert found == {
        (patient.pk, by_name.pk): ["name_birth_date"],
        (patient.pk, by_email.pk): ["email"],
        (patient.pk, by_phone.pk): ["phone"],
    }


def test_the_patient_page_partial_lists_the_other_records(world: World) -> None:
    patient = PatientFactory(home_branch=world.branch_a, phone="+84987000000")
    other = PatientFactory(home_branch=world.branch_a, phone="+84987000000")

    html = render_to_string(
        "crm/duplicates/_patient_duplicates.html",
        {"patient": other, "duplicates": duplicates_of(other), "branch_access": None},
    )

    assert f'href="/patients/{patient.pk}/"' in html
    assert "Same phone" in html
    assert "Compare" not in html  # only for those who may merge
    assert (
        render_to_string(
            "crm/duplicates/_patient_duplicates.html", {"patient": other, "duplicates": []}
        ).strip()
        == ""
    )
