from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "chairtime.crm"
    label = "crm"
    verbose_name = "Patient CRM"

    def ready(self) -> None:
        # Model signals of other apps mark patients whose numbers must be recomputed.
        from chairtime.crm.profiles import signals

        signals.connect()
