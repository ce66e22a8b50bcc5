"""Expose Prometheus metrics from a worker process that serves no HTTP of its own."""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

logger = logging.getLogger("ticketflow.relay")


def serve_metrics(port: int) -> None:
    """Serve this process's metrics on ``port`` (a daemon thread)."""
    start_http_server(port)
    logger.info("metrics on :%d/metrics", port)
