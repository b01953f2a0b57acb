from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "chairtime.patients"
    label = "patients"
