from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "chairtime.analytics"
    label = "analytics"
