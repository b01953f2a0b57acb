"""Segments through the pages and the services: the builder's live count, saving, private
and shared visibility, other organisations unseen, and exports (CSV and Excel read back),
audited and refused without PATIENT_EXPORT."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from chairtime.audit.models import AuditEvent
from chairtime.core.errors import InvalidInput, NotFound
from chairtime.crm.models import Segment
from chairtime.crm.segments.selectors import list_segments
from chairtime.crm.segments.services import delete_segment, save_segment
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory, PatientProfileFactory

LOYAL = {"match": "all", "conditions": [{"field": "group", "op": "in", "value": ["loyal"]}]}
HEADER = [
    "Number", "Family name", "Given name", "Display name", "Birth date", "Sex", "Phone",
    "Email", "Home branch", "Customer group", "Last visit", "Visits", "Spend", "Balance",
    "Currency",
]  # fmt: skip


@pytest.fixture
def patients(world):
    an = PatientFactory(
        home_branch=world.branch_a, number="P001", family_name="Nguyễn", given_name="Văn An",
        birth_date=date(1990, 5, 17), email="an@example.com", phone="+84912345678",
    )  # fmt: skip
    PatientProfileFactory(
        patient=an, group="loyal", last_visit_on=date(2030, 5, 1), visit_count=6,
        spend_total=Decimal("12500000"), balance=Decimal("0"), currency="VND",
    )  # fmt: skip
    wang = PatientFactory(
        home_branch=world.branch_b, number="P002", family_name="王", given_name="小明",
        display_name="王小明", email="=HYPERLINK(1)",
    )  # fmt: skip
    PatientProfileFactory(patient=wang, group="loyal", visit_count=1, currency="VND")
    other = PatientFactory(home_branch=world.branch_a, number="P003", given_name="Potential")
    PatientProfileFactory(patient=other, group="potential")
    rival = PatientFactory(home_branch=world.rival_branch, number="P004")
    PatientProfileFactory(patient=rival, group="loyal")
    return an, wang, other


def builder_post(**extra):
    data = {
        "match": "all", "g-0-match": "all", "g-0-c-0-field": "group", "g-0-c-0-op": "in",
        "g-0-c-0-value": ["loyal"],
    }  # fmt: skip
    data.update(extra)
    return data


def test_builder_shows_the_live_count_and_first_page(persona, logged_in, patients):
    client = logged_in(persona(Role.RECEPTIONIST))
    page = client.get(reverse("crm:filter_builder"))
    assert page.status_code == 200
    assert 'hx-get="/patients/filter/preview/"' in page.content.decode()
    preview = client.get(reverse("crm:filter_preview"), builder_post(), HTTP_HX_REQUEST="true")
    body = preview.content.decode()
    assert '<strong id="filter-count">2</strong>' in body
    assert reverse("patients:patient_detail", args=[patients[0].pk]) in body
    assert "王小明" in body and "Potential" not in body


def test_builder_preview_names_the_bad_condition(persona, logged_in, patients):
    client = logged_in(persona(Role.RECEPTIONIST))
    data = builder_post(**{"g-0-c-0-field": "visit_count", "g-0-c-0-op": "gte",
                           "g-0-c-0-value": "many"})  # fmt: skip
    body = client.get(reverse("crm:filter_preview"), data).content.decode()
    assert "<li>Visits: Expected a whole number.</li>" in body and "filter-count" not in body


def test_a_fresh_builder_starts_on_vips_or_the_group_its_link_names(persona, logged_in, patients):
    client = logged_in(persona(Role.RECEPTIONIST))

    fresh = client.get(reverse("crm:filter_builder")).content.decode()
    named = client.get(reverse("crm:filter_builder"), {"group": "potential"}).content.decode()
    unknown = client.get(reverse("crm:filter_builder"), {"group": "gold"}).content.decode()

    assert '<option value="loyal" selected>' in fresh
    assert '<option value="potential" selected>' in named
    assert '<option value="loyal" selected>' not in named
    assert '<option value="loyal" selected>' in unknown


def test_builder_adds_and_removes_conditions_and_groups(persona, logged_in, world):
    client = logged_in(persona(Role.RECEPTIONIST))
    url = reverse("crm:filter_builder")
    added = client.post(url, builder_post(action="add_condition:0"), HTTP_HX_REQUEST="true")
    body = added.content.decode()
    assert 'name="g-0-c-1-field"' in body and "<html" not in body
    grouped = client.post(url, builder_post(action="add_group"), HTTP_HX_REQUEST="true")
    assert 'name="g-1-c-0-field"' in grouped.content.decode()
    # Changing the field re-renders its operators: visit count compares numbers.
    changed = client.post(url, builder_post(**{"g-0-c-0-field": "visit_count"}),
                          HTTP_HX_REQUEST="true").content.decode()  # fmt: skip
    assert '<option value="gte"' in changed and '<option value="in"' not in changed


def test_saving_from_the_builder_opens_the_segment(persona, logged_in, patients):
    user = persona(Role.RECEPTIONIST)
    client = logged_in(user)
    answer = client.post(reverse("crm:filter_builder"), builder_post(action="save", name=" VIPs "))
    segment = Segment.objects.get()
    assert answer.status_code == 302
    assert answer["Location"] == reverse("crm:segment_detail", args=[segment.pk])
    assert (segment.name, segment.owner, segment.is_shared) == ("VIPs", user, False)
    assert segment.definition == {"match": "all", "conditions": [
        {"match": "all", "conditions": [{"field": "group", "op": "in", "value": ["loyal"]}]}
    ]}  # fmt: skip
    detail = client.get(answer["Location"]).content.decode()
    assert '<strong id="segment-count">2</strong>' in detail
    event = AuditEvent.objects.get(object_type="crm.segment")
    assert (event.action, event.actor, event.summary) == ("create", user, "Segment “VIPs” saved")


def test_saving_without_a_name_changes_nothing(persona, logged_in, world):
    client = logged_in(persona(Role.RECEPTIONIST))
    page = client.post(reverse("crm:filter_builder"), builder_post(action="save", name=""))
    assert page.status_code == 200
    assert "Give the segment a name." in page.content.decode()
    assert not Segment.objects.exists()


def test_private_segments_are_the_owners_shared_ones_everyones(persona, world, patients):
    owner, marketer = persona(Role.OWNER), persona(Role.MARKETER)
    receptionist = persona(Role.RECEPTIONIST)
    private = save_segment(actor=receptionist, branch=world.branch_a, name="Mine",
                           definition=LOYAL, is_shared=False)  # fmt: skip
    shared = save_segment(actor=receptionist, branch=world.branch_a, name="Ours",
                          definition=LOYAL, is_shared=True)  # fmt: skip
    assert list(list_segments(receptionist, world.branch_a)) == [private, shared]
    assert list(list_segments(marketer, world.branch_a)) == [shared]
    # Only the owner, or someone who manages staff, changes a shared segment.
    with pytest.raises(NotFound):
        save_segment(actor=marketer, branch=world.branch_a, name="Taken", definition=LOYAL,
                     is_shared=True, segment=shared)  # fmt: skip
    with pytest.raises(NotFound):
        delete_segment(actor=owner, segment=private)
    renamed = save_segment(actor=owner, branch=world.branch_a, name="Ours too",
                           definition=LOYAL, is_shared=True, segment=shared)  # fmt: skip
    assert (renamed.name, renamed.owner) == ("Ours too", receptionist)
    delete_segment(actor=owner, segment=shared)
    assert list(Segment.objects.all()) == [private]


def test_segment_pages_of_others_are_not_found(persona, logged_in, outsider, world, patients):
    receptionist, marketer = persona(Role.RECEPTIONIST), persona(Role.MARKETER)
    private = save_segment(actor=receptionist, branch=world.branch_a, name="Mine",
                           definition=LOYAL, is_shared=False)  # fmt: skip
    shared = save_segment(actor=receptionist, branch=world.branch_a, name="Ours",
                          definition=LOYAL, is_shared=True)  # fmt: skip
    client = logged_in(marketer)
    assert client.get(reverse("crm:segment_detail", args=[private.pk])).status_code == 404
    assert client.get(reverse("crm:segment_detail", args=[shared.pk])).status_code == 200
    assert client.get(reverse("crm:segment_edit", args=[shared.pk])).status_code == 404
    assert client.post(reverse("crm:segment_delete", args=[shared.pk])).status_code == 404
    stranger = logged_in(outsider)
    assert stranger.get(reverse("crm:segment_detail", args=[shared.pk])).status_code == 404
    assert stranger.get(reverse("crm:segment_export", args=[shared.pk])).status_code == 404
    assert Segment.objects.count() == 2


def test_the_same_name_twice_is_refused(persona, world):
    user = persona(Role.RECEPTIONIST)
    save_segment(actor=user, branch=world.branch_a, name="VIP", definition=LOYAL, is_shared=False)
    with pytest.raises(InvalidInput) as caught:
        save_segment(actor=user, branch=world.branch_a, name="VIP", definition=LOYAL,
                     is_shared=True)  # fmt: skip
    assert caught.value.errors == {"name": ["A segment with this name already exists."]}
    with pytest.raises(InvalidInput) as bad:
        save_segment(actor=user, branch=world.branch_a, name="Bad", is_shared=False,
                     definition={"match": "all", "conditions": [{"field": "x"}]})  # fmt: skip
    assert bad.value.errors == {"definition.conditions[0].field": ["Unknown field “x”."]}
    assert Segment.objects.count() == 1


def read_csv(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_segment_export_csv_is_exact_and_audited(persona, logged_in, world, patients):
    marketer = persona(Role.MARKETER)
    segment = save_segment(actor=marketer, branch=world.branch_a, name="VIP",
                           definition=LOYAL, is_shared=False)  # fmt: skip
    response = logged_in(marketer).get(
        reverse("crm:segment_export", args=[segment.pk]) + "?format=csv"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        f'attachment; filename="segment-{segment.pk}-'
    )
    assert read_csv(response) == [
        HEADER,
        ["P001", "Nguyễn", "Văn An", "Nguyễn Văn An", "1990-05-17", "Not stated",
         "+84912345678", "an@example.com", "Acme Quận 1", "Loyal / VIP", "2030-05-01", "6",
         "12500000.00", "0.00", "VND"],
        ["P002", "王", "小明", "王小明", "", "Not stated", "", "'=HYPERLINK(1)", "Acme Hà Nội",
         "Loyal / VIP", "", "1", "0.00", "0.00", "VND"],
    ]  # fmt: skip
    event = AuditEvent.objects.get(object_type="crm.segment", action="view")
    assert event.actor == marketer
    assert event.summary == "Exported 2 patients (CSV): segment “VIP”"
    assert event.changes == {
        "what": [None, "segment “VIP”"],
        "format": [None, "csv"],
        "rows": [None, 2],
    }


def test_segment_export_xlsx_reads_back(persona, logged_in, world, patients):
    owner = persona(Role.OWNER)
    segment = save_segment(actor=owner, branch=world.branch_a, name="VIP",
                           definition=LOYAL, is_shared=False)  # fmt: skip
    response = logged_in(owner).get(
        reverse("crm:segment_export", args=[segment.pk]) + "?format=xlsx"
    )
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = [list(row) for row in workbook.active.iter_rows(values_only=True)]
    assert rows[0] == HEADER
    assert rows[1][:4] == ["P001", "Nguyễn", "Văn An", "Nguyễn Văn An"]
    assert rows[1][4].date() == date(1990, 5, 17)
    assert rows[1][10].date() == date(2030, 5, 1)
    assert rows[1][11:] == [6, 12500000, 0, "VND"]
    assert rows[2][3] == "王小明" and rows[2][7] == "'=HYPERLINK(1)"
    assert len(rows) == 3


def test_export_needs_patient_export(persona, logged_in, world, patients):
    receptionist = persona(Role.RECEPTIONIST)
    segment = save_segment(actor=receptionist, branch=world.branch_a, name="VIP",
                           definition=LOYAL, is_shared=False)  # fmt: skip
    client = logged_in(receptionist)
    assert client.get(reverse("crm:segment_export", args=[segment.pk])).status_code == 404
    assert client.get(reverse("crm:patient_list_export")).status_code == 404
    assert client.post(reverse("crm:filter_export"), builder_post(format="csv")).status_code == 404
    assert not AuditEvent.objects.filter(action="view").exists()


def test_unsaved_filter_and_patient_list_exports(persona, logged_in, world, patients):
    client = logged_in(persona(Role.BRANCH_MANAGER))  # works in branch A
    filtered = client.post(reverse("crm:filter_export"), builder_post(format="csv"))
    assert [row[0] for row in read_csv(filtered)] == ["Number", "P001", "P002"]
    listed = client.get(reverse("crm:patient_list_export") + "?scope=branch&q=nguyen")
    assert [row[0] for row in read_csv(listed)] == ["Number", "P003", "P001"]  # by name
    everyone = client.get(reverse("crm:patient_list_export") + "?scope=all&format=xlsx")
    workbook = load_workbook(io.BytesIO(b"".join(everyone.streaming_content)))
    numbers = sorted(row[0] for row in workbook.active.iter_rows(min_row=2, values_only=True))
    assert numbers == ["P001", "P002", "P003"]
    bad = client.get(reverse("crm:patient_list_export") + "?format=pdf")
    assert bad.status_code == 400
    summaries = list(
        AuditEvent.objects.filter(action="view").order_by("id").values_list("summary", flat=True)
    )
    assert summaries == [
        "Exported 2 patients (CSV): filter with 1 conditions",
        "Exported 2 patients (CSV): patient list (search “nguyen”, Acme Quận 1)",
        "Exported 3 patients (XLSX): patient list (search “”, all branches)",
    ]
