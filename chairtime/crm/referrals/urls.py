"""Pages of referrals (namespace `crm`, under /patients/)."""

from django.urls import URLPattern, path

from chairtime.crm.referrals import views

urlpatterns: list[URLPattern] = [
    path("referrals/", views.referral_report_page, name="referral_report"),
    path("<int:patient_id>/referrals/", views.referral_tree_page, name="referral_tree"),
]
