"""The Kafka consumer runner: one consumer group per bounded context.

Each poll takes up to ``CONSUMER_BATCH_SIZE`` messages and applies them through
:func:`ticketflow.messaging.dispatch.deliver_batch`: their inbox rows and every handler in
one transaction, or, if one of them fails, one message per transaction with bounded
retries and the dead-letter topic (docs/adr/008-batched-consumers.md). Only then are their
offsets stored; librdkafka commits stored offsets in the background and on close. A process
killed between the transaction and the commit sees the messages again after restart, and
the inbox turns the repeats into no-ops. A database outage pauses the consumer instead of
dead-lettering: the messages not yet applied are offered again until the database answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from django.conf import settings
from django.db import connections

from ticketflow.messaging import metrics
from ticketflow.messaging.dispatch import DeadLetterSink, Incoming, InfrastructureUnavailable, deliver_batch
from ticketflow.messaging.handlers import consumer_group, topics_for
from ticketflow.messaging.transports import TransportUnavailable
from ticketflow.messaging.transports.kafka import KafkaTransport, position

logger = logging.getLogger("ticketflow.consumer")

LAG_REPORT_SECONDS = 5.0
POLL_TIMEOUT_SECONDS = 0.5


class ConsumerRunner:
    """Consume ``context``'s topics until ``stop`` is set, up to ``batch_size`` messages a poll.

    ``batch_size`` defaults to ``TICKETFLOW_EVENTS["CONSUMER_BATCH_SIZE"]``; 1 applies each
    message in a transaction of its own.
    """

    def __init__(
        self, context: str, transport: KafkaTransport, stop: threading.Event, batch_size: int | None = None
    ) -> None:
        self.context = context
        self.transport = transport
        self.stop = stop
        self.group = consumer_group(context)
        self.topics = topics_for(context)
        self.batch_size = int(batch_size or settings.TICKETFLOW_EVENTS["CONSUMER_BATCH_SIZE"])
        if self.batch_size < 1:
            raise ValueError(f"a consumer batch holds at least one message, not {self.batch_size}")
        self.processed = 0
        self._last_lag_report = 0.0

    def run(self) -> None:
        if not self.topics:
            logger.warning("%s handles no events; nothing to consume", self.context)
            return
        self._ensure_topics()
        consumer = self.transport.consumer(self.group)
        consumer.subscribe([self.transport.physical(topic) for topic in self.topics])
        logger.info("%s consuming %s", self.group, ", ".join(self.topics))
        try:
            while not self.stop.is_set():
                polled = self._poll(consumer)
                self._report_lag(consumer)
                messages = []
                for message in polled:
                    if (error := message.error()) is not None:
                        self._on_error(error)
                    else:
                        messages.append(message)
                if messages and not self._handle(consumer, messages):
                    # Stopping mid-retry: leave the rest's offsets alone so they come back.
                    break
        finally:
            consumer.close()
            for alias in connections:
                connections[alias].close()
            logger.info("%s stopped after %d messages", self.group, self.processed)

    def _poll(self, consumer: Consumer) -> list[Message]:
        """Wait for one message, then take whatever else librdkafka has already fetched.

        ``consume(num_messages=N, timeout=T)`` waits the whole ``T`` unless ``N`` messages
        arrive, which would add ``T`` to every saga step under light load. Waiting for the
        first message alone and then draining without a timeout gives batches of one when
        traffic is light and of ``batch_size`` under a backlog (librdkafka prefetches).
        """
        polled = consumer.consume(num_messages=1, timeout=POLL_TIMEOUT_SECONDS)
        if polled and self.batch_size > 1:
            polled.extend(consumer.consume(num_messages=self.batch_size - 1, timeout=0))
        return polled

    def _handle(self, consumer: Consumer, messages: Sequence[Message]) -> bool:
        """Apply one poll's messages, waiting out outages; False if asked to stop before the end.

        Offsets are stored for each stretch of messages as soon as it has settled (committed,
        skipped or dead-lettered), so an outage halfway through a one-at-a-time fallback
        resumes at the first message not yet settled.
        """
        pending = list(messages)
        pause = 0.5
        while pending:
            incoming = [
                Incoming(m.value() or b"", self.transport.logical(position(m)[0]), self._dead_letter_sink(m))
                for m in pending
            ]
            settled = 0
            try:
                for _ in deliver_batch(incoming, self.context):
                    settled += 1
                pause = 0.5
            except (InfrastructureUnavailable, TransportUnavailable) as error:
                logger.warning("%s pausing %.1fs: %s", self.group, pause, error)
                self.stop.wait(pause)
                pause = min(pause * 2, 10.0)
            finally:
                self._store(consumer, pending[:settled])
                pending = pending[settled:]
            if pending and self.stop.is_set():
                return False
        return True

    def _store(self, consumer: Consumer, messages: Sequence[Message]) -> None:
        """Mark ``messages`` done: the next offset after the highest one, per partition."""
        if not messages:
            return
        following: dict[tuple[str, int], int] = {}
        for message in messages:
            topic, partition, offset = position(message)
            key = (topic, partition)
            following[key] = max(following.get(key, 0), offset + 1)
        self.processed += len(messages)
        try:
            consumer.store_offsets(
                offsets=[TopicPartition(t, partition, offset) for (t, partition), offset in following.items()]
            )
        except KafkaException as error:
            # A rebalance took a partition away while its batch was being applied: its new
            # owner starts from the last commit and finds these events in the inbox.
            logger.warning("%s could not store offsets: %s", self.group, error)

    def _dead_letter_sink(self, message: Message) -> DeadLetterSink:
        def sink(context: str, topic: str, raw: bytes, error: BaseException, attempts: int) -> None:
            self.transport.dead_letter(
                context, topic, raw, error, attempts, group=self.group, key=message.key()
            )
            logger.error(
                "%s dead-lettered %s[%d]@%d after %d attempts: %s",
                self.group,
                topic,
                message.partition(),
                message.offset(),
                attempts,
                error,
            )

        return sink

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise TransportUnavailable(f"fatal consumer error: {error}")
        if error.code() != KafkaError._PARTITION_EOF:
            logger.warning("%s: %s", self.group, error)

    def _ensure_topics(self) -> None:
        pause = 0.5
        while not self.stop.is_set():
            try:
                self.transport.ensure_topics(self.topics)
                return
            except TransportUnavailable as error:
                logger.warning("%s waiting for Kafka: %s", self.group, error)
                self.stop.wait(pause)
                pause = min(pause * 2, 10.0)

    def _report_lag(self, consumer: Consumer) -> None:
        now = time.monotonic()
        if now - self._last_lag_report < LAG_REPORT_SECONDS:
            return
        self._last_lag_report = now
        try:
            assignment = consumer.assignment()
            positions = consumer.position(assignment) if assignment else []
        except Exception:
            return
        for partition in positions:
            _, high = consumer.get_watermark_offsets(
                TopicPartition(partition.topic, partition.partition), cached=True
            )
            if partition.offset < 0 or high < 0:
                continue
            metrics.consumer_lag.labels(
                self.group, self.transport.logical(partition.topic), str(partition.partition)
            ).set(max(0, high - partition.offset))
