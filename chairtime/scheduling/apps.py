from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "chairtime.scheduling"
    label = "scheduling"
