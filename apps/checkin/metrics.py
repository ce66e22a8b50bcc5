"""Check-in in Prometheus: scans by type and result, and tickets per event by status.

Scans are counted as they commit (a counter is safe across processes). Ticket counts are
read from the database on each scrape instead, so every web process reports the same truth
however many of them scanned: ``ticketflow_checkin_tickets{event_id, event, status}``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.checkin.selectors import ticket_counts_around

_scans = Counter(
    "ticketflow_checkin_scans_total", "Scans at the door, by type and answer.", ["type", "result"]
)

SCRAPE_WINDOW = timedelta(days=2)
"""Events that start within this window either side of now are reported (the doors that are open)."""


def scanned(scan_type: str, result: str) -> None:
    _scans.labels(scan_type, result).inc()


class CheckinCollector(Collector):
    """Tickets per event and status, for events around now."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "ticketflow_checkin_tickets",
            "Tickets of events around now, by status (checked_in / sold is the door's progress).",
            labels=["event_id", "event", "status"],
        )
        try:
            rows = ticket_counts_around(moment=timezone.now(), window=SCRAPE_WINDOW)
        except Exception:
            # A scrape must not fail because the database is down; the gauge is simply empty.
            rows = []
        for row in rows:
            for status, count in row.by_status.items():
                gauge.add_metric([row.event_id, row.name, status], count)
        yield gauge
