"""The filter definition: strict validation with paths and reasons, and every field
compiling to exactly the expected patients."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chairtime.billing.models import Invoice
from chairtime.core.errors import InvalidInput
from chairtime.crm.duplicates.services import merge_patients
from chairtime.crm.segments.filters import consent_bit, parse_definition
from chairtime.crm.segments.selectors import evaluate, matching_profiles
from chairtime.patients.choices import PatientStatus
from chairtime.tenancy.roles import Role
from tests.factories import (
    ChannelFactory,
    PatientFactory,
    PatientProfileFactory,
    TagFactory,
    UserFactory,
)

# 12:00 in Ho Chi Minh City on 15 June 2030: the branch's today.
NOW = datetime(2030, 6, 15, 5, 0, tzinfo=UTC)
TODAY = date(2030, 6, 15)


def errors_of(data: object) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        parse_definition(data)
    return caught.value.errors


def one(condition: dict) -> dict:
    return {"match": "all", "conditions": [condition]}


# --- validation ----------------------------------------------------------------------------
def test_accepts_the_documented_example_and_keeps_its_normal_form():
    data = {
        "match": "all",
        "conditions": [
            {"field": "group", "op": "in", "value": ["loyal", "potential"]},
            {"field": "days_since_last_visit", "op": "gte", "value": 180},
            {"match": "any", "conditions": [
                {"field": "spend", "op": "gte", "value": "1000000", "window": "365d"},
                {"field": "tags", "op": "any", "value": [3]},
            ]},
        ],
    }  # fmt: skip
    definition = parse_definition(data)
    assert definition.count_conditions() == 4
    assert definition.to_json() == data


def test_refuses_an_unknown_field_naming_its_path():
    assert errors_of(one({"field": "shoe_size", "op": "eq", "value": 42})) == {
        "conditions[0].field": ["Unknown field “shoe_size”."]
    }


def test_refuses_an_operator_the_field_does_not_have():
    assert errors_of(one({"field": "group", "op": "gte", "value": ["loyal"]})) == {
        "conditions[0].op": ["“gte” is not an operator of “group”; use one of: in, not_in."]
    }


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "visit_count", "op": "gte", "value": "3"}, "Expected a whole number."),
        ({"field": "visit_count", "op": "gte", "value": True}, "Expected a whole number."),
        ({"field": "visit_count", "op": "gte", "value": -1}, "Expected a whole number from 0."),
        ({"field": "last_visit_on", "op": "lt", "value": "31/12/2029"},
         "Expected a date (YYYY-MM-DD)."),
        ({"field": "balance", "op": "gt", "value": "lots"},
         "Expected an amount, e.g. 150000 or \"12.50\"."),
        ({"field": "balance", "op": "gt", "value": "1.234"},
         "Expected an amount, e.g. 150000 or \"12.50\"."),
        ({"field": "group", "op": "in", "value": "loyal"}, "Expected a non-empty list."),
        ({"field": "group", "op": "in", "value": []}, "Expected a non-empty list."),
        ({"field": "has_future_booking", "op": "is", "value": "yes"}, "Expected true or false."),
        ({"field": "age", "op": "between", "value": [40]},
         "Expected a list of two values: [from, to]."),
        ({"field": "age", "op": "between", "value": [40, 30]},
         "The first value is larger than the second."),
        ({"field": "consent", "op": "granted", "value": "sms"},
         "Expected {“channel”: …, “purpose”: …}."),
        ({"field": "tags", "op": "any", "value": ["vip"]}, "Expected a whole number."),
    ],
)  # fmt: skip
def test_refuses_a_value_of_the_wrong_type(condition, message):
    assert errors_of(one(condition)) == {"conditions[0].value": [message]}


def test_refuses_a_bad_choice_listing_the_good_ones():
    condition = {"field": "treatment_status", "op": "in", "value": ["consulted", "cured"]}
    assert errors_of(one(condition)) == {
        "conditions[0].value": [
            "“cured” is not one of: nothing_planned, consulted, in_treatment, completed."
        ]
    }
    consent = {
        "field": "consent",
        "op": "granted",
        "value": {"channel": "fax", "purpose": "service"},
    }
    assert errors_of(one(consent)) == {
        "conditions[0].value": ["“fax” is not one of: sms, email, phone, zalo, wechat, whatsapp."]
    }
    month = {"field": "birthday_month", "op": "in", "value": [13]}
    assert errors_of(one(month))["conditions[0].value"][0].startswith("“13” is not one of: 1, 2,")


def test_refuses_a_bad_spend_window_and_a_window_on_another_field():
    spend = {"field": "spend", "op": "gte", "value": 1, "window": "30d"}
    assert errors_of(one(spend)) == {
        "conditions[0].window": ["Use one of 90d, 365d, rfm, all or {“from”: date, “to”: date}."]
    }
    backwards = {**spend, "window": {"from": "2030-02-01", "to": "2030-01-01"}}
    assert errors_of(one(backwards)) == {
        "conditions[0].window": ["The window starts after it ends."]
    }
    visits = {"field": "visit_count", "op": "gte", "value": 1, "window": "90d"}
    assert errors_of(one(visits)) == {"conditions[0].window": ["Only spend takes a window."]}


def test_refuses_nesting_deeper_than_three_with_the_path_of_the_group():
    leaf = {"field": "visit_count", "op": "gte", "value": 1}
    three = {"match": "all", "conditions": [{"match": "any", "conditions": [
        {"match": "all", "conditions": [leaf]}]}]}  # fmt: skip
    assert parse_definition(three).count_conditions() == 1
    four = {"match": "all", "conditions": [{"match": "any", "conditions": [
        leaf, {"match": "all", "conditions": [{"match": "any", "conditions": [leaf]}]}]}]}  # fmt: skip
    assert errors_of(four) == {
        "conditions[0].conditions[1].conditions[0]": ["Groups nest at most 3 deep."]
    }


def test_refuses_an_empty_group_and_a_bad_match():
    assert errors_of({"match": "all", "conditions": []}) == {
        "conditions": ["A group needs at least one condition."]
    }
    nested = {"match": "all", "conditions": [{"match": "either", "conditions": []}]}
    assert errors_of(nested) == {
        "conditions[0].match": ["Use “all” or “any”."],
        "conditions[0].conditions": ["A group needs at least one condition."],
    }


def test_refuses_more_than_fifty_conditions():
    leaf = {"field": "visit_count", "op": "gte", "value": 1}
    assert parse_definition({"match": "all", "conditions": [leaf] * 50})
    assert errors_of({"match": "all", "conditions": [leaf] * 51}) == {
        "conditions": ["A filter has at most 50 conditions."]
    }


def test_refuses_what_is_not_a_definition_and_unknown_keys():
    assert errors_of([1, 2]) == {
        "definition": ["Expected an object with “match” and “conditions”."]
    }
    assert errors_of({"match": "all", "conditions": "all"}) == {
        "conditions": ["Expected a list of conditions."]
    }
    extra = one({"field": "visit_count", "op": "gte", "value": 1, "unit": "visits"})
    assert errors_of(extra) == {"conditions[0].unit": ["Unknown key."]}
    assert errors_of(one({"field": "visit_count", "op": "gte"})) == {
        "conditions[0].value": ["A value is required."]
    }
    assert errors_of(one("visit_count >= 1")) == {
        "conditions[0]": ["Expected a condition or a group."]
    }


def test_reports_every_bad_condition_at_once():
    data = {"match": "all", "conditions": [
        {"field": "visit_count", "op": "gte", "value": 1},
        {"field": "nope", "op": "eq", "value": 1},
        {"match": "any", "conditions": [{"field": "group", "op": "in", "value": ["vip"]}]},
    ]}  # fmt: skip
    assert errors_of(data) == {
        "conditions[1].field": ["Unknown field “nope”."],
        "conditions[2].conditions[0].value": [
            "“vip” is not one of: loyal, potential, low_value, negative."
        ],
    }


# --- compilation: every field selects exactly its patients ------------------------------------
@pytest.fixture
def make(world):
    def profile(name: str, branch=None, **values):
        patient = PatientFactory(
            home_branch=branch or world.branch_a, given_name=name,
            birth_date=values.pop("patient_birth_date", None),
        )  # fmt: skip
        return PatientProfileFactory(patient=patient, **values).patient

    return profile


def selected(world, data: dict, branch=None) -> set[str]:
    definition = parse_definition(data)
    profiles = matching_profiles(definition, branch=branch or world.branch_a, now=NOW)
    return set(profiles.values_list("patient__given_name", flat=True))


def test_group_and_treatment_status(world, make):
    make("loyal", group="loyal", treatment_status="completed")
    make("potential", group="potential", treatment_status="consulted")
    make("negative", group="negative", treatment_status="in_treatment")
    assert selected(world, one({"field": "group", "op": "in", "value": ["loyal", "negative"]})) == {
        "loyal", "negative"
    }  # fmt: skip
    assert selected(world, one({"field": "group", "op": "not_in", "value": ["loyal"]})) == {
        "potential", "negative"
    }  # fmt: skip
    status = {"field": "treatment_status", "op": "in", "value": ["consulted"]}
    assert selected(world, one(status)) == {"potential"}


def test_last_visit_and_days_since_compare_dates_from_the_branch_today(world, make):
    make("never")
    make("today", last_visit_on=TODAY)
    make("180 days", last_visit_on=date(2029, 12, 17))  # 180 days before 15 June 2030
    make("181 days", last_visit_on=date(2029, 12, 16))
    days = {"field": "days_since_last_visit", "op": "gte", "value": 180}
    assert selected(world, one(days)) == {"180 days", "181 days"}
    assert selected(world, one({**days, "op": "gt"})) == {"181 days"}
    assert selected(world, one({**days, "op": "lt"})) == {"today"}
    assert selected(world, one({**days, "op": "eq"})) == {"180 days"}
    assert selected(world, one({**days, "op": "ne"})) == {"today", "181 days"}
    assert selected(world, one({**days, "op": "between", "value": [0, 180]})) == {
        "today", "180 days"
    }  # fmt: skip
    before = {"field": "last_visit_on", "op": "lt", "value": "2029-12-17"}
    assert selected(world, one(before)) == {"181 days"}
    assert selected(world, one({"field": "last_visit_on", "op": "is_set", "value": False})) == {
        "never"
    }


def test_visit_count_balance_and_rates(world, make):
    make("none", visit_count=0, balance=Decimal("0"))
    make("few", visit_count=2, balance=Decimal("150000.50"), no_show_rate=50, on_time_rate=100)
    make("many", visit_count=9, balance=Decimal("-20000"), no_show_rate=0, on_time_rate=60)
    assert selected(world, one({"field": "visit_count", "op": "gte", "value": 2})) == {
        "few",
        "many",
    }
    assert selected(world, one({"field": "visit_count", "op": "between", "value": [1, 5]})) == {
        "few"
    }
    assert selected(world, one({"field": "balance", "op": "gt", "value": "150000"})) == {"few"}
    assert selected(world, one({"field": "balance", "op": "lt", "value": 0})) == {"many"}
    assert selected(world, one({"field": "no_show_rate", "op": "gte", "value": 25})) == {"few"}
    assert selected(world, one({"field": "no_show_rate", "op": "is_set", "value": False})) == {
        "none"
    }
    assert selected(world, one({"field": "on_time_rate", "op": "lt", "value": 80})) == {"many"}


def test_spend_in_every_window(world, make):
    big = make("big", spend_total=Decimal("9000000"), spend_365d=Decimal("100"),
               window_spend=Decimal("5000000"))  # fmt: skip
    small = make("small", spend_total=Decimal("100000"), spend_365d=Decimal("100000"))
    make("nothing")
    spend = {"field": "spend", "op": "gte", "value": "1000000"}
    assert selected(world, one({**spend, "window": "all"})) == {"big"}
    assert selected(world, one(spend)) == {"big"}  # "all" when no window is given
    assert selected(world, one({**spend, "op": "gte", "value": 1000, "window": "365d"})) == {
        "small"
    }
    assert selected(world, one({**spend, "window": "rfm"})) == {"big"}

    def invoice(patient, day: date, total: str, status: str = "paid") -> None:
        Invoice.objects.create(
            branch=world.branch_a, patient=patient, number=f"INV-{Invoice.objects.count()}",
            currency="VND", issued_at=NOW, issued_on=day, due_on=day, status=status,
            total=Decimal(total),
        )  # fmt: skip

    invoice(big, date(2030, 5, 1), "700000")  # in the last 90 days
    invoice(big, date(2030, 3, 1), "400000")  # 106 days before: outside 90 days
    invoice(small, date(2030, 6, 1), "300000")
    invoice(small, date(2030, 6, 2), "900000", status="void")  # void invoices never count
    ninety = {"field": "spend", "op": "gte", "value": 500000, "window": "90d"}
    assert selected(world, one(ninety)) == {"big"}
    # Below a figure keeps patients who spent nothing at all in the window.
    assert selected(world, one({**ninety, "op": "lt"})) == {"small", "nothing"}
    assert selected(world, one({**ninety, "op": "eq", "value": 0})) == {"nothing"}
    dated = {"field": "spend", "op": "between", "value": [1000000, 2000000],
             "window": {"from": "2030-01-01", "to": "2030-06-15"}}  # fmt: skip
    assert selected(world, one(dated)) == {"big"}


def test_source_channel_referrer_and_preferred_doctor(world, make):
    web = ChannelFactory(organization=world.acme, name="Website")
    flyer = ChannelFactory(organization=world.acme, name="Flyer")
    doctor, nurse = UserFactory(), UserFactory()
    friend = make("friend")
    make("web", source_channel=web, preferred_doctor=doctor, referrer_kind="patient",
         referred_by_patient=friend)  # fmt: skip
    make("flyer", source_channel=flyer, referrer_kind="staff", referred_by_staff=nurse)
    channel = {"field": "source_channel", "op": "in", "value": [web.pk]}
    assert selected(world, one(channel)) == {"web"}
    assert selected(world, one({**channel, "op": "not_in"})) == {"friend", "flyer"}
    assert selected(world, one({"field": "source_channel", "op": "is_set", "value": False})) == {
        "friend"
    }
    kind = {"field": "referrer_kind", "op": "in", "value": ["patient", "staff"]}
    assert selected(world, one(kind)) == {"web", "flyer"}
    by_patient = {"field": "referred_by_patient", "op": "in", "value": [friend.pk]}
    assert selected(world, one(by_patient)) == {"web"}
    assert selected(
        world, one({"field": "referred_by_staff", "op": "in", "value": [nurse.pk]})
    ) == {"flyer"}
    doctor_is = {"field": "preferred_doctor", "op": "in", "value": [doctor.pk]}
    assert selected(world, one(doctor_is)) == {"web"}


def test_tags_any_all_none(world, make):
    vip, ortho = TagFactory(organization=world.acme), TagFactory(organization=world.acme)
    both, only_vip, plain = make("both"), make("vip"), make("plain")
    both.tags.add(vip, ortho)
    only_vip.tags.add(vip)
    tags = {"field": "tags", "value": [vip.pk, ortho.pk]}
    assert selected(world, one({**tags, "op": "any"})) == {"both", "vip"}
    assert selected(world, one({**tags, "op": "all"})) == {"both"}
    assert selected(world, one({**tags, "op": "none"})) == {plain.given_name}


def test_age_uses_birth_dates_around_the_birthday(world, make):
    make("turns 30 today", patient_birth_date=date(2000, 6, 15))
    make("30 tomorrow", patient_birth_date=date(2000, 6, 16))  # still 29
    make("unknown")
    make("leap", patient_birth_date=date(2000, 2, 29))  # 30
    age = {"field": "age", "op": "gte", "value": 30}
    assert selected(world, one(age)) == {"turns 30 today", "leap"}
    assert selected(world, one({**age, "op": "eq", "value": 29})) == {"30 tomorrow"}
    assert selected(world, one({**age, "op": "lt", "value": 30})) == {"30 tomorrow"}
    assert selected(world, one({**age, "op": "between", "value": [29, 30]})) == {
        "turns 30 today", "30 tomorrow", "leap"
    }  # fmt: skip
    assert selected(world, one({**age, "op": "ne", "value": 30})) == {"30 tomorrow"}


def test_birthday_month(world, make):
    make("june", patient_birth_date=date(1990, 6, 1))
    make("july", patient_birth_date=date(1991, 7, 1))
    month = {"field": "birthday_month", "op": "in", "value": [6, 12]}
    assert selected(world, one(month)) == {"june"}


def test_consent_per_channel_and_purpose(world, make):
    sms_marketing = consent_bit("sms", "marketing")
    zalo_service = consent_bit("zalo", "service")
    make("sms", consent_bits=sms_marketing)
    make("both", consent_bits=sms_marketing | zalo_service)
    make("none", consent_bits=0)
    assert sms_marketing == 1 << 1 and zalo_service == 1 << 6
    granted = {
        "field": "consent",
        "op": "granted",
        "value": {"channel": "sms", "purpose": "marketing"},
    }
    assert selected(world, one(granted)) == {"sms", "both"}
    assert selected(world, one({**granted, "op": "not_granted"})) == {"none"}
    zalo = {**granted, "value": {"channel": "zalo", "purpose": "service"}}
    assert selected(world, one(zalo)) == {"both"}


def test_home_branch_recall_ladder_and_future_booking(world, make):
    make("a overdue", recall_due_on=date(2030, 6, 14), ladder_tier="flagship",
         next_appointment_at=datetime(2030, 6, 20, 2, tzinfo=UTC))  # fmt: skip
    make("b due soon", branch=world.branch_b, recall_due_on=date(2030, 6, 25),
         next_appointment_at=datetime(2030, 6, 1, 2, tzinfo=UTC))  # fmt: skip
    make("a no recall", ladder_tier="experience")
    home = {"field": "home_branch", "op": "in", "value": [world.branch_b.pk]}
    assert selected(world, one(home)) == {"b due soon"}
    assert selected(world, one({"field": "recall_due", "op": "overdue", "value": True})) == {
        "a overdue"
    }
    within = {"field": "recall_due", "op": "within_days", "value": 10}
    assert selected(world, one(within)) == {"b due soon"}
    assert selected(world, one({**within, "value": 9})) == set()
    recall_range = {"field": "recall_due", "op": "between", "value": ["2030-06-01", "2030-06-30"]}
    assert selected(world, one(recall_range)) == {"a overdue", "b due soon"}
    tier = {"field": "ladder_tier", "op": "in", "value": ["flagship", ""]}
    assert selected(world, one(tier)) == {"a overdue", "b due soon"}
    booked = {"field": "has_future_booking", "op": "is", "value": True}
    assert selected(world, one(booked)) == {"a overdue"}  # b's booking is in the past
    assert selected(world, one({**booked, "value": False})) == {"b due soon", "a no recall"}


def test_and_or_nesting(world, make):
    make("loyal many", group="loyal", visit_count=10)
    make("loyal few", group="loyal", visit_count=1)
    make("negative many", group="negative", visit_count=10, balance=Decimal("500"))
    make("potential", group="potential", visit_count=0)
    data = {"match": "any", "conditions": [
        {"match": "all", "conditions": [
            {"field": "group", "op": "in", "value": ["loyal"]},
            {"field": "visit_count", "op": "gte", "value": 5},
        ]},
        {"match": "all", "conditions": [
            {"field": "group", "op": "in", "value": ["negative"]},
            {"match": "any", "conditions": [
                {"field": "balance", "op": "gt", "value": 0},
                {"field": "visit_count", "op": "eq", "value": 0},
            ]},
        ]},
    ]}  # fmt: skip
    assert selected(world, data) == {"loyal many", "negative many"}
    data["match"] = "all"
    assert selected(world, data) == set()


def test_other_organisations_and_merged_patients_never_match(world, make, persona):
    survivor = make("acme")
    make("rival", branch=world.rival_branch)
    merged = make("merged")
    owner = persona(Role.OWNER)
    merge_patients(actor=owner, survivor=survivor, merged=merged, reason="same person")
    assert type(merged).objects.get(pk=merged.pk).status == PatientStatus.MERGED
    everyone = one({"field": "visit_count", "op": "gte", "value": 0})
    assert selected(world, everyone) == {"acme"}
    assert selected(world, everyone, branch=world.rival_branch) == {"rival"}


def test_evaluate_counts_and_pages_by_most_recent_visit(world, make):
    for day in range(1, 8):
        make(f"visit {day}", last_visit_on=date(2030, 6, day))
    make("never")
    definition = parse_definition(one({"field": "visit_count", "op": "gte", "value": 0}))
    first = evaluate(definition, branch=world.branch_a, page_size=3, now=NOW)
    assert first.count == 8 and first.pages == 3
    assert [p.given_name for p in first.patients] == ["visit 7", "visit 6", "visit 5"]
    last = evaluate(definition, branch=world.branch_a, page=3, page_size=3, now=NOW)
    assert [p.given_name for p in last.patients] == ["visit 1", "never"]
    assert last.patients[0].profile.last_visit_on == date(2030, 6, 1)
    beyond = evaluate(definition, branch=world.branch_a, page=9, page_size=3, now=NOW)
    assert (beyond.page, beyond.count) == (3, 8)
    assert [p.given_name for p in beyond.patients] == ["visit 1", "never"]


@pytest.mark.parametrize("quick", [0.0, 1e9], ids=["index-walk", "sort"])
def test_a_rare_or_a_common_segment_pages_in_the_same_order(world, make, monkeypatch, quick):
    """SQLite walks the last-visit index after a slow count and sorts after a quick one;
    either way (and PostgreSQL's one pass), the same patients in the same order."""
    from chairtime.crm.segments import selectors

    monkeypatch.setattr(selectors, "_QUICK_COUNT_SECONDS", quick)
    for day in (3, 1, 2):
        make(f"visit {day}", last_visit_on=date(2030, 6, day), visit_count=2)
    make("tie a", last_visit_on=date(2030, 6, 2), visit_count=2)
    make("never")
    definition = parse_definition(one({"field": "visit_count", "op": "gte", "value": 1}))
    page = evaluate(definition, branch=world.branch_a, page_size=3, now=NOW)
    assert page.count == 4
    second = evaluate(definition, branch=world.branch_a, page=2, page_size=3, now=NOW)
    names = [p.given_name for p in page.patients + second.patients]
    assert names == ["visit 3", "visit 2", "tie a", "visit 1"]  # a tie: the older record first
    empty = parse_definition(one({"field": "visit_count", "op": "gte", "value": 50}))
    none = evaluate(empty, branch=world.branch_a, page=4, now=NOW)
    assert (none.count, none.page, none.patients) == (0, 1, [])
