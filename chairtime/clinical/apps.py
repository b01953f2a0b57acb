from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "chairtime.clinical"
    label = "clinical"
