"""The health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from chairtime.core.selectors import get_worker_last_beat, is_worker_alive


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For the load balancer: the database answers. Says nothing about any tenant."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "worker": is_worker_alive(get_worker_last_beat())})
