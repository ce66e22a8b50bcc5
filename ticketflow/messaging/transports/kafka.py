"""Apache Kafka transport (confluent-kafka / librdkafka).

The producer is idempotent with ``acks=all``: a retried send never duplicates or reorders a
partition. Each event is keyed by its ``aggregate_id`` so one booking's events share a
partition. ``publish`` waits until every message of the batch has a definite outcome
(acknowledged, or failed after ``message.timeout.ms``), so the relay marks sent only what the
broker really has.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ticketflow.messaging.outbox import PendingEvent
from ticketflow.messaging.topics import DEAD_LETTER_SUFFIX
from ticketflow.messaging.transports.base import PublishResult, TransportUnavailable

logger = logging.getLogger(__name__)

MESSAGE_TIMEOUT_MS = 30_000


class KafkaTransport:
    name = "kafka"
    remote = True

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.bootstrap = str(options["BOOTSTRAP_SERVERS"])
        self.namespace = str(options.get("NAMESPACE") or "")
        self.partitions = int(options.get("PARTITIONS") or 6)
        self.replication = int(options.get("REPLICATION_FACTOR") or 1)
        self._producer: Producer | None = None
        self._admin: AdminClient | None = None
        self._lock = threading.Lock()

    # --- names ------------------------------------------------------------------------------

    def physical(self, topic: str) -> str:
        """The broker-side name of a catalogue topic (prefixed by KAFKA_NAMESPACE)."""
        return f"{self.namespace}{topic}"

    def logical(self, physical_topic: str) -> str:
        return physical_topic.removeprefix(self.namespace)

    def dead_letter_topic(self, topic: str) -> str:
        return self.physical(topic + DEAD_LETTER_SUFFIX)

    # --- clients ----------------------------------------------------------------------------

    @property
    def producer(self) -> Producer:
        with self._lock:
            if self._producer is None:
                self._producer = Producer(
                    {
                        "bootstrap.servers": self.bootstrap,
                        "client.id": "ticketflow-relay",
                        "enable.idempotence": True,
                        "acks": "all",
                        "linger.ms": 5,
                        "batch.num.messages": 10_000,
                        "compression.type": "lz4",
                        "message.timeout.ms": MESSAGE_TIMEOUT_MS,
                        "queue.buffering.max.messages": 200_000,
                        "reconnect.backoff.max.ms": 2_000,
                    }
                )
            return self._producer

    @property
    def admin(self) -> AdminClient:
        with self._lock:
            if self._admin is None:
                self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 5_000})
            return self._admin

    def consumer(self, group: str, **overrides: Any) -> Consumer:
        """A consumer that commits only offsets the runner stored after its transaction."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "group.id": group,
            "client.id": group,
            "enable.auto.commit": True,
            "auto.commit.interval.ms": 200,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
            "max.poll.interval.ms": 300_000,
            "fetch.wait.max.ms": 50,
            # Notice topics created after subscribing within seconds, not the default 5 minutes.
            "topic.metadata.refresh.interval.ms": 10_000,
        }
        config.update(overrides)
        return Consumer(config)

    # --- publishing -------------------------------------------------------------------------

    def publish(self, events: Sequence[PendingEvent]) -> PublishResult:
        result = PublishResult()
        producer = self.producer

        def delivered(event_id: str) -> Any:
            def callback(error: KafkaError | None, _message: Message) -> None:
                if error is None:
                    result.sent.add(event_id)
                else:
                    result.failed[event_id] = str(error)

            return callback

        for event in events:
            self._produce(
                producer,
                topic=self.physical(event.topic),
                key=event.aggregate_id.encode(),
                value=event.body.encode(),
                headers=[("event_id", event.id.encode()), ("type", event.topic.encode())],
                on_delivery=delivered(event.id),
            )
        producer.flush(MESSAGE_TIMEOUT_MS / 1000 + 5)
        for event in events:
            if event.id not in result.sent and event.id not in result.failed:
                result.failed[event.id] = "no acknowledgement within the delivery timeout"
        return result

    @staticmethod
    def _produce(producer: Producer, **kwargs: Any) -> None:
        while True:
            try:
                producer.produce(**kwargs)
                return
            except BufferError:
                # The local queue is full: let librdkafka send some, then try again.
                producer.poll(0.05)

    def dead_letter(
        self,
        context: str,
        topic: str,
        raw: bytes,
        error: BaseException,
        attempts: int,
        *,
        group: str,
        key: bytes | None = None,
    ) -> None:
        """Park a message on ``<topic>.DLT`` with why and by whom it was given up on."""
        producer = self.producer
        failures: list[str] = []
        producer.produce(
            self.dead_letter_topic(topic),
            key=key,
            value=raw,
            headers=[
                ("consumer", group.encode()),
                ("context", context.encode()),
                ("original_topic", topic.encode()),
                ("error", f"{type(error).__name__}: {error}"[:4000].encode()),
                ("attempts", str(attempts).encode()),
            ],
            on_delivery=lambda err, _msg: failures.append(str(err)) if err else None,
        )
        if producer.flush(MESSAGE_TIMEOUT_MS / 1000 + 5) or failures:
            raise TransportUnavailable(f"could not dead-letter a {topic} message: {failures}")

    # --- administration ---------------------------------------------------------------------

    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create missing topics, then warm the producer's metadata for each of them."""
        names = {self.physical(t) for t in topics} | {self.dead_letter_topic(t) for t in topics}
        try:
            existing = set(self.admin.list_topics(timeout=10).topics)
        except KafkaException as error:
            raise TransportUnavailable(f"Kafka at {self.bootstrap} does not answer: {error}") from error
        self._create(sorted(names - existing))
        # Without this, the first message to each topic waits ~500 ms in librdkafka's
        # unassigned queue for metadata: a latency spike for every topic after each restart.
        try:
            for name in sorted(names):
                self.producer.list_topics(name, timeout=10)
        except KafkaException as error:
            raise TransportUnavailable(f"Kafka at {self.bootstrap} does not answer: {error}") from error

    def _create(self, missing: Sequence[str]) -> None:
        if not missing:
            return
        futures = self.admin.create_topics(
            [
                NewTopic(name, num_partitions=self.partitions, replication_factor=self.replication)
                for name in missing
            ],
            operation_timeout=15,
        )
        for name, future in futures.items():
            try:
                future.result()
                logger.info("created topic %s with %d partitions", name, self.partitions)
            except KafkaException as error:
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TransportUnavailable(f"could not create topic {name}: {error}") from error
        self._await_leaders(missing)

    def _await_leaders(self, names: Sequence[str], timeout: float = 30.0) -> None:
        """Wait until every partition of ``names`` has a leader: a consumer subscribing to a
        topic the broker is still creating would otherwise not see it until its next
        metadata refresh."""
        deadline = time.monotonic() + timeout
        while True:
            topics = self.admin.list_topics(timeout=10).topics
            if all(
                name in topics
                and topics[name].partitions
                and all(p.leader >= 0 for p in topics[name].partitions.values())
                for name in names
            ):
                return
            if time.monotonic() > deadline:
                raise TransportUnavailable(
                    f"topics {sorted(names)} still have no leaders after {timeout:.0f}s"
                )
            time.sleep(0.1)

    def delete_namespace(self) -> int:
        """Delete every topic of this namespace (tests and benchmarks clean up after themselves).

        Refused without a namespace: production topics are never deleted by code.
        """
        if not self.namespace:
            raise ValueError("refusing to delete topics without a KAFKA_NAMESPACE")
        names = [
            name for name in self.admin.list_topics(timeout=10).topics if name.startswith(self.namespace)
        ]
        for future in (self.admin.delete_topics(names, operation_timeout=60) if names else {}).values():
            future.result()
        return len(names)

    def health(self) -> None:
        try:
            self.admin.list_topics(timeout=3)
        except KafkaException as error:
            raise TransportUnavailable(f"Kafka at {self.bootstrap} does not answer: {error}") from error

    def close(self) -> None:
        with self._lock:
            if self._producer is not None:
                self._producer.flush(10)
                self._producer = None


def position(message: Message) -> tuple[str, int, int]:
    """A consumed message's topic, partition and offset.

    librdkafka sets all three on every message it delivers without an error; the client's
    types allow ``None`` only for error events, which callers have already set aside.
    """
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise KafkaException(message.error())
    return topic, partition, offset
