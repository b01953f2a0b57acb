"""URL map: pages per app, the API under /api/v1/."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.api import build_api

api = build_api()

urlpatterns = [
    path("", include("chairtime.analytics.urls")),
    path("", include("chairtime.core.urls")),
    path("accounts/", include("chairtime.accounts.urls")),
    path("branches/", include("chairtime.tenancy.urls")),
    path("patients/", include("chairtime.crm.urls")),
    path("patients/", include("chairtime.patients.urls")),
    path("feedback/", include("chairtime.crm.feedback.public_urls")),
    path("scheduling/", include("chairtime.scheduling.urls")),
    path("", include("chairtime.clinical.urls")),
    path("money/", include("chairtime.billing.urls")),
    path("audit/", include("chairtime.audit.urls")),
    path("care/", include("chairtime.care.urls")),
    path("labs/", include("chairtime.labs.urls")),
    path("desk/", include("chairtime.frontdesk.urls")),
    path("messaging/", include("chairtime.messaging.urls")),
    path("hooks/messaging/", include("chairtime.messaging.hook_urls")),
    path("c/", include("chairtime.messaging.automation.public_urls")),  # confirmation links
    path("waitlist/", include("chairtime.waitlist.urls")),
    path("w/", include("chairtime.waitlist.public_urls")),  # waitlist claim links
    path("api/v1/", api.urls),
]
if settings.ENVIRONMENT != "production":
    urlpatterns.append(path("admin/", admin.site.urls))
