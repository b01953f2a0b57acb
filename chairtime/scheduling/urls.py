from django.urls import path

from chairtime.scheduling import views

app_name = "scheduling"
urlpatterns = [path("resources/", views.resource_list, name="resource_list")]
