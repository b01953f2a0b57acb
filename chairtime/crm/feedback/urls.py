"""Pages of complaints and the NPS report (namespace `crm`, under /patients/)."""

from django.urls import URLPattern, path

from chairtime.crm.feedback import views

urlpatterns: list[URLPattern] = [
    path("complaints/", views.complaint_list, name="complaint_list"),
    path("complaints/new/", views.complaint_create, name="complaint_create"),
    path("complaints/<int:complaint_id>/", views.complaint_detail, name="complaint_detail"),
    path("nps/", views.nps_report_page, name="nps_report"),
]
