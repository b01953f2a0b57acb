from django.urls import path

from chairtime.scheduling import feeds, views

app_name = "scheduling"
urlpatterns = [
    path("resources/", views.resource_list, name="resource_list"),
    path("day/", views.day_view, name="day_view"),
    path("day/sheet/", views.day_sheet, name="day_sheet"),
    path("week/", views.week_view, name="week_view"),
    path("book/", views.appointment_create, name="appointment_create"),
    path("book/patients/", views.booking_patient_search, name="booking_patient_search"),
    path("book/openings/", views.booking_slot_list, name="booking_slot_list"),
    path("appointments/<int:appointment_id>/", views.appointment_detail, name="appointment_detail"),
    path(
        "appointments/<int:appointment_id>/move/", views.appointment_move, name="appointment_move"
    ),
    path(
        "appointments/<int:appointment_id>/cancel/",
        views.appointment_cancel,
        name="appointment_cancel",
    ),
    path(
        "appointments/<int:appointment_id>/status/<slug:transition>/",
        views.appointment_status,
        name="appointment_status",
    ),
    path("calendar-feed/", feeds.calendar_feed, name="calendar_feed"),
    path("feeds/<str:secret>.ics", feeds.calendar_feed_ics, name="calendar_feed_ics"),
]
