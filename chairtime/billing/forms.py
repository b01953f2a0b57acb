"""Forms of the money pages: invoice, take a payment, refund, allocate, write off, void,
instalments, sales, promotions, vouchers and the lock date.

They check what a page sends: that an amount is a number the currency can hold ("12.5" in
VND is refused, never rounded), that a payment, plan or package is this patient's and this
branch's. Whether the money may move (balances, the lock date) is the billing services'
question; their refusals come back beside the field they name (`add_service_errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import F
from django.forms.boundfield import BoundField
from django.utils.translation import gettext_lazy as _

from chairtime.billing.models import (
    Club,
    Instalment,
    Invoice,
    InvoiceStatus,
    Package,
    Payment,
    PaymentKind,
    PaymentMethod,
    Promotion,
)
from chairtime.clinical.models import PerformedProcedure, PlanStatus, TreatmentPlan
from chairtime.core.errors import InvalidInput
from chairtime.core.money import parse_amount
from chairtime.core.templatetags.chairtime import money
from chairtime.marketing.models import Channel
from chairtime.patients.models import Patient
from chairtime.scheduling.forms import within_reach
from chairtime.tenancy.models import Branch

INSTALMENT_ROWS = 6  # parts offered on the new-schedule form; blank rows are ignored
DEPOSIT_PLAN_STATUSES = (PlanStatus.PROPOSED, PlanStatus.ACCEPTED, PlanStatus.IN_PROGRESS)


def date_field(label: Any, *, required: bool = False, help_text: Any = "") -> forms.DateField:
    return forms.DateField(
        label=label, required=required, help_text=help_text, validators=[within_reach],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )  # fmt: skip


class AmountField(forms.CharField):
    """An amount typed in the form's currency, read by `money.parse_amount`: a clear
    refusal for a non-number, a negative, zero (unless `allow_zero`) or too many decimals."""

    def __init__(self, *, allow_zero: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 24)
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)
        self.allow_zero = allow_zero
        self.currency = ""
        self.name = ""

    def clean(self, value: Any) -> Decimal | None:
        text = super().clean(value)
        if not text:
            return None
        try:
            return parse_amount(text, self.currency, self.name, allow_zero=self.allow_zero)
        except InvalidInput as error:
            raise forms.ValidationError(_messages(error), code="invalid_amount") from None


class MoneyForm(forms.Form):
    """A form whose amounts are in one currency (the branch's, or the document's)."""

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        for name, field in self.fields.items():
            if isinstance(field, AmountField):
                field.currency, field.name = currency, name


# --- the patient's money page -------------------------------------------------------------
@dataclass(frozen=True)
class InvoiceRow:
    """A performed procedure offered for invoicing, with its discount fields (only for
    those who may discount)."""

    performed: PerformedProcedure
    is_checked: bool
    discount: BoundField | None
    reason: BoundField | None


class InvoiceForm(MoneyForm):
    """Invoice some of the patient's performed procedures not invoiced yet."""

    performed = forms.MultipleChoiceField(
        label=_("Procedures"), widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one procedure to invoice.")},
    )  # fmt: skip
    promotion_code = forms.CharField(label=_("Promotion code"), max_length=30, required=False)
    issued_on = date_field(_("Issued on"), help_text=_("Leave empty for today."))
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(
        self,
        *args: Any,
        performed: Sequence[PerformedProcedure],
        can_discount: bool,
        **kwargs: Any,
    ) -> None:
        self.offered = list(performed)
        super().__init__(*args, **kwargs)
        self.fields["performed"].choices = [(str(p.pk), str(p)) for p in self.offered]  # type: ignore[attr-defined]
        self.can_discount = can_discount
        if can_discount:
            for row in self.offered:
                self.fields[f"discount_{row.pk}"] = AmountField(
                    label=_("Discount"), required=False, allow_zero=True
                )
                self.fields[f"discount_{row.pk}"].currency = self.currency  # type: ignore[attr-defined]
                self.fields[f"discount_{row.pk}"].name = "line_discounts"  # type: ignore[attr-defined]
                self.fields[f"reason_{row.pk}"] = forms.CharField(
                    label=_("Reason"), max_length=200, required=False
                )

    def rows(self) -> list[InvoiceRow]:
        chosen = (
            set(self.data.getlist(self.add_prefix("performed")))  # type: ignore[attr-defined]
            if self.is_bound
            else {str(p.pk) for p in self.offered}
        )
        return [
            InvoiceRow(
                performed=row,
                is_checked=str(row.pk) in chosen,
                discount=self[f"discount_{row.pk}"] if self.can_discount else None,
                reason=self[f"reason_{row.pk}"] if self.can_discount else None,
            )
            for row in self.offered
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for performed_id in self.performed_ids():
            discount = cleaned.get(f"discount_{performed_id}")
            if discount and not (cleaned.get(f"reason_{performed_id}") or "").strip():
                self.add_error(f"reason_{performed_id}", _("Give the reason for the discount."))
        return cleaned

    def performed_ids(self) -> list[int]:
        return [int(value) for value in self.cleaned_data.get("performed", [])]

    def line_discounts(self) -> dict[int, tuple[Decimal, str]]:
        """performed id -> (discount, reason) for the chosen rows given a discount."""
        discounts: dict[int, tuple[Decimal, str]] = {}
        for performed_id in self.performed_ids():
            amount = self.cleaned_data.get(f"discount_{performed_id}")
            if amount:
                reason = self.cleaned_data.get(f"reason_{performed_id}", "").strip()
                discounts[performed_id] = (amount, reason)
        return discounts


def deposit_plans(patient: Patient, branch: Branch) -> Any:
    return TreatmentPlan.objects.filter(
        patient=patient, branch=branch, status__in=DEPOSIT_PLAN_STATUSES
    ).order_by("-presented_at")


def open_instalments(patient: Patient, branch: Branch) -> Any:
    return (
        Instalment.objects.filter(schedule__patient=patient, schedule__branch=branch)
        .filter(paid_amount__lt=F("amount"))
        .select_related("schedule")
        .order_by("due_on", "pk")
    )


class InstalmentChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(
            _("#%(number)s due %(day)s: %(amount)s")
            % {
                "number": obj.number,
                "day": obj.due_on.isoformat(),
                "amount": money(obj.amount - obj.paid_amount, obj.schedule.currency),
            }
        )


class PaymentChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(
            _("%(day)s %(method)s: %(free)s free of %(amount)s")
            % {
                "day": obj.received_on.isoformat(),
                "method": obj.get_method_display(),
                "free": money(obj.unallocated, obj.currency),
                "amount": money(obj.amount, obj.currency),
            }
        )


class PaymentForm(MoneyForm):
    """Money received: a payment (allocated to open invoices at once) or a deposit held
    against a treatment plan."""

    amount = AmountField(label=_("Amount"))
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices)
    kind = forms.ChoiceField(
        label=_("Kind"), choices=PaymentKind.choices, initial=PaymentKind.PAYMENT,
        widget=forms.RadioSelect,
    )  # fmt: skip
    plan = forms.ModelChoiceField(
        label=_("Treatment plan (for a deposit)"), queryset=TreatmentPlan.objects.none(),
        required=False,
    )  # fmt: skip
    instalment = InstalmentChoiceField(
        label=_("Instalment paid"), queryset=Instalment.objects.none(), required=False
    )
    prepaid_card_code = forms.CharField(
        label=_("Prepaid card or voucher code"), max_length=30, required=False
    )
    reference = forms.CharField(label=_("Reference"), max_length=100, required=False)
    received_on = date_field(_("Received on"), help_text=_("Leave empty for today."))
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, patient: Patient, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, currency=branch.currency, **kwargs)
        self.fields["plan"].queryset = deposit_plans(patient, branch)  # type: ignore[attr-defined]
        self.fields["instalment"].queryset = open_instalments(patient, branch)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        is_deposit = cleaned.get("kind") == PaymentKind.DEPOSIT
        if is_deposit and cleaned.get("plan") is None and "plan" not in self.errors:
            self.add_error("plan", _("Choose the treatment plan the deposit is held for."))
        code = (cleaned.get("prepaid_card_code") or "").strip()
        cleaned["prepaid_card_code"] = code
        if cleaned.get("method") == PaymentMethod.PREPAID_CARD and not code:
            self.add_error("prepaid_card_code", _("Give the card or voucher code."))
        elif code and cleaned.get("method") not in (None, PaymentMethod.PREPAID_CARD):
            self.add_error(
                "prepaid_card_code",
                _("A code is only for paying by prepaid card or voucher: choose that method."),
            )
        return cleaned


