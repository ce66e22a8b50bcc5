"""Who is on the other end of a request: the client's address, and whether it is internal.

``NUM_PROXIES`` says how many reverse proxies stand in front of the web process. Each appends
the address it saw to ``X-Forwarded-For``, so only the last ``NUM_PROXIES`` entries are
believed; anything further left was written by the client and is ignored.
"""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: the peer, or the hop the outermost trusted proxy saw."""
    remote = request.META.get("REMOTE_ADDR") or "unknown"
    proxies = settings.NUM_PROXIES
    if not proxies:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < proxies:
        return hops[0] if hops else remote
    return hops[-proxies]


@cache
def _networks(spec: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in spec)


def internal_caller(request: HttpRequest) -> bool:
    """Whether the client is on ``METRICS_ALLOWED_NETWORKS`` (an empty list allows everyone)."""
    allowed = tuple(settings.METRICS_ALLOWED_NETWORKS)
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in _networks(allowed))
