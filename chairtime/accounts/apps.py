from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "chairtime.accounts"
    label = "accounts"
