"""Public webhooks of the messaging providers (namespace `messaging_hooks`, under
/hooks/messaging/): no login, no CSRF; the provider's signature is checked instead."""

from django.urls import URLPattern, path

from chairtime.messaging import views

app_name = "messaging_hooks"
urlpatterns: list[URLPattern] = [
    path("<str:provider>/status", views.status_hook, name="status"),
    path("<str:provider>/inbound", views.inbound_hook, name="inbound"),
]
