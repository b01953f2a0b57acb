"""Pages a patient opens from a link, without logging in (the NPS survey)."""

from django.urls import URLPattern, path

from chairtime.crm.feedback import views

app_name = "public"
urlpatterns: list[URLPattern] = [
    path("<str:token>/", views.survey, name="survey"),
]
