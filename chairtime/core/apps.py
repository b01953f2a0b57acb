from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "chairtime.core"
    label = "core"
