"""The patient's claim link (namespace `claim`, under /w/): no login, the token is the key."""

from django.urls import URLPattern, path

from chairtime.waitlist import views

app_name = "claim"
urlpatterns: list[URLPattern] = [
    path("<str:token>", views.claim_link, name="link"),
]
