"""Pages of care (namespace `care`, under /care/)."""

from django.urls import path

from chairtime.care import views

app_name = "care"
urlpatterns = [
    path("", views.my_tasks, name="my_tasks"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<int:task_id>/", views.task_detail, name="task_detail"),
    path("tasks/<int:task_id>/attempts/", views.task_attempt, name="task_attempt"),
    path("recall/", views.recall_list, name="recall_list"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/<slug:kind>/", views.rule_edit, name="rule_edit"),
]
