from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "chairtime.tenancy"
    label = "tenancy"
