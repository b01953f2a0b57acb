"""Pages a patient opens from a link, without logging in (the NPS survey)."""

from django.urls import URLPattern

app_name = "public"
urlpatterns: list[URLPattern] = []
