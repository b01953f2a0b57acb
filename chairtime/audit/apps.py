from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "chairtime.audit"
    label = "audit"
