"""Pages of the front desk (namespace `frontdesk`, under /desk/)."""

from django.urls import path

from chairtime.frontdesk import views

app_name = "frontdesk"
urlpatterns = [
    path("morning/", views.morning_meeting, name="morning_meeting"),
    path("evening/", views.evening_meeting, name="evening_meeting"),
    path("no-shows/", views.no_show_report, name="no_show_report"),
    path("no-shows/<int:appointment_id>/fee/", views.fee_charge, name="fee_charge"),
    path("settings/", views.desk_settings, name="desk_settings"),
    path("version/", views.book_version, name="book_version"),
]
