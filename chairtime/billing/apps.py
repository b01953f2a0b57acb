from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "chairtime.billing"
    label = "billing"
