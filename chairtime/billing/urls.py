"""Money pages, under money/."""

from django.urls import path

from chairtime.billing import views

app_name = "billing"
urlpatterns = [
    path("patients/<int:patient_id>/", views.patient_money, name="patient_money"),
    path("patients/<int:patient_id>/invoice/", views.invoice_create, name="invoice_create"),
    path("patients/<int:patient_id>/payment/", views.payment_create, name="payment_create"),
    path("patients/<int:patient_id>/refund/", views.payment_refund, name="payment_refund"),
    path("patients/<int:patient_id>/apply-credit/", views.credit_apply, name="credit_apply"),
    path(
        "patients/<int:patient_id>/instalments/",
        views.instalment_schedule_create,
        name="instalment_schedule_create",
    ),
    path("patients/<int:patient_id>/sell/package/", views.package_sell, name="package_sell"),
    path("patients/<int:patient_id>/sell/club/", views.club_sell, name="club_sell"),
    path(
        "patients/<int:patient_id>/sell/prepaid-card/",
        views.prepaid_card_sell,
        name="prepaid_card_sell",
    ),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:invoice_id>/print/", views.invoice_print, name="invoice_print"),
    path("invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("invoices/<int:invoice_id>/void/", views.invoice_void, name="invoice_void"),
    path("invoices/<int:invoice_id>/write-off/", views.invoice_write_off, name="invoice_write_off"),
    path("invoices/<int:invoice_id>/allocate/", views.invoice_allocate, name="invoice_allocate"),
    path("cash-up/", views.cash_up, name="cash_up"),
    path("ageing/", views.ageing, name="ageing"),
    path("promotions/", views.promotion_list, name="promotion_list"),
    path("prepaid-cards/", views.prepaid_card_list, name="prepaid_card_list"),
    path("packages/", views.package_list, name="package_list"),
    path("clubs/", views.club_list, name="club_list"),
    path("lock-date/", views.lock_date, name="lock_date"),
]
