"""Pages of the waitlist (namespace `waitlist`, under /waitlist/)."""

from django.urls import path

from chairtime.waitlist import views

app_name = "waitlist"
urlpatterns = [
    path("", views.entry_list, name="entry_list"),
    path("add/", views.entry_create, name="entry_create"),
    path("<int:entry_id>/remove/", views.entry_remove, name="entry_remove"),
    path("offers/", views.offer_list, name="offer_list"),
    path("offers/<int:offer_id>/", views.offer_detail, name="offer_detail"),
    path("refill/<int:appointment_id>/", views.refill, name="refill"),
]
