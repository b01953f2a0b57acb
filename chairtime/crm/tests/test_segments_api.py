"""The segments API at /api/v1/segments: count and search with a definition, strict 422s
naming the path, saved segments private or shared, and other organisations unseen."""

from __future__ import annotations

import json
from datetime import date

import pytest

from chairtime.crm.models import Segment
from chairtime.tenancy.roles import Role
from tests.factories import PatientFactory, PatientProfileFactory

URL = "/api/v1/segments"
LOYAL = {"match": "all", "conditions": [{"field": "group", "op": "in", "value": ["loyal"]}]}


@pytest.fixture
def api(logged_in, world):
    def call(user, method, path, body=None, branch=None):
        client = logged_in(user)
        headers = {"X-Branch": str(branch or world.branch_a.pk)}
        send = getattr(client, method)
        if body is None:
            return send(URL + path, headers=headers)
        return send(
            URL + path, data=json.dumps(body), content_type="application/json", headers=headers
        )

    return call


@pytest.fixture
def patients(world):
    made = []
    for number, group, day in [("P1", "loyal", 3), ("P2", "loyal", 9), ("P3", "potential", 5)]:
        patient = PatientFactory(home_branch=world.branch_a, number=number)
        PatientProfileFactory(patient=patient, group=group, last_visit_on=date(2030, 1, day),
                              visit_count=day)  # fmt: skip
        made.append(patient)
    rival = PatientFactory(home_branch=world.rival_branch, number="R1")
    PatientProfileFactory(patient=rival, group="loyal")
    return made


def test_count_and_search(api, persona, patients):
    user = persona(Role.RECEPTIONIST)
    assert api(user, "post", "/count", {"definition": LOYAL}).json() == {"count": 2}
    answer = api(user, "post", "/search", {"definition": LOYAL, "page": 1, "page_size": 1})
    assert answer.status_code == 200
    assert answer.json() == {
        "count": 2, "page": 1, "pages": 2,
        "patients": [{
            "id": patients[1].pk, "number": "P2", "display_name": patients[1].display_name,
            "home_branch_id": patients[1].home_branch_id, "group": "loyal",
            "last_visit_on": "2030-01-09", "visit_count": 9,
        }],
    }  # fmt: skip


def test_a_bad_definition_is_422_naming_the_path(api, persona, patients):
    user = persona(Role.RECEPTIONIST)
    bad = {"match": "all", "conditions": [{"field": "visit_count", "op": "like", "value": 1}]}
    answer = api(user, "post", "/count", {"definition": bad})
    assert answer.status_code == 422
    assert answer.json() == {
        "detail": "The input is not valid.",
        "errors": {
            "conditions[0].op": [
                "“like” is not an operator of “visit_count”; use one of: "
                "eq, ne, gt, gte, lt, lte, between."
            ]
        },
    }
    assert api(user, "post", "/count", {"definition": "loyal"}).status_code == 422


def test_segments_crud_private_and_shared(api, persona, world, patients):
    owner, doctor = persona(Role.RECEPTIONIST), persona(Role.DOCTOR)
    created = api(owner, "post", "/", {"name": "VIP", "definition": LOYAL, "is_shared": False})
    assert created.status_code == 201
    segment_id = created.json()["id"]
    assert created.json()["definition"] == LOYAL
    assert api(doctor, "get", f"/{segment_id}").status_code == 404
    assert api(doctor, "get", "/").json() == []
    changed = api(owner, "put", f"/{segment_id}", {"name": "VIP", "definition": LOYAL,
                                                    "is_shared": True})  # fmt: skip
    assert changed.json()["is_shared"] is True
    assert [s["id"] for s in api(doctor, "get", "/").json()] == [segment_id]
    page = api(doctor, "get", f"/{segment_id}/patients?page=1").json()
    assert (page["count"], [p["number"] for p in page["patients"]]) == (2, ["P2", "P1"])
    # A shared segment is read by everyone, changed only by its owner or a manager.
    refused = api(doctor, "put", f"/{segment_id}", {"name": "Mine", "definition": LOYAL})
    assert refused.status_code == 404
    assert api(doctor, "delete", f"/{segment_id}").status_code == 404
    assert api(owner, "delete", f"/{segment_id}").status_code == 204
    assert not Segment.objects.exists()


def test_other_organisations_see_nothing(api, persona, outsider, world, patients):
    user = persona(Role.RECEPTIONIST)
    segment_id = api(user, "post", "/", {"name": "VIP", "definition": LOYAL,
                                         "is_shared": True}).json()["id"]  # fmt: skip
    rival = world.rival_branch.pk
    assert api(outsider, "get", f"/{segment_id}", branch=rival).status_code == 404
    assert api(outsider, "get", "/", branch=rival).json() == []
    assert api(outsider, "post", "/count", {"definition": LOYAL}, branch=rival).json() == {
        "count": 1
    }
    # Naming acme's branch is refused outright.
    assert api(outsider, "post", "/count", {"definition": LOYAL}).status_code == 404


def test_a_save_with_a_bad_definition_saves_nothing(api, persona, patients):
    user = persona(Role.RECEPTIONIST)
    bad = {"match": "all", "conditions": []}
    answer = api(user, "post", "/", {"name": "Empty", "definition": bad})
    assert answer.status_code == 422
    assert answer.json()["errors"] == {
        "definition.conditions": ["A group needs at least one condition."]
    }
    assert not Segment.objects.exists()


def test_the_openapi_schema_documents_the_definition(client):
    schema = client.get("/api/v1/openapi.json").json()
    described = json.dumps(schema["components"]["schemas"]["DefinitionIn"])
    assert "days_since_last_visit" in described and "docs/filter.md" in described
