"""The Kafka consumer runner: one consumer group per bounded context.

For each message: apply it through :func:`ticketflow.messaging.dispatch.deliver` (handler +
inbox row in one transaction, bounded retries, dead-letter topic), and only then store its
offset; librdkafka commits stored offsets in the background and on close. A process killed
between the transaction and the commit sees the message again after restart, and the inbox
turns the repeat into a no-op. A database outage pauses the partition instead of
dead-lettering: the same message is offered again until the database answers.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import KafkaError, Message, TopicPartition
from django.db import connections

from ticketflow.messaging import metrics
from ticketflow.messaging.dispatch import InfrastructureUnavailable, deliver
from ticketflow.messaging.handlers import consumer_group, topics_for
from ticketflow.messaging.transports import TransportUnavailable
from ticketflow.messaging.transports.kafka import KafkaTransport

logger = logging.getLogger("ticketflow.consumer")

LAG_REPORT_SECONDS = 5.0


class ConsumerRunner:
    """Consume ``context``'s topics until ``stop`` is set."""

    def __init__(self, context: str, transport: KafkaTransport, stop: threading.Event) -> None:
        self.context = context
        self.transport = transport
        self.stop = stop
        self.group = consumer_group(context)
        self.topics = topics_for(context)
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
                message = consumer.poll(0.5)
                self._report_lag(consumer)
                if message is None:
                    continue
                if message.error():
                    self._on_error(message.error())
                    continue
                if self._handle(message):
                    consumer.store_offsets(message=message)
                    self.processed += 1
                else:
                    # Stopping mid-retry: leave the offset alone so the message comes back.
                    break
        finally:
            consumer.close()
            for alias in connections:
                connections[alias].close()
            logger.info("%s stopped after %d messages", self.group, self.processed)

    def _handle(self, message: Message) -> bool:
        """Apply one message, waiting out outages; False if asked to stop before it was done."""
        topic = self.transport.logical(message.topic())
        pause = 0.5
        while not self.stop.is_set():
            try:
                deliver(message.value() or b"", topic, self.context, self._dead_letter_sink(message))
                return True
            except (InfrastructureUnavailable, TransportUnavailable) as error:
                logger.warning("%s pausing %.1fs on %s: %s", self.group, pause, topic, error)
                self.stop.wait(pause)
                pause = min(pause * 2, 10.0)
        return False

    def _dead_letter_sink(self, message: Message):
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

    def _report_lag(self, consumer) -> None:
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
