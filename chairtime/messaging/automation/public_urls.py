"""The patient's confirmation link (namespace `confirm`, under /c/): no login, the token
is the key (confirmations.py)."""

from django.urls import URLPattern, path

from chairtime.messaging.automation import views

app_name = "confirm"
urlpatterns: list[URLPattern] = [
    path("<str:token>", views.confirmation_link, name="link"),
]
