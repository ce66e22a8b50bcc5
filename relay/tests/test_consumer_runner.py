"""The consumer runner's batch loop with a stand-in Kafka consumer: polling and stored offsets."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from confluent_kafka import TopicPartition

from relay import consumers
from relay.consumers import ConsumerRunner
from ticketflow.messaging.dispatch import Incoming, InfrastructureUnavailable, Outcome
from ticketflow.messaging.transports.kafka import KafkaTransport

pytestmark = pytest.mark.embedded


@dataclass
class FakeMessage:
    topic_name: str
    partition_id: int
    offset_value: int

    def topic(self) -> str:
        return self.topic_name

    def partition(self) -> int:
        return self.partition_id

    def offset(self) -> int:
        return self.offset_value

    def value(self) -> bytes:
        return f"{self.partition_id}@{self.offset_value}".encode()

    def key(self) -> bytes:
        return b"key"

    def error(self) -> None:
        return None


@dataclass
class FakeConsumer:
    queued: list[FakeMessage] = field(default_factory=list)
    calls: list[tuple[int, float]] = field(default_factory=list)
    stored: list[list[tuple[str, int, int]]] = field(default_factory=list)

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        self.calls.append((num_messages, timeout))
        taken, self.queued = self.queued[:num_messages], self.queued[num_messages:]
        return taken

    def store_offsets(self, *, offsets: Sequence[TopicPartition]) -> None:
        self.stored.append(sorted((tp.topic, tp.partition, tp.offset) for tp in offsets))


@pytest.fixture
def runner() -> ConsumerRunner:
    transport = KafkaTransport({"BOOTSTRAP_SERVERS": "unused:9092", "NAMESPACE": ""})
    return ConsumerRunner("probe", transport, threading.Event(), batch_size=5)


def test_a_poll_waits_for_one_message_then_drains_what_is_fetched_up_to_the_batch_size(
    runner: ConsumerRunner,
) -> None:
    consumer = FakeConsumer(queued=[FakeMessage("t", 0, n) for n in range(8)])

    first = runner._poll(consumer)  # type: ignore[arg-type]
    second = runner._poll(consumer)  # type: ignore[arg-type]

    assert [m.offset() for m in first] == [0, 1, 2, 3, 4]
    assert [m.offset() for m in second] == [5, 6, 7]
    assert consumer.calls[:2] == [(1, consumers.POLL_TIMEOUT_SECONDS), (4, 0)]


def test_offsets_are_stored_for_what_settled_and_the_rest_is_offered_again_after_an_outage(
    runner: ConsumerRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    offered: list[list[bytes]] = []

    def deliver_batch(batch: Sequence[Incoming], context: str) -> Iterator[Outcome]:
        offered.append([incoming.raw for incoming in batch])
        if len(offered) == 1:
            # One at a time after a rollback: two messages settle, then the database goes away.
            yield Outcome.APPLIED
            yield Outcome.DEAD_LETTERED
            raise InfrastructureUnavailable("database down")
        yield from [Outcome.APPLIED] * len(batch)

    monkeypatch.setattr(consumers, "deliver_batch", deliver_batch)
    monkeypatch.setattr(runner.stop, "wait", lambda timeout: False)  # no real pause
    messages = [
        FakeMessage("t", 0, 10),
        FakeMessage("t", 1, 7),
        FakeMessage("t", 0, 11),
        FakeMessage("u", 2, 3),
    ]
    consumer = FakeConsumer()

    assert runner._handle(consumer, messages)  # type: ignore[arg-type]

    assert offered == [[b"0@10", b"1@7", b"0@11", b"2@3"], [b"0@11", b"2@3"]]
    # The next offset to read, per partition: the highest settled one plus one.
    assert consumer.stored == [[("t", 0, 11), ("t", 1, 8)], [("t", 0, 12), ("u", 2, 4)]]
    assert runner.processed == 4


def test_a_stop_during_an_outage_leaves_the_unsettled_offsets_alone(
    runner: ConsumerRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def deliver_batch(batch: Sequence[Incoming], context: str) -> Iterator[Outcome]:
        runner.stop.set()
        raise InfrastructureUnavailable("database down")
        yield Outcome.APPLIED  # a generator, like the real one

    monkeypatch.setattr(consumers, "deliver_batch", deliver_batch)
    consumer = FakeConsumer()

    assert not runner._handle(consumer, [FakeMessage("t", 0, 1)])  # type: ignore[arg-type]
    assert consumer.stored == []
    assert runner.processed == 0
