from django.apps import AppConfig


class MarketingConfig(AppConfig):
    name = "chairtime.marketing"
    label = "marketing"
