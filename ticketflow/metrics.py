"""``GET /metrics``: Prometheus exposition of this process (or every local process).

With ``PROMETHEUS_MULTIPROC_DIR`` set (``make run`` sets it), the relay, consumers and
workers started on this machine write their samples there and this view merges them;
otherwise it serves this process's registry. In production it answers only the internal
networks (``METRICS_ALLOWED_NETWORKS``): to anyone else it does not exist. Outbox backlog is measured on each scrape, as
are the gauges of ``settings.METRICS_COLLECTORS`` (dotted paths of collector classes, so the
contexts can export what they read from their database without this module importing them).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ticketflow.messaging.outbox import OutboxStore
from ticketflow.network import internal_caller


class OutboxCollector(Collector):
    """Pending events and the age of the oldest one, per database alias."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "ticketflow_outbox_backlog", "Events waiting to be published.", labels=["alias"]
        )
        age = GaugeMetricFamily(
            "ticketflow_outbox_oldest_pending_seconds",
            "Age of the oldest unpublished event.",
            labels=["alias"],
        )
        for alias in settings.DATABASES:
            store = OutboxStore(alias, locking=False)
            try:
                backlog.add_metric([alias], store.backlog())
                age.add_metric([alias], store.oldest_pending_age())
            except Exception:  # noqa: S112 - a scrape must not fail because one database is down
                continue
        yield backlog
        yield age


_outbox_collector = OutboxCollector()


@cache
def _scrape_collector(path: str) -> Collector:
    return import_string(path)()


def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.PROMETHEUS_ENABLED or not internal_caller(request):
        raise Http404
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_RegistryProxy())
    registry.register(_outbox_collector)
    for path in settings.METRICS_COLLECTORS:
        registry.register(_scrape_collector(path))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _RegistryProxy(Collector):
    """Everything the process-wide registry holds (Django, relay and consumer metrics)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
