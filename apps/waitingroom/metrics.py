"""The waiting room in Prometheus.

Counters and the wait histogram are counted where they happen (web processes admitting
lazily, the Celery worker on beat); Prometheus sums them. Queue lengths and active shoppers
are read from the queue store on each scrape (:class:`WaitingRoomCollector`), so every
process reports the same truth: ``ticketflow_waitingroom_queue_length{event_id}`` and
``ticketflow_waitingroom_active_shoppers{event_id}``.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_joined = Counter("ticketflow_waitingroom_joined_total", "Accounts that took a place in a queue.", ["phase"])
_admitted = Counter(
    "ticketflow_waitingroom_admitted_total", "Accounts let in to shop (rate()*60 is admitted/min)."
)
_wait = Histogram(
    "ticketflow_waitingroom_wait_seconds",
    "Time from joining (or the sale's start, for the pre-queue) to admission.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
_abandoned = Counter(
    "ticketflow_waitingroom_abandoned_total", "Accounts that gave up their place while waiting.", ["reason"]
)
_left_shopping = Counter(
    "ticketflow_waitingroom_left_shopping_total", "Admitted accounts that handed their place back early."
)
_windows_ended = Counter(
    "ticketflow_waitingroom_windows_ended_total", "Shopping windows that ran out, freeing their place."
)
_closed = Counter(
    "ticketflow_waitingroom_closed_answers_total", "Queue answers that said closed, by reason.", ["reason"]
)


def joined(*, prequeue: bool) -> None:
    _joined.labels("prequeue" if prequeue else "sale").inc()


def admitted(*, wait_seconds: float) -> None:
    _admitted.inc()
    _wait.observe(wait_seconds)


def abandoned(reason: str) -> None:
    _abandoned.labels(reason).inc()


def left_shopping() -> None:
    _left_shopping.inc()


def windows_ended(count: int) -> None:
    _windows_ended.inc(count)


def closed(reason: str) -> None:
    _closed.labels(reason).inc()


class WaitingRoomCollector(Collector):
    """Queue length and active shoppers of every event whose queue is on."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from apps.waitingroom.selectors import queue_counts

        length = GaugeMetricFamily(
            "ticketflow_waitingroom_queue_length", "Accounts waiting in line, per event.", labels=["event_id"]
        )
        active = GaugeMetricFamily(
            "ticketflow_waitingroom_active_shoppers",
            "Admitted accounts shopping now, per event.",
            labels=["event_id"],
        )
        try:
            rows = queue_counts()
        except Exception:
            # A scrape must not fail because Redis or the database is down; the gauges are empty.
            rows = []
        for event_id, waiting, shopping in rows:
            length.add_metric([event_id], waiting)
            active.add_metric([event_id], shopping)
        yield length
        yield active
