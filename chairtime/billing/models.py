"""Money: invoices, payments and their allocation, refunds, write-offs, deposits,
instalments, promotion codes, packages, clubs (patient memberships) and prepaid cards.

Every amount is a Decimal in the branch's currency (`Invoice.currency`, `Payment.currency`
copy it so a document never changes meaning). The running totals kept on invoices and
payments are written only by `billing.services` under row locks; the database refuses the
impossible (a negative balance, an over-allocated payment), and a test reconciles every
total with the rows it sums.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from chairtime.core.models import TimeStampedModel
from chairtime.tenancy.models import Branch, Organization

ZERO = Decimal("0")


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Cash")
    CARD = "card", _("Card")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    E_WALLET = "e_wallet", _("E-wallet")
    PREPAID_CARD = "prepaid_card", _("Prepaid card or voucher")


# Money that changes hands (a prepaid-card redemption spends value already paid for).
REFUND_METHODS = (PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.BANK_TRANSFER,
                  PaymentMethod.E_WALLET)  # fmt: skip


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    DEPOSIT = "deposit", _("Deposit")


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")


class LineKind(models.TextChoices):
    PROCEDURE = "procedure", _("Procedure")
    PACKAGE = "package", _("Package")
    CLUB = "club", _("Club membership")
    PREPAID_CARD = "prepaid_card", _("Prepaid card")
    FEE = "fee", _("Fee")  # an ad hoc charge: a no-show fee (charge_fee)


class InvoiceSequence(models.Model):
    """The next invoice number of a branch, taken under a row lock."""

    branch = models.OneToOneField(Branch, on_delete=models.CASCADE, related_name="+")
    next_number = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.branch_id}: {self.next_number}"


class Promotion(TimeStampedModel):
    """A promotion code: a percentage or a fixed amount off an invoice, for a period and a
    number of uses. Invoices that used one mark promotion-driven patients."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percentage")
        AMOUNT = "amount", _("Fixed amount")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="promotions"
    )
    code = models.CharField(_("code"), max_length=30)  # stored upper case
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)
    # A fixed amount is in this currency; percentages apply in any.
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    channel = models.ForeignKey(
        "marketing.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    valid_from = models.DateField(_("valid from"))
    valid_until = models.DateField(_("valid until"))
    max_uses = models.PositiveIntegerField(_("maximum uses"), null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["-valid_from", "code"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="promotion_code_unique"),
            models.CheckConstraint(condition=Q(value__gt=0), name="promotion_value_positive"),
            models.CheckConstraint(
                condition=Q(valid_from__lte=F("valid_until")), name="promotion_period_order"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Invoice(TimeStampedModel):
    """A bill to a patient in one branch. `total` = sum of line amounts; `balance` = total -
    paid (allocations) - written off. Void only while nothing is allocated to it."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="invoices")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.CharField(_("number"), max_length=30)
    currency = models.CharField(_("currency"), max_length=3)
    issued_at = models.DateTimeField(_("issued at"))
    issued_on = models.DateField(_("issued on"))  # the branch's local day: lock date, ageing
    due_on = models.DateField(_("due on"))
    status = models.CharField(
        _("status"), max_length=6, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN
    )
    promotion = models.ForeignKey(
        Promotion, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    subtotal = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2, default=ZERO)
    discount_total = models.DecimalField(
        _("discounts"), max_digits=14, decimal_places=2, default=ZERO
    )
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=ZERO)
    paid_total = models.DecimalField(_("paid"), max_digits=14, decimal_places=2, default=ZERO)
    written_off_total = models.DecimalField(
        _("written off"), max_digits=14, decimal_places=2, default=ZERO
    )
    balance = models.DecimalField(_("balance"), max_digits=14, decimal_places=2, default=ZERO)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(_("reason"), max_length=300, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["branch", "issued_on"], name="invoice_branch_day_idx"),
            models.Index(fields=["patient", "status"], name="invoice_patient_idx"),
            models.Index(fields=["branch", "status", "issued_on"], name="invoice_open_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["branch", "number"], name="invoice_number_unique"),
            models.CheckConstraint(condition=Q(total__gte=0), name="invoice_total_min"),
            models.CheckConstraint(condition=Q(paid_total__gte=0), name="invoice_paid_min"),
            models.CheckConstraint(
                condition=Q(written_off_total__gte=0), name="invoice_written_off_min"
            ),
            models.CheckConstraint(condition=Q(balance__gte=0), name="invoice_balance_min"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    """One charge on an invoice: a performed procedure, or a package, club membership or
    prepaid card sold. `amount` = quantity x unit price - discount. A performed procedure is
    on at most one live (not void) invoice line."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=1)
    kind = models.CharField(_("kind"), max_length=12, choices=LineKind.choices)
    performed = models.ForeignKey(
        "clinical.PerformedProcedure",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
    )
    package_credit = models.ForeignKey(
        "billing.PackageCredit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redeemed_on",
    )
    # The club membership whose discount this line took: its sale cannot be voided while
    # the line is live. Withdrawing a membership (a void sale) unlinks void lines.
    club_membership = models.ForeignKey(
        "billing.ClubMembership",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="discounted_lines",
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.PositiveSmallIntegerField(_("quantity"), default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2, default=ZERO)
    discount_reason = models.CharField(_("discount reason"), max_length=200, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    is_void = models.BooleanField(default=False)  # copied from the invoice when voided

    class Meta:
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["performed"],
                condition=Q(is_void=False, performed__isnull=False),
                name="invoice_line_performed_once",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="invoice_line_quantity"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="invoice_line_price"),
            models.CheckConstraint(condition=Q(discount__gte=0), name="invoice_line_discount"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_line_amount"),
        ]

    def __str__(self) -> str:
        return self.description


class Payment(TimeStampedModel):
    """Money received from a patient. A deposit is held against a treatment plan until
    invoices exist to allocate it to. `unallocated` = amount - allocated - refunded."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="payments")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=PaymentKind.choices, default=PaymentKind.PAYMENT
    )
    method = models.CharField(_("method"), max_length=14, choices=PaymentMethod.choices)
    currency = models.CharField(_("currency"), max_length=3)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    received_at = models.DateTimeField(_("received at"))
    received_on = models.DateField(_("received on"))  # branch-local: cash-up, lock date
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    plan = models.ForeignKey(
        "clinical.TreatmentPlan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="deposits",
    )
    instalment = models.ForeignKey(
        "billing.Instalment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
    )
    prepaid_card = models.ForeignKey(
        "billing.PrepaidCard",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="redemptions",
    )
    allocated_total = models.DecimalField(
        _("allocated"), max_digits=14, decimal_places=2, default=ZERO
    )
    refunded_total = models.DecimalField(
        _("refunded"), max_digits=14, decimal_places=2, default=ZERO
    )
    unallocated = models.DecimalField(
        _("unallocated"), max_digits=14, decimal_places=2, default=ZERO
    )
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["branch", "received_on"], name="payment_branch_day_idx"),
            models.Index(fields=["patient", "received_at"], name="payment_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=Q(allocated_total__gte=0), name="payment_alloc_min"),
            models.CheckConstraint(condition=Q(refunded_total__gte=0), name="payment_refund_min"),
            models.CheckConstraint(condition=Q(unallocated__gte=0), name="payment_unalloc_min"),
            models.CheckConstraint(
                condition=Q(method="prepaid_card", prepaid_card__isnull=False)
                | (~Q(method="prepaid_card") & Q(prepaid_card__isnull=True)),
                name="payment_prepaid_card_matches_method",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.received_on} {self.amount} {self.currency} ({self.method})"


class Allocation(models.Model):
    """Part of a payment applied to an invoice. Immutable once written."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    allocated_at = models.DateTimeField()
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["allocated_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.invoice_id}: {self.amount}"


class Refund(models.Model):
    """Money given back from a payment's unallocated part, with a reason."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="refunds")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    method = models.CharField(_("method"), max_length=14, choices=PaymentMethod.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300)
    refunded_at = models.DateTimeField()
    refunded_on = models.DateField()
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-refunded_at", "-id"]
        indexes = [models.Index(fields=["branch", "refunded_on"], name="refund_branch_day_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.refunded_on} -{self.amount}"


class WriteOff(models.Model):
    """Part of an invoice's balance the clinic gives up on, with a reason."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="write_offs")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="write_offs")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=300)
    written_at = models.DateTimeField()
    written_on = models.DateField()
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-written_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="write_off_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} -{self.amount}"


class InstalmentSchedule(TimeStampedModel):
    """An agreement to pay a treatment's price in parts on dates (for a plan or an
    invoice). Payments name the instalment they pay."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="instalment_schedules"
    )
    plan = models.ForeignKey(
        "clinical.TreatmentPlan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="instalment_schedules",
    )
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(_("currency"), max_length=3)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.total} {self.currency}"


class Instalment(models.Model):
    """One due part of a schedule; `paid_amount` sums the payments that name it."""

    schedule = models.ForeignKey(
        InstalmentSchedule, on_delete=models.CASCADE, related_name="instalments"
    )
    number = models.PositiveSmallIntegerField()
    due_on = models.DateField(_("due on"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    paid_amount = models.DecimalField(_("paid"), max_digits=14, decimal_places=2, default=ZERO)

    class Meta:
        ordering = ["schedule_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["schedule", "number"], name="instalment_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="instalment_amount_positive"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="instalment_paid_min"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.due_on}: {self.amount}"


class PrepaidCard(TimeStampedModel):
    """Stored value: a prepaid card sold to a patient or a voucher given away. Spent as a
    payment method in any branch of the organisation with the same currency."""

    class Kind(models.TextChoices):
        CARD = "card", _("Prepaid card")
        VOUCHER = "voucher", _("Voucher")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="prepaid_cards"
    )
    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("code"), max_length=30)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="prepaid_cards",
    )
    currency = models.CharField(_("currency"), max_length=3)
    initial_value = models.DecimalField(_("value"), max_digits=14, decimal_places=2)
    balance = models.DecimalField(_("balance"), max_digits=14, decimal_places=2)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    sale_line = models.ForeignKey(
        InvoiceLine, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="prepaid_code_unique"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="prepaid_balance_min"),
            models.CheckConstraint(
                condition=Q(balance__lte=F("initial_value")), name="prepaid_balance_max"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Package(TimeStampedModel):
    """A bundle sold at one price in a branch ("6 cleanings"): buying it gives the patient
    credits per procedure, redeemed at no charge when the procedure is invoiced."""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="packages")
    code = models.CharField(_("code"), max_length=30)
    name = models.CharField(_("name"), max_length=200)
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=2)
    valid_days = models.PositiveSmallIntegerField(_("valid for (days)"), default=365)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["branch", "code"], name="package_code_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="package_price_min"),
        ]

    def __str__(self) -> str:
        return self.name


class PackageItem(models.Model):
    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="items")
    procedure = models.ForeignKey("clinical.Procedure", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField(_("quantity"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["package", "procedure"], name="package_item_unique"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="package_item_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.procedure_id}"


class PackageCredit(models.Model):
    """What a patient may still have done under a package they bought."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="package_credits"
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="credits")
    procedure = models.ForeignKey("clinical.Procedure", on_delete=models.PROTECT, related_name="+")
    sale_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="+")
    quantity_total = models.PositiveSmallIntegerField()
    quantity_used = models.PositiveSmallIntegerField(default=0)
    expires_on = models.DateField(_("expires on"))

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity_used__lte=F("quantity_total")), name="package_credit_max"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}: {self.quantity_used}/{self.quantity_total}"


class Club(TimeStampedModel):
    """A patient membership sold by a branch: a fee for a period, a discount on procedures
    while it lasts. (Not `tenancy.Membership`, which is a staff member's role.)"""

    branch = models.ForeignKey(Branch, on_delete=models.PROTECT, related_name="clubs")
    name = models.CharField(_("name"), max_length=200)
    fee = models.DecimalField(_("fee"), max_digits=14, decimal_places=2)
    duration_months = models.PositiveSmallIntegerField(_("duration (months)"), default=12)
    discount_percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(fee__gte=0), name="club_fee_min"),
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                name="club_discount_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ClubMembership(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="club_memberships"
    )
    club = models.ForeignKey(Club, on_delete=models.PROTECT, related_name="members")
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    sale_line = models.ForeignKey(InvoiceLine, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_on__lte=F("ends_on")), name="club_membership_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} in {self.club_id} until {self.ends_on}"
