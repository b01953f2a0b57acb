"""The patient timeline page (namespace `crm`, under /patients/)."""

from django.urls import URLPattern, path

from chairtime.crm.timeline import views

urlpatterns: list[URLPattern] = [
    path("<int:patient_id>/timeline/", views.patient_timeline_page, name="patient_timeline"),
]
