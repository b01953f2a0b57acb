"""Clinical pages. Included at the site root, so each pattern carries its own prefix:
the catalogue under catalogue/, treatment plans and visits under treatment/."""

from django.urls import path

from chairtime.clinical import views

app_name = "clinical"
urlpatterns = [
    path("catalogue/procedures/", views.procedure_list, name="procedure_list"),
    path("treatment/patients/<int:patient_id>/", views.patient_plans, name="patient_plans"),
    path("treatment/plans/<int:plan_id>/", views.plan_detail, name="plan_detail"),
    path("treatment/plans/<int:plan_id>/print/", views.plan_print, name="plan_print"),
    path("treatment/plans/<int:plan_id>/pdf/", views.plan_pdf, name="plan_pdf"),
    path("treatment/plans/<int:plan_id>/options/", views.option_add, name="option_add"),
    path("treatment/plans/<int:plan_id>/accept/", views.plan_accept, name="plan_accept"),
    path("treatment/plans/<int:plan_id>/decline/", views.plan_decline, name="plan_decline"),
    path(
        "treatment/plans/<int:plan_id>/options/<int:option_id>/items/",
        views.item_add,
        name="item_add",
    ),
    path(
        "treatment/plans/<int:plan_id>/items/<int:item_id>/remove/",
        views.item_remove,
        name="item_remove",
    ),
    path(
        "treatment/plans/<int:plan_id>/items/<int:item_id>/cancel/",
        views.item_cancel,
        name="item_cancel",
    ),
    path(
        "treatment/plans/<int:plan_id>/items/<int:item_id>/book/",
        views.item_book,
        name="item_book",
    ),
    path("treatment/unscheduled/", views.unscheduled_list, name="unscheduled_list"),
    path("treatment/ladder/", views.ladder_report, name="ladder_report"),
    path(
        "treatment/visits/<int:appointment_id>/complete/",
        views.visit_complete,
        name="visit_complete",
    ),
]
