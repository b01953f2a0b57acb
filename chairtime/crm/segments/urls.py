from django.urls import URLPattern, path

from chairtime.crm.segments import views

urlpatterns: list[URLPattern] = [
    path("filter/", views.filter_builder, name="filter_builder"),
    path("filter/preview/", views.filter_preview, name="filter_preview"),
    path("filter/export/", views.filter_export, name="filter_export"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/<int:segment_id>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:segment_id>/edit/", views.segment_edit, name="segment_edit"),
    path("segments/<int:segment_id>/delete/", views.segment_delete, name="segment_delete"),
    path("segments/<int:segment_id>/export/", views.segment_export, name="segment_export"),
    path("export/", views.patient_list_export, name="patient_list_export"),
]
