from django.urls import URLPattern, path

from chairtime.crm.profiles import views

urlpatterns: list[URLPattern] = [
    path("groups/", views.group_overview, name="group_overview"),
    path("groups/thresholds/", views.group_thresholds, name="group_thresholds"),
]
