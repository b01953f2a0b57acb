from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WaitlistConfig(AppConfig):
    name = "chairtime.waitlist"
    label = "waitlist"
    verbose_name = _("Waitlist")

    def ready(self) -> None:
        # The refill listens to the appointment book's releases (ADR 13).
        from chairtime.waitlist import receivers  # noqa: F401
