"""``GET /health``: does each dependency answer?

200 with every check "up", or 503 naming what is down. In production only callers on the
internal networks (``METRICS_ALLOWED_NETWORKS``) get the details; the public gets the status. Each check is bounded by its
client's timeout (PostgreSQL connect_timeout, Redis socket timeout, Kafka 3 s), so a dead
dependency makes the endpoint slow, never hung.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ticketflow.messaging.transports import get_transport
from ticketflow.network import internal_caller


def _database(alias: str) -> Callable[[], str]:
    def check() -> str:
        connection = connections[alias]
        if connection.vendor == "mongodb":
            connection.ensure_connection()
            connection.connection.admin.command("ping")
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        return connection.vendor

    return check


def _cache() -> str:
    cache = caches["default"]
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=5)
    if cache.get(key) != "ok":
        raise RuntimeError("a value written to the cache could not be read back")
    cache.delete(key)
    return cache.__class__.__name__


def _transport() -> str:
    transport = get_transport()
    transport.health()
    return transport.name


CHECKS: dict[str, Callable[[], str]] = {
    "default_database": _database("default"),
    "documents_database": _database("documents"),
    "cache": _cache,
    "event_transport": _transport,
}


def run_checks() -> dict[str, dict[str, object]]:
    """Run every check; each result says up/down, what answered, and how long it took."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            backend = check()
            results[name] = {"status": "up", "backend": backend}
        except Exception as error:
            results[name] = {"status": "down", "error": f"{type(error).__name__}: {error}"[:500]}
        results[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return results


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    down = sorted(name for name, result in checks.items() if result["status"] != "up")
    body: dict[str, object] = {"status": "down" if down else "up"}
    # The public hears up or down; probes and operators on the internal networks hear why.
    if internal_caller(request):
        body["checks"] = checks
        if down:
            body["failing"] = down
    return JsonResponse(body, status=503 if down else 200)
