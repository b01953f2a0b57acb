from django.urls import path

from chairtime.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("new/", views.patient_create, name="patient_create"),
    path("<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("<int:patient_id>/edit/", views.patient_edit, name="patient_edit"),
    path("<int:patient_id>/consents/", views.patient_consents, name="patient_consents"),
    path("<int:patient_id>/alerts/", views.patient_alert_add, name="patient_alert_add"),
    path("<int:patient_id>/audit/", views.patient_audit, name="patient_audit"),
]
