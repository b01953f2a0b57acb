"""Forms of the treatment pages: a plan, an option, an item, accepting or declining a plan,
cancelling or booking an item, and completing a visit.

They check what the page sends (teeth as FDI numbers, surfaces, money in the branch's
currency, choices of this branch); what the plan's state allows is the services' question.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from chairtime.accounts.models import User
from chairtime.clinical.models import (
    AcceptanceMethod,
    OptionStatus,
    Procedure,
    ProcedurePrice,
    TreatmentOption,
    TreatmentPlan,
)
from chairtime.clinical.services import ItemInput, PerformedInput
from chairtime.clinical.teeth import parse_teeth, validate_surfaces, validate_teeth
from chairtime.core.errors import InvalidInput
from chairtime.core.money import parse_amount, quantize
from chairtime.scheduling.forms import SlotChoice, SlotField, within_reach
from chairtime.scheduling.selectors import list_branch_doctors
from chairtime.tenancy.models import Branch, Membership

MAX_QUANTITY = 99
MAX_PHASE = 20
MAX_CHAIR_MINUTES = 24 * 60
# A drawn signature is a PNG data URL; a canvas of a few hundred pixels is well under this.
SIGNATURE_PREFIX = "data:image/png;base64,"
MAX_SIGNATURE_LENGTH = 200 * 1024


def _refusal(error: InvalidInput) -> forms.ValidationError:
    """A service helper's refusal (teeth, surfaces, money) as the field's own error."""
    return forms.ValidationError([m for messages in error.errors.values() for m in messages])


def _typed_amount(form: forms.Form, branch: Branch, name: str) -> Decimal | None:
    """An amount typed in the branch's currency; None when left empty."""
    raw = str(form.cleaned_data.get(name) or "").strip()
    if not raw:
        return None
    try:
        return parse_amount(raw, branch.currency, name, allow_zero=True)
    except InvalidInput as error:
        raise _refusal(error) from None


def staff_of(branch: Branch) -> QuerySet[User]:
    """Everyone who works in the branch, directly or organisation-wide."""
    members = Membership.objects.filter(organization_id=branch.organization_id).filter(
        Q(branch=branch) | Q(branch__isnull=True)
    )
    return User.objects.filter(is_active=True, pk__in=members.values("user_id")).order_by(
        "last_name", "first_name", "pk"
    )


def procedures_of(branch: Branch) -> QuerySet[Procedure]:
    return Procedure.objects.filter(organization_id=branch.organization_id, is_active=True)


class PricedSelect(forms.Select):
    """A procedure choice whose options carry the branch's price (`data-price`, to the
    currency's minor unit: "500000" in VND), so the page can show it in the price field
    while that is empty."""

    def __init__(
        self,
        *args: Any,
        prices: dict[int, Decimal] | None = None,
        currency: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.prices = prices or {}
        self.currency = currency

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        key = getattr(value, "value", value)
        if key in self.prices:
            option["attrs"]["data-price"] = str(quantize(self.prices[key], self.currency))
        return option


def branch_prices(branch: Branch) -> dict[int, Decimal]:
    rows = ProcedurePrice.objects.filter(branch=branch).values_list("procedure_id", "price")
    return dict(rows)


class PlanForm(forms.Form):
    """A new plan: who diagnosed it, who presents it, and its first option's name."""

    title = forms.CharField(label=_("Title"), max_length=200)
    doctor = forms.ModelChoiceField(label=_("Doctor"), queryset=User.objects.none())
    consultant = forms.ModelChoiceField(
        label=_("Consultant"), queryset=User.objects.none(), required=False
    )
    option_label = forms.CharField(
        label=_("First option"), max_length=120, initial=_("Option A"),
        help_text=_("Add the procedures and more options after creating the plan."),
    )  # fmt: skip
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = list_branch_doctors(branch=branch)  # type: ignore[attr-defined]
        self.fields["consultant"].queryset = staff_of(branch)  # type: ignore[attr-defined]


class OptionForm(forms.Form):
    label = forms.CharField(label=_("Option"), max_length=120)


class ItemForm(forms.Form):
    """One procedure of an option: teeth typed as "11 12 21", surfaces, quantity, phase,
    price (empty: the branch's price) and discount with its reason (which the service asks
    for, as it does from the API)."""

    procedure = forms.ModelChoiceField(label=_("Procedure"), queryset=Procedure.objects.none())
    teeth = forms.CharField(
        label=_("Teeth"), required=False, max_length=200,
        help_text=_("FDI numbers separated by spaces, e.g. 11 12 21."),
    )  # fmt: skip
    surfaces = forms.CharField(
        label=_("Surfaces"), required=False, max_length=10,
        help_text=_("Letters from M O D B L I F, e.g. MOD."),
    )  # fmt: skip
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, initial=1
    )
    phase = forms.IntegerField(label=_("Phase"), min_value=1, max_value=MAX_PHASE, initial=1)
    unit_price = forms.CharField(
        label=_("Unit price"), required=False, max_length=20,
        help_text=_("Leave empty for the branch's price."),
    )  # fmt: skip
    discount = forms.CharField(label=_("Discount"), required=False, max_length=20, initial="0")
    discount_reason = forms.CharField(label=_("Discount reason"), required=False, max_length=200)

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.branch = branch
        self.prices = branch_prices(branch)
        field = self.fields["procedure"]
        field.queryset = procedures_of(branch)  # type: ignore[attr-defined]
        field.widget = PricedSelect(
            prices=self.prices, currency=branch.currency, attrs={"data-price-for": "unit_price"}
        )
        field.widget.choices = field.choices  # type: ignore[attr-defined]

    def clean_teeth(self) -> tuple[int, ...]:
        try:
            return validate_teeth(parse_teeth(self.cleaned_data["teeth"]))
        except InvalidInput as error:
            raise _refusal(error) from None

    def clean_surfaces(self) -> str:
        try:
            return validate_surfaces(self.cleaned_data["surfaces"].strip().upper())
        except InvalidInput as error:
            raise _refusal(error) from None

    def clean_unit_price(self) -> Decimal | None:
        return _typed_amount(self, self.branch, "unit_price")

    def clean_discount(self) -> Decimal:
        return _typed_amount(self, self.branch, "discount") or Decimal("0")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        procedure, discount = cleaned.get("procedure"), cleaned.get("discount")
        if procedure is None or discount is None or "unit_price" in self.errors:
            return cleaned
        price = cleaned.get("unit_price")
        if price is None:
            price = self.prices.get(procedure.pk)
        if price is None:
            self.add_error(
                "unit_price", _("This branch has no price for the procedure: give the price.")
            )
            return cleaned
        if cleaned.get("surfaces") and not cleaned.get("teeth"):
            self.add_error("surfaces", _("Give the teeth these surfaces are on."))
        gross = price * (cleaned.get("quantity") or 1)
        if discount > gross:
            self.add_error("discount", _("The discount is larger than the price."))
        return cleaned

    def to_input(self) -> ItemInput:
        c = self.cleaned_data
        return ItemInput(
            procedure_id=c["procedure"].pk, teeth=c["teeth"], surfaces=c["surfaces"],
            quantity=c["quantity"], unit_price=c["unit_price"], discount=c["discount"],
            discount_reason=c["discount_reason"].strip(), phase=c["phase"],
        )  # fmt: skip


