from django.urls import URLPattern, path

from chairtime.crm.duplicates import views

urlpatterns: list[URLPattern] = [
    path("duplicates/", views.duplicate_list, name="duplicate_list"),
    path("duplicates/merge/", views.merge_confirm, name="merge_confirm"),
    path("duplicates/merges/<int:merge_id>/", views.merge_detail, name="merge_detail"),
]
