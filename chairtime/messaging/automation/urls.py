"""Pages of templates, rules and "send to a segment", joined to the `messaging` namespace
(chairtime/messaging/urls.py)."""

from django.urls import URLPattern, path

from chairtime.messaging.automation import views

urlpatterns: list[URLPattern] = [
    path("templates/", views.template_list, name="template_list"),
    path("templates/new/", views.template_create, name="template_create"),
    path("templates/preview/", views.template_preview, name="template_preview"),
    path("templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path("rules/", views.rule_list, name="rule_list"),
    path("rules/new/", views.rule_create, name="rule_create"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("segment-send/", views.segment_send, name="segment_send"),
    path("segment-send/audience/", views.segment_audience, name="segment_audience"),
]
