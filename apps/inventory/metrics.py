"""Inventory's own Prometheus metrics."""

from __future__ import annotations

from prometheus_client import Counter

_swept = Counter(
    "ticketflow_seats_swept_total",
    "Seats put back on sale by the sweep because their hold lapsed without a release (a lost saga event).",
)


def seats_swept(count: int) -> None:
    _swept.inc(count)


_waitlist = Counter(
    "ticketflow_waitlist_changes_total",
    "Waiting-list changes: buyers joined, offers made, offers booked or lapsed, buyers who left.",
    ["change"],
)


def waitlist_changed(change: str, count: int = 1) -> None:
    _waitlist.labels(change=change).inc(count)
