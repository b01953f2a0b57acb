"""Pages of lab cases (namespace `labs`, under /labs/)."""

from django.urls import path

from chairtime.labs import views

app_name = "labs"
urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("cases/new/", views.case_create, name="case_create"),
    path("cases/<int:case_id>/", views.case_detail, name="case_detail"),
    path("cases/<int:case_id>/<slug:step>/", views.case_step, name="case_step"),
    path("overdue/", views.overdue_list, name="overdue_list"),
    path("labs/", views.lab_list, name="lab_list"),
    path("labs/new/", views.lab_create, name="lab_create"),
    path("labs/<int:lab_id>/", views.lab_edit, name="lab_edit"),
]
