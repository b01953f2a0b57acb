"""Promotion codes, packages (credits redeemed at no charge) and clubs (a discount while a
membership lasts), in the order the discounts apply."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chairtime.audit.models import AuditEvent
from chairtime.billing.models import (
    Club,
    ClubMembership,
    Invoice,
    InvoiceStatus,
    Package,
    PackageCredit,
    PackageItem,
    Promotion,
)
from chairtime.billing.services import (
    create_invoice,
    create_promotion,
    sell_club_membership,
    sell_package,
    void_invoice,
)
from chairtime.billing.tests.conftest import NOW, Money
from chairtime.core.errors import Conflict, InvalidInput

D = Decimal


def _promotion(money: Money, code: str = "SPRING", **fields: object) -> Promotion:
    values: dict[str, object] = {
        "organization": money.world.acme, "code": code, "name": "Spring smile",
        "kind": "percent", "value": "10", "valid_from": date(2030, 3, 1),
        "valid_until": date(2030, 3, 31),
    }  # fmt: skip
    values.update(fields)
    return create_promotion(actor=money.owner, **values)  # type: ignore[arg-type]


def _invoice_with_code(money: Money, code: str, *prices: int) -> object:
    ids = [money.perform(price).pk for price in prices]
    return create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=ids, promotion_code=code, now=NOW,
    )  # fmt: skip


def test_percent_code_any_case_applies_per_line_rounded_half_up(money: Money) -> None:
    promotion = _promotion(money, "spring", value="12.5")
    assert promotion.code == "SPRING"
    invoice = _invoice_with_code(money, " Spring ", 333333, 100000)
    lines = list(invoice.lines.order_by("position"))  # type: ignore[attr-defined]
    # 12.5% of 333333 = 41666.625 → 41667; of 100000 = 12500
    assert [(line.discount, line.amount) for line in lines] == [
        (D("41667"), D("291666")), (D("12500"), D("87500")),
    ]  # fmt: skip
    assert lines[0].discount_reason == "Promotion SPRING"
    assert (invoice.total, invoice.promotion) == (D("379166"), promotion)  # type: ignore[attr-defined]
    promotion.refresh_from_db()
    assert promotion.uses_count == 1


def test_fixed_amount_spreads_over_lines_in_order(money: Money) -> None:
    _promotion(money, "GIFT", kind="amount", value="250000", currency="VND")
    invoice = _invoice_with_code(money, "gift", 200000, 100000, 100000)
    assert [line.amount for line in invoice.lines.order_by("position")] == [  # type: ignore[attr-defined]
        D("0"), D("50000"), D("100000"),
    ]  # fmt: skip


def test_codes_refused_with_the_reason(money: Money) -> None:
    _promotion(money, "USED", max_uses=1)
    _invoice_with_code(money, "USED", 100000)
    _promotion(money, "LATER", valid_from=date(2030, 4, 1), valid_until=date(2030, 4, 30))
    _promotion(money, "OLD", valid_from=date(2030, 1, 1), valid_until=date(2030, 3, 14))
    _promotion(money, "DOLLARS", kind="amount", value="10", currency="USD")
    cases = {
        "NOPE": "No such promotion code.",
        "USED": "This promotion code has been used up.",
        "LATER": "This promotion code is valid from 2030-04-01.",
        "OLD": "This promotion code ended on 2030-03-14.",
        "DOLLARS": "This promotion code is an amount in USD, not VND.",
    }
    for code, message in cases.items():
        with pytest.raises(InvalidInput) as caught:
            _invoice_with_code(money, code, 100000)
        assert caught.value.errors == {"promotion_code": [message]}
    assert Promotion.objects.get(code="USED").uses_count == 1


def test_creating_a_promotion_checks_its_fields(money: Money) -> None:
    with pytest.raises(InvalidInput) as caught:
        _promotion(
            money, "BAD CODE!", name=" ", kind="gift", valid_until=date(2030, 2, 1), max_uses=0
        )
    assert caught.value.errors == {
        "code": ["Give a code of up to 30 letters, digits, - or _."],
        "name": ["Give the promotion a name."],
        "kind": ["Choose a percentage or a fixed amount."],
        "valid_until": ["The end comes before the start."],
        "max_uses": ["Give at least one use, or leave it empty."],
    }
    with pytest.raises(InvalidInput) as caught:
        _promotion(money, value="101")
    assert caught.value.errors == {"value": ["A percentage is at most 100."]}
    with pytest.raises(InvalidInput) as caught:
        _promotion(money, kind="amount", value="10.5", currency="VND")
    assert caught.value.errors == {"value": ["VND has no minor unit: give a whole amount."]}
    with pytest.raises(InvalidInput) as caught:
        _promotion(money, kind="amount", value="10", currency="XXQ")
    assert caught.value.errors == {"currency": ["Give the currency of the amount."]}
    _promotion(money, "TAKEN")
    with pytest.raises(Conflict) as conflict:
        _promotion(money, "taken")
    assert conflict.value.errors == {"code": ["This code is already used."]}


def _package(money: Money) -> Package:
    package = Package.objects.create(
        branch=money.branch, code="CLEAN6", name="Six cleanings", price=D("1500000"), valid_days=365
    )
    PackageItem.objects.create(package=package, procedure=money.cleaning, quantity=6)
    return package


def test_package_credit_makes_the_procedure_free_and_comes_back_on_void(money: Money) -> None:
    sale = sell_package(
        actor=money.receptionist,
        branch=money.branch,
        patient=money.patient,
        package=_package(money),
        now=NOW,
    )
    assert (sale.total, sale.lines.get().kind) == (D("1500000"), "package")
    credit = PackageCredit.objects.get()
    assert (credit.quantity_total, credit.quantity_used, credit.expires_on) == (
        6,
        0,
        date(2031, 3, 15),
    )
    cleaning = money.perform(400000, procedure=money.cleaning)
    filling = money.perform(500000)
    invoice = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[cleaning.pk, filling.pk], now=NOW,
    )  # fmt: skip
    free = invoice.lines.get(performed=cleaning)
    assert (free.amount, free.discount_reason, free.package_credit) == (
        D("0"),
        "Package: Six cleanings",
        credit,
    )
    assert invoice.total == D("500000")
    credit.refresh_from_db()
    assert credit.quantity_used == 1
    void_invoice(actor=money.manager, invoice=invoice, reason="Typo", now=NOW)
    credit.refresh_from_db()
    assert credit.quantity_used == 0


def test_voiding_an_unused_package_sale_withdraws_its_credits(money: Money) -> None:
    sale = sell_package(
        actor=money.receptionist,
        branch=money.branch,
        patient=money.patient,
        package=_package(money),
        now=NOW,
    )
    void_invoice(actor=money.manager, invoice=sale, reason="Changed mind", now=NOW)
    credit = PackageCredit.objects.get()
    assert (credit.quantity_total, credit.quantity_used) == (0, 0)
    invoice = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform(400000, procedure=money.cleaning).pk], now=NOW,
    )  # fmt: skip
    assert invoice.total == D("400000")


def test_a_used_package_cannot_be_voided(money: Money) -> None:
    sale = sell_package(
        actor=money.receptionist,
        branch=money.branch,
        patient=money.patient,
        package=_package(money),
        now=NOW,
    )
    create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform(400000, procedure=money.cleaning).pk], now=NOW,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        void_invoice(actor=money.manager, invoice=sale, reason="x", now=NOW)
    assert caught.value.errors == {"invoice": ["Credits of this package were already used."]}


def test_club_discount_while_the_membership_lasts_then_promotion(money: Money) -> None:
    club = Club.objects.create(
        branch=money.branch, name="Smile club", fee=D("1200000"), duration_months=12,
        discount_percent=D("15"),
    )  # fmt: skip
    sale = sell_club_membership(
        actor=money.receptionist, branch=money.branch, patient=money.patient, club=club,
        starts_on=date(2030, 1, 31), now=NOW,
    )  # fmt: skip
    membership = ClubMembership.objects.get()
    assert (sale.total, membership.starts_on, membership.ends_on) == (
        D("1200000"), date(2030, 1, 31), date(2031, 1, 30),
    )  # fmt: skip
    _promotion(money, "TEN", value="10")
    invoice = _invoice_with_code(money, "TEN", 1000000)
    line = invoice.lines.get()  # type: ignore[attr-defined]
    # 15% off 1,000,000 = 150,000; then 10% of 850,000 = 85,000
    assert (line.discount, line.amount) == (D("235000"), D("765000"))
    assert line.discount_reason == "Club: Smile club (15%); Promotion TEN"


def _events(object_type: str, object_id: int) -> list[tuple[str, dict[str, list[object]]]]:
    rows = AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id))
    return [(e.action, e.changes) for e in rows.order_by("pk")]


def _smile_club(money: Money) -> Club:
    return Club.objects.create(
        branch=money.branch, name="Smile club", fee=D("1000000"),
        discount_percent=D("20"), duration_months=12,
    )  # fmt: skip


def test_a_club_sale_whose_discount_was_used_cannot_be_voided(money: Money) -> None:
    sale = sell_club_membership(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        club=_smile_club(money), now=NOW,
    )  # fmt: skip
    membership = ClubMembership.objects.get()
    implant = create_invoice(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        performed_ids=[money.perform(50000000).pk], now=NOW,
    )  # fmt: skip
    line = implant.lines.get()
    assert (line.discount, line.club_membership) == (D("10000000"), membership)
    with pytest.raises(InvalidInput) as caught:
        void_invoice(actor=money.manager, invoice=sale, reason="Changed mind", now=NOW)
    assert caught.value.errors == {
        "invoice": [f"The discount of this club membership was already used on {implant.number}."]
    }
    assert Invoice.objects.get(pk=sale.pk).status == InvoiceStatus.OPEN
    assert ClubMembership.objects.get() == membership
    # Once the invoice that used it is void, the membership is unused again.
    void_invoice(actor=money.manager, invoice=implant, reason="Wrong patient", now=NOW)
    void_invoice(actor=money.manager, invoice=sale, reason="Changed mind", now=NOW)
    assert not ClubMembership.objects.exists()
    line.refresh_from_db()
    assert (line.is_void, line.club_membership, line.discount_reason) == (
        True, None, "Club: Smile club (20%)",
    )  # fmt: skip


def test_selling_and_withdrawing_a_club_membership_is_audited(money: Money) -> None:
    sale = sell_club_membership(
        actor=money.receptionist, branch=money.branch, patient=money.patient,
        club=_smile_club(money), now=NOW,
    )  # fmt: skip
    membership = ClubMembership.objects.get()
    dates = {"starts_on": [None, "2030-03-15"], "ends_on": [None, "2031-03-14"]}
    assert _events("billing.clubmembership", membership.pk) == [
        ("create", {"club": [None, membership.club_id], **dates}),
    ]
    void_invoice(actor=money.manager, invoice=sale, reason="Changed mind", now=NOW)
    withdrawn = {"club": [membership.club_id, None], "starts_on": ["2030-03-15", None],
                 "ends_on": ["2031-03-14", None]}  # fmt: skip
    assert _events("billing.clubmembership", membership.pk)[1:] == [("delete", withdrawn)]


def test_selling_and_withdrawing_package_credits_is_audited(money: Money) -> None:
    package = _package(money)
    PackageItem.objects.create(package=package, procedure=money.filling, quantity=1)
    sale = sell_package(
        actor=money.receptionist, branch=money.branch, patient=money.patient, package=package,
        now=NOW,
    )  # fmt: skip
    credits = list(PackageCredit.objects.order_by("pk"))
    assert [_events("billing.packagecredit", c.pk) for c in credits] == [
        [("create", {"procedure": [None, c.procedure_id], "quantity_total": [None, quantity],
                     "expires_on": [None, "2031-03-15"]})]
        for c, quantity in zip(credits, (6, 1), strict=True)
    ]  # fmt: skip
    void_invoice(actor=money.manager, invoice=sale, reason="Changed mind", now=NOW)
    assert [_events("billing.packagecredit", c.pk)[1:] for c in credits] == [
        [("update", {"quantity_total": [6, 0]})], [("update", {"quantity_total": [1, 0]})],
    ]  # fmt: skip
