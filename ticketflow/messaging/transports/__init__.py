"""Event transports: Kafka in production and tests, in-process for the embedded default."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from ticketflow.messaging.transports.base import PublishResult, Transport, TransportUnavailable


@lru_cache(maxsize=1)
def get_transport() -> Transport:
    """The process's shared transport, chosen by settings (Kafka when KAFKA_BOOTSTRAP_SERVERS is set)."""
    return new_transport()


def new_transport() -> Transport:
    """A transport of its own (its own producer), for a relay worker thread."""
    options = settings.TICKETFLOW_EVENTS
    if options["TRANSPORT"] == "kafka":
        from ticketflow.messaging.transports.kafka import KafkaTransport

        return KafkaTransport(options)
    from ticketflow.messaging.transports.inprocess import InProcessTransport

    return InProcessTransport()


__all__ = ("PublishResult", "Transport", "TransportUnavailable", "get_transport", "new_transport")
