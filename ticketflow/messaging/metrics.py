"""Prometheus metrics of the event pipeline (served at /metrics with Django's own)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

published = Counter("ticketflow_outbox_published_total", "Events the relay published.", ["alias", "topic"])
publish_failures = Counter(
    "ticketflow_outbox_publish_failures_total",
    "Events the relay failed to publish (retried).",
    ["alias", "topic"],
)
commit_to_publish = Histogram(
    "ticketflow_outbox_commit_to_publish_seconds",
    "Time from an event's commit to its acknowledged publication.",
    ["alias"],
    buckets=LATENCY_BUCKETS,
)
handled = Counter(
    "ticketflow_consumer_messages_total",
    "Messages consumed, by outcome (applied, duplicate, ignored, dead_lettered).",
    ["consumer", "topic", "outcome"],
)
handler_duration = Histogram(
    "ticketflow_consumer_handler_seconds",
    "Time spent applying one event: handler, inbox row and commit when alone; its handler's "
    "time in a batch (a bulk handler's shared evenly among its events).",
    ["consumer", "topic"],
    buckets=LATENCY_BUCKETS,
)
handler_retries = Counter(
    "ticketflow_consumer_retries_total",
    "Handler attempts that failed and were retried.",
    ["consumer", "topic"],
)
dead_letters = Counter(
    "ticketflow_dead_letters_total", "Messages sent to a dead-letter topic or table.", ["consumer", "topic"]
)
consumer_lag = Gauge(
    "ticketflow_consumer_lag",
    "Messages between a consumer group's position and the end of the partition.",
    ["consumer", "topic", "partition"],
    multiprocess_mode="livemax",
)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

consumer_batch_size = Histogram(
    "ticketflow_consumer_batch_size",
    "Messages a consumer applied in one transaction (one poll's worth).",
    ["consumer"],
    buckets=BATCH_SIZE_BUCKETS,
)
consumer_batch_seconds = Histogram(
    "ticketflow_consumer_batch_seconds",
    "Time spent applying one batch: inbox rows, every handler and the commit.",
    ["consumer"],
    buckets=LATENCY_BUCKETS,
)
consumer_batch_fallbacks = Counter(
    "ticketflow_consumer_batch_fallbacks_total",
    "Batches rolled back and re-applied one message at a time (a message failed).",
    ["consumer"],
)
