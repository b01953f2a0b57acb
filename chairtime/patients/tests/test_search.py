"""Patient search: names without diacritics or case, Chinese names, phones as typed, numbers.

Each search is checked through the selector and through the patient list page (whole page
and the htmx fragment), and never reaches into another organisation.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from chairtime.accounts.models import User
from chairtime.patients.models import Patient
from chairtime.patients.selectors import list_patients
from chairtime.tenancy.roles import Role
from conftest import World
from tests.factories import PatientFactory

LIST_URL = reverse("patients:patient_list")


@pytest.fixture
def patients(world: World) -> dict[str, Patient]:
    """A small register: three Vietnamese names, a Chinese one, a Spanish one, a rival's."""
    return {
        "an": PatientFactory(
            home_branch=world.branch_a, number="P000001", family_name="Nguyễn",
            given_name="Văn An", display_name="Nguyễn Văn An", phone="+84912345678",
        ),
        "binh": PatientFactory(
            home_branch=world.branch_a, number="P000002", family_name="Nguyễn",
            given_name="Thị Bình", display_name="Nguyễn Thị Bình", phone="+84987111222",
        ),
        "dang": PatientFactory(
            home_branch=world.branch_b, number="P000003", family_name="Đặng",
            given_name="Văn Hùng", display_name="Đặng Văn Hùng", phone="+84903000111",
        ),
        "wang": PatientFactory(
            home_branch=world.branch_b, number="P000004", family_name="王",
            given_name="小明", display_name="王小明",
        ),
        "ana": PatientFactory(
            home_branch=world.branch_a, number="P000010", family_name="García López",
            given_name="Ana", name_order="given_first", display_name="Ana García López",
            phone="+34612345678",
        ),
        "rival": PatientFactory(
            home_branch=world.rival_branch, number="P000001", family_name="Nguyễn",
            given_name="Văn An", display_name="Nguyễn Văn An", phone="+84912345678",
        ),
    }  # fmt: skip


def found(world: World, query: str, *, scope: str = "all") -> list[str]:
    """Display names and numbers the selector finds from branch A.

    Sorted here: how "Đặng" and "王" sort against Latin letters depends on the database's
    collation, and these tests are about what is found, not the order.
    """
    return sorted(
        f"{patient.display_name} {patient.number}"
        for patient in list_patients(
            branch=world.branch_a, query=query, home_branch_only=scope != "all"
        )
    )


@pytest.mark.parametrize("query", ["nguyen", "NGUYEN", "Nguyễn", "nguyễn"])
def test_finds_nguyen_without_diacritics_or_case(
    world: World, patients: dict[str, Patient], query: str
) -> None:
    assert found(world, query) == ["Nguyễn Thị Bình P000002", "Nguyễn Văn An P000001"]


def test_finds_by_several_words_all_of_which_must_match(
    world: World, patients: dict[str, Patient]
) -> None:
    assert found(world, "NGUYEN VAN") == ["Nguyễn Văn An P000001"]
    assert found(world, "an nguyen") == ["Nguyễn Văn An P000001"]


def test_finds_dang_written_with_a_plain_d(world: World, patients: dict[str, Patient]) -> None:
    assert found(world, "dang") == ["Đặng Văn Hùng P000003"]
    assert found(world, "đặng hung") == ["Đặng Văn Hùng P000003"]


@pytest.mark.parametrize("query", ["王", "王小明", "小明"])
def test_finds_a_chinese_name_by_its_characters(
    world: World, patients: dict[str, Patient], query: str
) -> None:
    assert found(world, query) == ["王小明 P000004"]


def test_finds_a_spanish_name_by_either_surname_without_accents(
    world: World, patients: dict[str, Patient]
) -> None:
    assert found(world, "garcia") == ["Ana García López P000010"]
    assert found(world, "lopez ana") == ["Ana García López P000010"]


@pytest.mark.parametrize(
    "query", ["0912 345 678", "0912345678", "+84912345678", "+84 912 345 678", "912345678"]
)
def test_finds_a_phone_number_however_it_is_written(
    world: World, patients: dict[str, Patient], query: str
) -> None:
    assert found(world, query) == ["Nguyễn Văn An P000001"]


def test_finds_by_name_and_phone_together(world: World, patients: dict[str, Patient]) -> None:
    assert found(world, "nguyen 0912345678") == ["Nguyễn Văn An P000001"]
    assert found(world, "binh 0912345678") == []


def test_finds_a_patient_number_written_only_with_digits_and_dashes(
    world: World, patients: dict[str, Patient]
) -> None:
    PatientFactory(
        home_branch=world.branch_a, number="2024-0001", family_name="Lê",
        given_name="Thị Hoa", display_name="Lê Thị Hoa",
    )  # fmt: skip
    assert found(world, "2024-0001") == ["Lê Thị Hoa 2024-0001"]