class AcceptForm(forms.Form):
    """Which option the patient chose, and the evidence: a drawn signature with the
    signer's name, or a verbal consent with a staff witness and a note."""

    option = forms.ModelChoiceField(
        label=_("Option"), queryset=TreatmentOption.objects.none(), widget=forms.RadioSelect,
        empty_label=None,
    )  # fmt: skip
    method = forms.ChoiceField(
        label=_("Acceptance"), choices=AcceptanceMethod.choices, widget=forms.RadioSelect,
        initial=AcceptanceMethod.SIGNATURE,
    )  # fmt: skip
    signature = forms.CharField(
        required=False, max_length=MAX_SIGNATURE_LENGTH, widget=forms.HiddenInput
    )
    signed_name = forms.CharField(label=_("Signed by"), required=False, max_length=200)
    witness = forms.ModelChoiceField(
        label=_("Witness (staff)"), queryset=User.objects.none(), required=False
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, plan: TreatmentPlan, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["option"].queryset = plan.options.filter(status=OptionStatus.OPEN)  # type: ignore[attr-defined]
        self.fields["witness"].queryset = staff_of(plan.branch)  # type: ignore[attr-defined]
        self.fields["signature"].label = _("Signature")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        method = cleaned.get("method")
        if method == AcceptanceMethod.SIGNATURE:
            signature = cleaned.get("signature", "")
            if not signature or not signature.startswith(SIGNATURE_PREFIX):
                self.add_error("signature", _("Ask the patient to sign in the box."))
            if not cleaned.get("signed_name", "").strip():
                self.add_error("signed_name", _("Write the name of the person who signed."))
        elif method == AcceptanceMethod.VERBAL:
            if cleaned.get("witness") is None and "witness" not in self.errors:
                self.add_error("witness", _("Choose the staff member who witnessed the consent."))
            if not cleaned.get("note", "").strip():
                self.add_error("note", _("Note what the patient agreed to, in their words."))
        return cleaned


class ReasonForm(forms.Form):
    """Declining a plan or cancelling an item: the reason is kept."""

    reason = forms.CharField(label=_("Reason"), max_length=300)


class BookItemForm(forms.Form):
    """One of the openings the slot finder offered for a plan item."""

    slot = SlotField()

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slot"].branch = branch  # type: ignore[attr-defined]

    def clean_slot(self) -> SlotChoice:
        slot: SlotChoice | None = self.cleaned_data.get("slot")
        if slot is None:
            raise forms.ValidationError(_("Choose one of the openings."), code="required")
        return slot


class PerformedForm(forms.Form):
    """One procedure done in the visit: a plan item (prefilled) or one added on the spot.
    An added row without a procedure is ignored; a plan item not ticked is not done.

    Price and discount are fields only for those who may change them (`may_price`); for
    anyone else the service takes the plan item's agreed ones, else the branch's price."""

    plan_item = forms.IntegerField(required=False, widget=forms.HiddenInput)
    is_done = forms.BooleanField(label=_("Done"), required=False, initial=True)
    procedure = forms.ModelChoiceField(
        label=_("Procedure"), queryset=Procedure.objects.none(), required=False
    )
    teeth = forms.CharField(label=_("Teeth"), required=False, max_length=200)
    surfaces = forms.CharField(label=_("Surfaces"), required=False, max_length=10)
    quantity = forms.IntegerField(
        label=_("Quantity"), min_value=1, max_value=MAX_QUANTITY, required=False
    )
    unit_price = forms.CharField(label=_("Unit price"), required=False, max_length=20)
    discount = forms.CharField(label=_("Discount"), required=False, max_length=20)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=500)

    def __init__(self, *args: Any, branch: Branch, may_price: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.branch = branch
        self.fields["procedure"].queryset = procedures_of(branch)  # type: ignore[attr-defined]
        if not may_price:
            del self.fields["unit_price"], self.fields["discount"]

    clean_teeth = ItemForm.clean_teeth
    clean_surfaces = ItemForm.clean_surfaces

    def clean_unit_price(self) -> Decimal | None:
        return _typed_amount(self, self.branch, "unit_price")

    def clean_discount(self) -> Decimal | None:
        return _typed_amount(self, self.branch, "discount")

    @property
    def is_counted(self) -> bool:
        c = self.cleaned_data
        return bool(c.get("is_done")) and c.get("procedure") is not None

    def to_input(self, chair_minutes: int | None) -> PerformedInput:
        c = self.cleaned_data
        return PerformedInput(
            procedure_id=c["procedure"].pk, plan_item_id=c.get("plan_item"), teeth=c["teeth"],
            surfaces=c["surfaces"], quantity=c.get("quantity") or 1,
            unit_price=c.get("unit_price"), discount=c.get("discount"),
            chair_minutes=chair_minutes, notes=c["notes"].strip(),
        )  # fmt: skip


class BasePerformedFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    def __init__(self, *args: Any, branch: Branch, may_price: bool, **kwargs: Any) -> None:
        self.branch = branch
        self.may_price = may_price
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"branch": self.branch, "may_price": self.may_price}

    def clean(self) -> None:
        if any(self.errors):
            return
        if not any(form.is_counted for form in self.forms):
            raise forms.ValidationError(_("Tick or add at least one procedure that was done."))


