from django.urls import path

from chairtime.clinical import views

app_name = "clinical"
urlpatterns = [path("procedures/", views.procedure_list, name="procedure_list")]
