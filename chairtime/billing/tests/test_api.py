"""The money API at /api/v1/money: who may do what (outsiders and other branches see
nothing), money as strings, and bad input answered 422 naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.accounts.models import User
from chairtime.billing.models import Invoice, Payment, PrepaidCard
from chairtime.billing.services import create_invoice, create_promotion
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.tenancy.roles import ROLE_CAPABILITIES, Capability, Role

URL = "/api/v1/money"
NOT_FOUND = {"detail": "Not found."}
INVALID = "The input is not valid."


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    yield


@pytest.fixture
def api(logged_in: Callable[[User], Client], money: Money) -> Callable[..., Any]:
    def call(
        user: User, method: str, path: str, body: object = None, branch: int | None = None
    ) -> Any:
        client = logged_in(user)
        headers = {"X-Branch": str(branch or money.branch.pk)}
        send = getattr(client, method)
        if body is None:
            return send(URL + path, headers=headers)
        return send(
            URL + path, data=json.dumps(body), content_type="application/json", headers=headers
        )

    return call


def _invoice(money: Money, price: int = 500000, branch: Any = None) -> Invoice:
    branch = branch or money.branch
    done = money.perform(price, branch=branch)
    return create_invoice(
        actor=money.owner, branch=branch, patient=done.patient, performed_ids=[done.pk], now=NOW
    )


def test_invoice_then_payment_brings_the_balance_to_zero(
    api: Callable[..., Any], money: Money
) -> None:
    done = money.perform(500000)
    made = api(
        money.receptionist,
        "post",
        "/invoices",
        {"patient": money.patient.pk, "performed_ids": [done.pk]},
    )
    assert made.status_code == 201, made.content
    invoice = made.json()
    assert (invoice["number"], invoice["total"], invoice["balance"], invoice["currency"]) == (
        "A-000001", "500000", "500000", "VND",
    )  # fmt: skip
    assert invoice["lines"][0]["amount"] == "500000"
    paid = api(money.receptionist, "post", "/payments",
               {"patient": money.patient.pk, "amount": "600000", "method": "cash"})  # fmt: skip
    assert paid.status_code == 201, paid.content
    assert (paid.json()["allocated_total"], paid.json()["unallocated"]) == ("500000", "100000")
    assert api(money.receptionist, "get", f"/invoices/{invoice['id']}").json()["balance"] == "0"
    balance = api(money.doctor, "get", f"/patients/{money.patient.pk}/balance").json()
    assert balance == {
        "patient_id": money.patient.pk, "currency": "VND", "invoiced": "500000",
        "paid": "500000", "written_off": "0", "balance": "0", "credit": "100000",
        "net": "-100000", "ageing": {"0-30": "0", "31-60": "0", "61-90": "0", "90+": "0"},
    }  # fmt: skip
    cash_up = api(money.receptionist, "get", "/cash-up?day=2030-03-15").json()
    assert (cash_up["received_total"], cash_up["invoices_issued"]) == ("600000", 1)
    assert cash_up["received"] == [
        {"method": "cash", "label": "Cash", "count": 1, "amount": "600000"}
    ]


def test_usd_amounts_keep_cents_as_strings(api: Callable[..., Any], money: Money) -> None:
    done = money.perform("12.50", branch=money.usd_branch)
    made = api(money.owner, "post", "/invoices", {"patient": money.usd_patient.pk, "performed_ids": [done.pk]},
               branch=money.usd_branch.pk)  # fmt: skip
    assert (made.json()["total"], made.json()["currency"]) == ("12.50", "USD")


def test_bad_input_is_422_naming_the_field(api: Callable[..., Any], money: Money) -> None:
    invoice = _invoice(money)
    cases = [
        ("/payments", {"patient": money.patient.pk, "amount": "10.5", "method": "cash"},
         {"amount": ["VND has no minor unit: give a whole amount."]}),
        ("/payments", {"patient": money.patient.pk, "amount": "-1", "method": "cash"},
         {"amount": ["The amount cannot be negative."]}),
        ("/payments", {"patient": 999999, "amount": "1", "method": "cash"},
         {"patient": ["No such patient."]}),
        (f"/invoices/{invoice.pk}/write-offs", {"amount": "500001", "reason": "x"},
         {"amount": ["500001 is more than the invoice's balance 500000."]}),
        ("/invoices", {"patient": money.patient.pk, "performed_ids": [],
                       "line_discounts": {}}, {"performed_ids": ["Choose at least one procedure performed."]}),
    ]  # fmt: skip
    for path, body, errors in cases:
        answer = api(money.owner, "post", path, body)
        assert (answer.status_code, answer.json()) == (
            422,
            {"detail": INVALID, "errors": errors},
        ), path
    done = money.perform(100000)
    answer = api(money.owner, "post", "/invoices", {
        "patient": money.patient.pk, "performed_ids": [done.pk],
        "line_discounts": {str(done.pk): "100001"}, "discount_reasons": {str(done.pk): "x"},
    })  # fmt: skip
    assert answer.json()["errors"] == {
        "line_discounts": ["The discount on FILL Filling (100001) is larger than its price 100000."]
    }
    payment = Payment.objects.create(
        branch=money.branch, patient=money.patient, method="cash", currency="VND",
        amount=1000, unallocated=1000, received_at=NOW, received_on=date(2030, 3, 15),
    )  # fmt: skip
    answer = api(money.owner, "post", f"/payments/{payment.pk}/refunds",
                 {"amount": "1001", "method": "cash", "reason": "x"})  # fmt: skip
    assert answer.json()["errors"] == {
        "amount": ["1001 is more than what was paid and not yet refunded (1000)."]
    }


@pytest.mark.parametrize(
    ("role", "read", "collect", "adjust"),
    [
        (Role.OWNER, 200, 201, 200),
        (Role.BRANCH_MANAGER, 200, 201, 200),
        (Role.RECEPTIONIST, 200, 201, 404),
        (Role.DOCTOR, 200, 404, 404),
        (Role.ANALYST, 200, 404, 404),
        (Role.NURSE, 404, 404, 404),
        (Role.MARKETER, 404, 404, 404),
    ],
)
def test_capabilities(
    api: Callable[..., Any], money: Money, persona: Callable[[Role], User], role: Role,
    read: int, collect: int, adjust: int,
) -> None:  # fmt: skip
    user = persona(role)
    invoice = _invoice(money)
    assert api(user, "get", f"/invoices/{invoice.pk}").status_code == read
    body = {"patient": money.patient.pk, "amount": "1000", "method": "cash", "invoice": invoice.pk}
    assert api(user, "post", "/payments", body).status_code == collect
    other = _invoice(money)
    assert api(user, "post", f"/invoices/{other.pk}/void", {"reason": "x"}).status_code == adjust


def test_outsiders_and_other_branches_see_nothing(
    api: Callable[..., Any], money: Money, outsider: User
) -> None:
    invoice = _invoice(money)
    in_b = _invoice(money, branch=money.world.branch_b)
    assert api(outsider, "get", f"/invoices/{invoice.pk}").json() == NOT_FOUND
    answer = api(outsider, "get", f"/invoices/{invoice.pk}", branch=money.world.rival_branch.pk)
    assert (answer.status_code, answer.json()) == (404, NOT_FOUND)
    # The receptionist works in A only: B's invoice, named directly or through B, is missing.
    assert api(money.receptionist, "get", f"/invoices/{in_b.pk}").status_code == 404
    assert (
        api(
            money.receptionist, "get", f"/invoices/{in_b.pk}", branch=money.world.branch_b.pk
        ).status_code
        == 404
    )
    assert (
        api(
            outsider,
            "get",
            f"/patients/{money.patient.pk}/balance",
            branch=money.world.rival_branch.pk,
        ).status_code
        == 404
    )
    answer = api(outsider, "post", "/payments", {"patient": money.patient.pk, "amount": "1", "method": "cash"},
                 branch=money.world.rival_branch.pk)  # fmt: skip
    assert answer.json()["errors"] == {"patient": ["No such patient."]}
    assert not Payment.objects.exists()


def test_promotions_prepaid_cards_and_the_lock_date(
    api: Callable[..., Any], money: Money, persona: Callable[[Role], User]
) -> None:
    body = {"code": "spring", "name": "Spring", "kind": "percent", "value": "10",
            "valid_from": "2030-03-01", "valid_until": "2030-03-31"}  # fmt: skip
    assert api(money.receptionist, "post", "/promotions", body).status_code == 404
    made = api(persona(Role.MARKETER), "post", "/promotions", body)
    assert (made.status_code, made.json()["code"], made.json()["value"]) == (201, "SPRING", "10")
    assert [p["code"] for p in api(money.receptionist, "get", "/promotions").json()] == ["SPRING"]
    sold = api(
        money.receptionist,
        "post",
        "/prepaid-cards",
        {"patient": money.patient.pk, "value": "1000000"},
    )
    assert sold.status_code == 201
    code = sold.json()["card"]["code"]
    assert (sold.json()["card"]["balance"], sold.json()["invoice"]["total"]) == (
        "1000000",
        "1000000",
    )
    looked = api(money.doctor, "get", f"/prepaid-cards/{code.lower()}")
    assert (looked.status_code, looked.json()["code"]) == (200, code)
    assert api(money.receptionist, "post", "/vouchers", {"value": "1"}).status_code == 404
    assert api(money.manager, "post", "/vouchers", {"value": "50000"}).json()["kind"] == "voucher"
    assert (
        api(money.receptionist, "put", "/lock-date", {"lock_date": "2030-02-28"}).status_code == 404
    )
    moved = api(money.manager, "put", "/lock-date", {"lock_date": "2030-02-28"})
    assert moved.json() == {"branch_id": money.branch.pk, "lock_date": "2030-02-28"}
    back = api(money.manager, "put", "/lock-date", {"lock_date": "2030-01-31"})
    assert (back.status_code, list(back.json()["errors"])) == (422, ["lock_date"])


def test_promotions_are_read_with_money_view_or_marketing_view_as_on_the_page(
    api: Callable[..., Any],
    money: Money,
    persona: Callable[[Role], User],
    logged_in: Callable[[User], Client],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A marketer who may only look at marketing (no marketing.edit, no money.view).
    looker = frozenset({Capability.BRANCH_VIEW, Capability.MARKETING_VIEW})
    monkeypatch.setitem(ROLE_CAPABILITIES, Role.MARKETER, looker)
    create_promotion(
        actor=money.owner, organization=money.world.acme, code="SPRING", name="Spring",
        kind="percent", value="10", valid_from=date(2030, 3, 1), valid_until=date(2030, 3, 31),
    )  # fmt: skip
    marketer = persona(Role.MARKETER)

    listed = api(marketer, "get", "/promotions")
    page = logged_in(marketer).get(reverse("billing:promotion_list"))
    nurse = api(persona(Role.NURSE), "get", "/promotions")

    assert (listed.status_code, [p["code"] for p in listed.json()]) == (200, ["SPRING"])
    assert page.status_code == 200
    assert (nurse.status_code, nurse.json()) == (404, NOT_FOUND)
    body = {"code": "x", "name": "X", "kind": "percent", "value": "5",
            "valid_from": "2030-03-01", "valid_until": "2030-03-31"}  # fmt: skip
    assert api(marketer, "post", "/promotions", body).status_code == 404


def test_a_receptionist_cannot_sell_a_prepaid_card_below_its_value(
    api: Callable[..., Any], money: Money
) -> None:
    body = {"patient": money.patient.pk, "value": "10000000", "price": "1000"}
    refused = api(money.receptionist, "post", "/prepaid-cards", body)
    assert (refused.status_code, refused.json()) == (
        422, {"detail": INVALID, "errors": {"price": ["You may not sell a card below its value."]}},
    )  # fmt: skip
    assert not PrepaidCard.objects.exists() and not Invoice.objects.exists()
    no_reason = api(money.manager, "post", "/prepaid-cards", body)
    assert (no_reason.status_code, no_reason.json()["errors"]) == (
        422, {"discount_reason": ["Give a reason."]},
    )  # fmt: skip
    sold = api(money.manager, "post", "/prepaid-cards", {**body, "discount_reason": "Staff"})
    assert sold.status_code == 201
    invoice = sold.json()["invoice"]
    assert (invoice["subtotal"], invoice["discount_total"], invoice["total"]) == (
        "10000000", "9999000", "1000",
    )  # fmt: skip
    [line] = invoice["lines"]
    assert (line["unit_price"], line["discount"], line["discount_reason"], line["amount"]) == (
        "10000000", "9999000", "Staff", "1000",
    )  # fmt: skip
    assert sold.json()["card"]["balance"] == "10000000"


def test_a_zero_line_discount_needs_no_capability(api: Callable[..., Any], money: Money) -> None:
    done = money.perform(500000)
    body = {"patient": money.patient.pk, "performed_ids": [done.pk],
            "line_discounts": {str(done.pk): "0"}}  # fmt: skip
    made = api(money.receptionist, "post", "/invoices", body)
    assert (made.status_code, made.json()["total"], made.json()["discount_total"]) == (
        201, "500000", "0",
    )  # fmt: skip
    other = money.perform(500000)
    refused = api(money.receptionist, "post", "/invoices", {
        "patient": money.patient.pk, "performed_ids": [other.pk],
        "line_discounts": {str(other.pk): "1"}, "discount_reasons": {str(other.pk): "x"},
    })  # fmt: skip
    assert (refused.status_code, refused.json()["errors"]) == (
        422, {"line_discounts": ["You may not give discounts on invoices."]},
    )  # fmt: skip