def refundable_payments(patient: Patient, branch: Branch) -> Any:
    return Payment.objects.filter(patient=patient, branch=branch, unallocated__gt=0).order_by(
        "-received_at", "-pk"
    )


class RefundForm(MoneyForm):
    """Give money back from the unallocated part of a payment."""

    payment = PaymentChoiceField(label=_("From payment"), queryset=Payment.objects.none())
    amount = AmountField(label=_("Amount"))
    method = forms.ChoiceField(
        label=_("Paid back by"), choices=PaymentMethod.choices,
        help_text=_("A payment by prepaid card is refunded to the card."),
    )  # fmt: skip
    reason = forms.CharField(label=_("Reason"), max_length=300)

    def __init__(self, *args: Any, patient: Patient, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, currency=branch.currency, **kwargs)
        self.fields["payment"].queryset = refundable_payments(patient, branch)  # type: ignore[attr-defined]


def open_invoices(patient: Patient, branch: Branch) -> Any:
    return Invoice.objects.filter(
        patient=patient, branch=branch, status=InvoiceStatus.OPEN
    ).order_by("issued_on", "pk")


class InstalmentScheduleForm(MoneyForm):
    """Agree to pay in parts: a date and an amount per part (empty rows are ignored)."""

    plan = forms.ModelChoiceField(
        label=_("For treatment plan"), queryset=TreatmentPlan.objects.none(), required=False
    )
    invoice = forms.ModelChoiceField(
        label=_("For invoice"), queryset=Invoice.objects.none(), required=False
    )
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args: Any, patient: Patient, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, currency=branch.currency, **kwargs)
        self.fields["plan"].queryset = deposit_plans(patient, branch)  # type: ignore[attr-defined]
        self.fields["invoice"].queryset = open_invoices(patient, branch)  # type: ignore[attr-defined]
        for number in range(1, INSTALMENT_ROWS + 1):
            self.fields[f"due_on_{number}"] = date_field(_("Due on"))
            amount = AmountField(label=_("Amount"), required=False)
            amount.currency, amount.name = self.currency, f"amount_{number}"
            self.fields[f"amount_{number}"] = amount

    def part_rows(self) -> list[tuple[BoundField, BoundField]]:
        return [
            (self[f"due_on_{number}"], self[f"amount_{number}"])
            for number in range(1, INSTALMENT_ROWS + 1)
        ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for number in range(1, INSTALMENT_ROWS + 1):
            due_on, amount = cleaned.get(f"due_on_{number}"), cleaned.get(f"amount_{number}")
            if due_on and amount is None and f"amount_{number}" not in self.errors:
                self.add_error(f"amount_{number}", _("Give the amount due on this date."))
            if amount is not None and not due_on and f"due_on_{number}" not in self.errors:
                self.add_error(f"due_on_{number}", _("Give the date this amount is due."))
        if not self.errors and not self.parts():
            raise forms.ValidationError(
                _("Give at least one part: a date and an amount."), code="no_parts"
            )
        return cleaned

    def parts(self) -> list[tuple[date, Decimal]]:
        rows = [
            (self.cleaned_data.get(f"due_on_{n}"), self.cleaned_data.get(f"amount_{n}"))
            for n in range(1, INSTALMENT_ROWS + 1)
        ]
        return [(day, amount) for day, amount in rows if day and amount is not None]


class SellPackageForm(forms.Form):
    package = forms.ModelChoiceField(label=_("Package"), queryset=Package.objects.none())

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["package"].queryset = Package.objects.filter(branch=branch, is_active=True)  # type: ignore[attr-defined]


class SellClubForm(forms.Form):
    club = forms.ModelChoiceField(label=_("Club"), queryset=Club.objects.none())
    starts_on = date_field(_("Starts on"), help_text=_("Leave empty for today."))

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["club"].queryset = Club.objects.filter(branch=branch, is_active=True)  # type: ignore[attr-defined]


class SellPrepaidCardForm(MoneyForm):
    """The price and its discount reason only for those who may discount (money.adjust):
    anyone else sells a card at its value."""

    value = AmountField(label=_("Value on the card"))
    price = AmountField(
        label=_("Price"), required=False, allow_zero=True,
        help_text=_("Leave empty to charge the value."),
    )  # fmt: skip
    discount_reason = forms.CharField(
        label=_("Reason for the discount"), max_length=200, required=False,
        help_text=_("Needed when the price is below the value."),
    )  # fmt: skip
    expires_on = date_field(_("Expires on"))

    def __init__(self, *args: Any, currency: str, can_discount: bool, **kwargs: Any) -> None:
        super().__init__(*args, currency=currency, **kwargs)
        if not can_discount:
            del self.fields["price"], self.fields["discount_reason"]


# --- one invoice ----------------------------------------------------------------------------
class VoidForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


class WriteOffForm(MoneyForm):
    amount = AmountField(label=_("Amount"))
    reason = forms.CharField(label=_("Reason"), max_length=300)


class AllocateForm(MoneyForm):
    """Put (part of) a payment's unallocated money on this invoice."""

    payment = PaymentChoiceField(label=_("Payment"), queryset=Payment.objects.none())
    amount = AmountField(
        label=_("Amount"), required=False,
        help_text=_("Leave empty for as much as the payment and the balance allow."),
    )  # fmt: skip

    def __init__(self, *args: Any, invoice: Invoice, **kwargs: Any) -> None:
        super().__init__(*args, currency=invoice.currency, **kwargs)
        self.fields["payment"].queryset = refundable_payments(invoice.patient, invoice.branch)  # type: ignore[attr-defined]


# --- branch pages ---------------------------------------------------------------------------
class PromotionForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=30)
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=Promotion.Kind.choices)
    value = forms.CharField(
        label=_("Value"), max_length=24,
        help_text=_("A percentage (e.g. 10) or an amount in the branch's currency."),
    )  # fmt: skip
    valid_from = date_field(_("Valid from"), required=True)
    valid_until = date_field(_("Valid until"), required=True)
    max_uses = forms.IntegerField(label=_("Maximum uses"), required=False, min_value=1)
    channel = forms.ModelChoiceField(
        label=_("Channel"), queryset=Channel.objects.none(), required=False
    )

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].queryset = Channel.objects.filter(  # type: ignore[attr-defined]
            organization_id=branch.organization_id
        )


