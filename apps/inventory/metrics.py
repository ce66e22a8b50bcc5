"""Inventory's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter

_swept = Counter(
    "ticketflow_seats_swept_total",
    "Seats put back on sale by the sweep because their hold lapsed without a release (a lost saga event).",
)


def seats_swept(count: int) -> None:
    _swept.inc(count)
