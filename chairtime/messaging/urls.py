"""Pages of the outbox, the inbox, templates, rules and campaigns (namespace `messaging`,
under /messaging/)."""

from django.urls import URLPattern, path

from chairtime.messaging import views
from chairtime.messaging.automation.urls import urlpatterns as automation_patterns

app_name = "messaging"
urlpatterns: list[URLPattern] = [
    path("outbox/", views.outbox_list, name="outbox_list"),
    path("outbox/<int:message_id>/", views.message_detail, name="message_detail"),
    path("outbox/<int:message_id>/resolve/", views.message_resolve, name="message_resolve"),
    path("inbox/", views.inbox_list, name="inbox_list"),
    path("inbox/<int:inbound_id>/", views.inbound_detail, name="inbound_detail"),
    path("inbox/<int:inbound_id>/handle/", views.inbound_handle, name="inbound_handle"),
    path("inbox/<int:inbound_id>/reply/", views.inbound_reply, name="inbound_reply"),
    *automation_patterns,  # templates, rules, send to a segment
]