@pytest.mark.parametrize("query", ["P000001", "p000001"])
def test_finds_the_patient_by_number(
    world: World, patients: dict[str, Patient], query: str
) -> None:
    assert found(world, query) == ["Nguyễn Văn An P000001"]


def test_finds_nothing_for_a_name_nobody_has(world: World, patients: dict[str, Patient]) -> None:
    assert found(world, "pham") == []


def test_branch_scope_lists_only_the_branch_own_patients(
    world: World, patients: dict[str, Patient]
) -> None:
    assert found(world, "", scope="branch") == [
        "Ana García López P000010", "Nguyễn Thị Bình P000002", "Nguyễn Văn An P000001",
    ]  # fmt: skip
    assert found(world, "van", scope="branch") == ["Nguyễn Văn An P000001"]


def test_all_scope_lists_the_whole_organisation(world: World, patients: dict[str, Patient]) -> None:
    assert found(world, "", scope="all") == [
        "Ana García López P000010", "Nguyễn Thị Bình P000002", "Nguyễn Văn An P000001",
        "Đặng Văn Hùng P000003", "王小明 P000004",
    ]  # fmt: skip
    assert found(world, "van", scope="all") == ["Nguyễn Văn An P000001", "Đặng Văn Hùng P000003"]


@pytest.mark.parametrize("query", ["", "nguyen van an", "0912345678", "P000001"])
def test_never_finds_a_patient_of_another_organisation(
    world: World, patients: dict[str, Patient], query: str
) -> None:
    rival = patients["rival"]
    assert rival.pk not in list_patients(
        branch=world.branch_a, query=query, home_branch_only=False
    ).values_list("pk", flat=True)
    # ... and the rival's own staff find only theirs.
    assert list(
        list_patients(branch=world.rival_branch, query=query, home_branch_only=False).values_list(
            "pk", flat=True
        )
    ) == [rival.pk]


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def page(persona: Callable[[Role], User], logged_in: Callable[[User], Client]) -> Client:
    """The receptionist of branch A, logged in."""
    return logged_in(persona(Role.RECEPTIONIST))


def listed(response_page: object) -> list[str]:
    return [f"{patient.display_name} {patient.number}" for patient in response_page]  # type: ignore[attr-defined]


def test_page_searches_the_organisation_with_scope_all(
    world: World, patients: dict[str, Patient], page: Client
) -> None:
    response = page.get(LIST_URL, {"q": "0912 345 678", "scope": "all"})
    assert response.status_code == 200
    assert listed(response.context["page"]) == ["Nguyễn Văn An P000001"]
    content = response.content.decode()
    assert f'href="{reverse("patients:patient_detail", args=[patients["an"].pk])}"' in content
    assert (
        f'href="{reverse("patients:patient_detail", args=[patients["rival"].pk])}"' not in content
    )


def test_page_searches_only_the_branch_by_default(
    world: World, patients: dict[str, Patient], page: Client
) -> None:
    response = page.get(LIST_URL, {"q": "dang"})
    assert response.status_code == 200
    assert listed(response.context["page"]) == []
    assert "No patient matches “dang”." in response.content.decode()

    response = page.get(LIST_URL, {"q": "dang", "scope": "all"})
    assert listed(response.context["page"]) == ["Đặng Văn Hùng P000003"]


def test_page_answers_htmx_with_only_the_results_section(
    world: World, patients: dict[str, Patient], page: Client
) -> None:
    response = page.get(
        LIST_URL,
        {"q": "王", "scope": "all"},
        headers={"HX-Request": "true", "HX-Target": "patient-results"},
    )
    content = response.content.decode().strip()
    assert response.status_code == 200
    assert content.startswith('<section id="patient-results">')
    assert content.endswith("</section>")
    assert content.count("<section") == 1
    assert "<html" not in content
    assert 'id="patient-search"' not in content
    assert "王小明" in content
    assert "Nguyễn" not in content


def test_page_answers_a_plain_request_with_the_whole_page(
    world: World, patients: dict[str, Patient], page: Client
) -> None:
    content = page.get(LIST_URL, {"q": "王", "scope": "all"}).content.decode()
    assert "<html" in content
    assert 'id="patient-search"' in content
    assert '<section id="patient-results">' in content


def test_outsider_page_never_lists_acme_patients(
    world: World, patients: dict[str, Patient], outsider: User, logged_in: Callable[[User], Client]
) -> None:
    response = logged_in(outsider).get(LIST_URL, {"q": "nguyen", "scope": "all"})
    assert listed(response.context["page"]) == ["Nguyễn Văn An P000001"]
    assert [patient.pk for patient in response.context["page"]] == [patients["rival"].pk]
