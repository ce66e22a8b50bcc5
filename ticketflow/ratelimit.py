"""One rate limiter for the API and the pages, on django-ratelimit and the ``ratelimit`` cache.

Every throttle in TicketFlow counts here: a DRF view names a scope (``throttle_scope``) and
gets :class:`ScopedLimit`; a page calls :func:`consume` with the same scope, so a buyer who
switches from the API to the storefront meets the same counter. Rates live in one setting,
``RATE_LIMITS`` (``{"login": "30/m", ...}``, django-ratelimit's rate syntax).

The counters are in Redis in production (the ``ratelimit`` cache alias) and in a file cache
every local process shares on the embedded default. The client's address comes from
:func:`client_ip`, which believes ``X-Forwarded-For`` only as far as ``NUM_PROXIES`` reverse
proxies: a client cannot pick a fresh address per request by sending the header itself.

When the counter store is unreachable the limiter steps aside (and says so in the log and
``ticketflow_ratelimit_unavailable_total``): an outage of the cache must not lock every
buyer out, and the login has django-axes' database-backed lockout behind it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from django_redis.exceptions import ConnectionInterrupted
from prometheus_client import Counter
from redis.exceptions import RedisError
from rest_framework.throttling import BaseThrottle

from ticketflow.network import client_ip

if TYPE_CHECKING:  # DRF imports its throttle classes while rest_framework.views loads
    from rest_framework.request import Request

logger = logging.getLogger(__name__)

THROTTLED = Counter(
    "ticketflow_ratelimit_throttled_total", "Requests refused by a rate limit, by scope.", ["scope"]
)
UNAVAILABLE = Counter(
    "ticketflow_ratelimit_unavailable_total",
    "Limit checks that could not reach the counter store and let the request through.",
    ["scope"],
)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of counting one request: allowed, or refused for ``retry_after`` seconds."""

    allowed: bool
    retry_after: int = 0


def rate_for(scope: str) -> str:
    """The configured rate of ``scope``; an unknown scope is a programming error."""
    try:
        return settings.RATE_LIMITS[scope]
    except KeyError:
        raise KeyError(f"No rate configured for limit scope {scope!r} (settings.RATE_LIMITS)") from None


def consume(request: HttpRequest, scope: str, key: str) -> Verdict:
    """Count one request of ``key`` (an account, an address, an email) against ``scope``."""
    rate = rate_for(scope)
    try:
        usage = get_usage(request, group=scope, key=lambda _group, _request: key, rate=rate, increment=True)
    except (ConnectionInterrupted, RedisError, OSError):
        UNAVAILABLE.labels(scope).inc()
        logger.warning("rate limit store unavailable; letting the request through", extra={"scope": scope})
        return Verdict(allowed=True)
    if usage is None or not usage["should_limit"]:
        return Verdict(allowed=True)
    THROTTLED.labels(scope).inc()
    return Verdict(allowed=False, retry_after=max(1, int(usage["time_left"])))


def requester_key(request: HttpRequest) -> str:
    """Who is asking: the signed-in account, or else the client's address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{client_ip(request)}"


class ScopedLimit(BaseThrottle):
    """DRF throttle on the shared limiter, scoped by the view's ``throttle_scope``."""

    def __init__(self) -> None:
        self.verdict = Verdict(allowed=True)

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        self.verdict = consume(request._request, scope, requester_key(request))
        return self.verdict.allowed

    def wait(self) -> float | None:
        return float(self.verdict.retry_after) if not self.verdict.allowed else None

    def get_ident(self, request: Request) -> str:
        return client_ip(request._request)
