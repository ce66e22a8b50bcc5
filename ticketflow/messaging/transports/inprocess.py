"""The embedded default's transport: publishing an event applies it to every subscriber.

There is no broker. The relay drains the outbox exactly as it does for Kafka, and
``publish`` hands the batch to :func:`~ticketflow.messaging.dispatch.deliver_batch` for each
context that handles any of its types, in this process, through the same inbox, batch
transactions and retry budget as the Kafka consumers (each context sees the events in
outbox order, up to ``CONSUMER_BATCH_SIZE`` per transaction). Dead letters become
:class:`~ticketflow.messaging.models.DeadLetter` rows on the context's database. An event
counts as published once every subscriber has applied or dead-lettered it; if the process
dies first, the row stays pending and the inbox absorbs the repeat.

A database that does not answer (SQLite's "database is locked" under a writer from another
process, a lost connection) is reported as :class:`TransportUnavailable`, like a broker that
is down: the relay leaves the batch pending, backs off and tries again, and the contexts
that had applied part of it find those events in their inboxes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings

from ticketflow import db
from ticketflow.messaging import dispatch
from ticketflow.messaging.envelope import MalformedEvent, decode
from ticketflow.messaging.handlers import consumer_group, subscribers
from ticketflow.messaging.models import DeadLetter
from ticketflow.messaging.outbox import PendingEvent
from ticketflow.messaging.transports.base import PublishResult, TransportUnavailable

logger = logging.getLogger(__name__)


def record_dead_letter(context: str, topic: str, raw: bytes, error: BaseException, attempts: int) -> None:
    """Keep a message the in-process transport gave up on, for ``manage.py replay``."""
    body = raw.decode("utf-8", errors="replace")
    try:
        event_id = str(decode(raw).id)
    except MalformedEvent:
        event_id = ""
    DeadLetter.objects.using(db.alias_for(context)).create(
        consumer=consumer_group(context),
        topic=topic,
        event_id=event_id,
        body=body,
        error=f"{type(error).__name__}: {error}",
        attempts=attempts,
    )


class InProcessTransport:
    name = "inprocess"
    remote = False

    def publish(self, events: Sequence[PendingEvent]) -> PublishResult:
        """Apply ``events`` to each subscribing context in batches; all are sent on return.

        Raises :class:`TransportUnavailable` when a context's database does not answer.
        """
        size = int(settings.TICKETFLOW_EVENTS["CONSUMER_BATCH_SIZE"])
        per_context: dict[str, list[dispatch.Incoming]] = {}
        for event in events:
            incoming = dispatch.Incoming(event.body.encode(), event.topic, record_dead_letter)
            for context in subscribers(event.topic):
                per_context.setdefault(context, []).append(incoming)
        # Contexts are independent, so each may take its events in one run; within a
        # context the outbox order is kept.
        try:
            for context, batch in sorted(per_context.items()):
                for start in range(0, len(batch), size):
                    for _ in dispatch.deliver_batch(batch[start : start + size], context):
                        pass
        except dispatch.InfrastructureUnavailable as error:
            raise TransportUnavailable(str(error)) from error
        return PublishResult(sent={event.id for event in events})

    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Nothing to create: topics are just names here."""

    def health(self) -> None:
        """Always available: it lives in this process."""

    def close(self) -> None:
        """Nothing to release."""
