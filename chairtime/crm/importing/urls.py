from django.urls import URLPattern, path

from chairtime.crm.importing import views

urlpatterns: list[URLPattern] = [
    path("import/", views.import_list, name="import_list"),
    path("import/new/", views.import_create, name="import_create"),
    path("import/<int:job_id>/", views.import_detail, name="import_detail"),
    path("import/<int:job_id>/mapping/", views.import_mapping, name="import_mapping"),
    path("import/<int:job_id>/run/", views.import_run, name="import_run"),
    path("import/<int:job_id>/errors.csv", views.import_errors_csv, name="import_errors_csv"),
]