PerformedFormSet = cast(
    type[BasePerformedFormSet],
    forms.formset_factory(
        PerformedForm, formset=BasePerformedFormSet, extra=0, max_num=30, validate_max=True
    ),
)


class VisitForm(forms.Form):
    """The visit as a whole: the chair time, shared out over the procedures done."""

    chair_minutes = forms.IntegerField(
        label=_("Chair time (minutes)"), required=False, min_value=1, max_value=MAX_CHAIR_MINUTES,
        help_text=_("Leave empty to count from seating until now."),
    )  # fmt: skip


def share_minutes(total: int | None, count: int) -> list[int | None]:
    """The visit's chair minutes shared over its procedures (the first take the rest), so
    the production report adds up to the time the chair was used."""
    if total is None or count == 0:
        return [None] * count
    each, rest = divmod(total, count)
    return [max(1, each + (1 if i < rest else 0)) for i in range(count)]


class UnscheduledFilterForm(forms.Form):
    """The filters of the unscheduled-treatment list; all optional."""

    doctor = forms.ModelChoiceField(
        label=_("Doctor"), queryset=User.objects.none(), required=False,
        empty_label=_("Every doctor"),
    )  # fmt: skip
    min_value = forms.DecimalField(label=_("Value at least"), required=False, min_value=0)
    min_age_days = forms.IntegerField(
        label=_("Accepted at least (days ago)"), required=False, min_value=0, max_value=36500
    )
    max_age_days = forms.IntegerField(
        label=_("Accepted at most (days ago)"), required=False, min_value=0, max_value=36500
    )

    def __init__(self, *args: Any, branch: Branch, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = doctors_in(branch)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        low, high = cleaned.get("min_age_days"), cleaned.get("max_age_days")
        if low is not None and high is not None and low > high:
            self.add_error("max_age_days", _("Give a maximum age not below the minimum."))
        return cleaned


def doctors_in(branch: Branch) -> QuerySet[User]:
    """Everyone holding a doctor's role in the branch (working hours or not)."""
    members = Membership.objects.filter(organization_id=branch.organization_id, role="doctor")
    members = members.filter(Q(branch=branch) | Q(branch__isnull=True))
    return User.objects.filter(pk__in=members.values("user_id")).order_by(
        "last_name", "first_name", "pk"
    )


class LadderPeriodForm(forms.Form):
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput({"type": "date"}),
        validators=[within_reach],
    )  # fmt: skip
    end = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput({"type": "date"}),
        validators=[within_reach],
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is not None and end is not None and start > end:
            self.add_error("end", _("Give an end on or after the start."))
        return cleaned