class VoucherForm(MoneyForm):
    value = AmountField(label=_("Value"))
    patient_number = forms.CharField(
        label=_("For patient (number)"), max_length=20, required=False,
        help_text=_("Leave empty for a voucher anyone may spend."),
    )  # fmt: skip
    expires_on = date_field(_("Expires on"))

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, currency=branch.currency, **kwargs)
        self.branch = branch

    def clean_patient_number(self) -> Patient | None:
        number = self.cleaned_data["patient_number"].strip()
        if not number:
            return None
        patient = Patient.objects.for_branch(self.branch).filter(number__iexact=number).first()
        if patient is None:
            raise forms.ValidationError(_("No patient has this number."), code="unknown")
        return patient


class LockDateForm(forms.Form):
    lock_date = date_field(
        _("Lock date"), required=True,
        help_text=_("Money dated on or before this day can no longer be changed."),
    )  # fmt: skip


# --- service refusals ---------------------------------------------------------------------
def _messages(error: InvalidInput) -> list[str]:
    return [message for messages in error.errors.values() for message in messages]


def add_service_errors(
    form: forms.Form, error: InvalidInput, *, aliases: dict[str, str] | None = None
) -> None:
    """Show a service's refusal beside the field it names (or the field `aliases` sends it
    to); anything else goes above the form."""
    aliases = aliases or {}
    for name, messages in error.errors.items():
        field: str | None = aliases.get(name, name)
        if field not in form.fields:
            field = None
        for message in messages:
            form.add_error(field, message)
