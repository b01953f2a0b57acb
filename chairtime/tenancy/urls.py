from django.urls import path

from chairtime.tenancy import views

app_name = "tenancy"
urlpatterns = [path("switch/", views.switch_branch, name="switch_branch")]
