"""The saga backbone against real PostgreSQL and Kafka, with real relay and consumer processes.

Each test gets its own Kafka namespace (fresh topics and consumer groups), starts
``manage.py relay`` / ``manage.py consume probe`` as separate processes, and kills them the
hard way where the point is surviving a crash.
"""

from __future__ import annotations

import subprocess
import time
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, TopicPartition
from django.conf import settings

from tests.probe.models import ProbeEffect, ProbeSwitch
from tests.probe.schemas import PROBE_BULK_TOPIC, PROBE_TOPIC, ProbeRecorded
from tests.probe.services import probe_emit
from tests.support.processes import ROOT, ManagedProcess, service_env, wait_until
from tests.support.smtp import free_port
from ticketflow import db
from ticketflow.messaging.models import InboxMessage, OutboxMessage
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.transports.kafka import KafkaTransport

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


class Stack:
    """Relay and consumer processes for one test, in one Kafka namespace."""

    def __init__(self, namespace: str, log_dir: Path) -> None:
        self.namespace = namespace
        self.log_dir = log_dir
        self.env = service_env(KAFKA_NAMESPACE=namespace)
        self.processes: list[ManagedProcess] = []
        self.transport = KafkaTransport({**settings.TICKETFLOW_EVENTS, "NAMESPACE": namespace})

    def start(self, name: str, *args: str) -> ManagedProcess:
        process = ManagedProcess(name, list(args), self.env, self.log_dir)
        self.processes.append(process)
        return process

    def relay(self, name: str = "relay", *args: str) -> ManagedProcess:
        return self.start(name, "relay", "--poll-interval", "0.2", *args)

    def consumer(self, name: str = "consumer", *args: str) -> ManagedProcess:
        return self.start(name, "consume", "probe", *args)

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def read(self, topic: str) -> list:
        """Every message currently on ``topic`` (all partitions, from the start)."""
        consumer = self.transport.consumer(f"reader-{uuid.uuid4().hex}", **{"enable.partition.eof": True})
        name = self.transport.physical(topic)
        partitions = consumer.list_topics(name, timeout=10).topics[name].partitions
        consumer.assign([TopicPartition(name, p, 0) for p in partitions])
        remaining, messages = set(partitions), []
        try:
            while remaining:
                message = consumer.poll(10)
                assert message is not None, f"{name} stopped answering"
                if message.error():
                    assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                    remaining.discard(message.partition())
                else:
                    messages.append(message)
        finally:
            consumer.close()
        return messages

    def stop_all(self) -> None:
        for process in self.processes:
            if process.alive():
                process.terminate()
        self.transport.delete_namespace()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(f"k{uuid.uuid4().hex[:10]}-", tmp_path)
    yield stack
    stack.stop_all()
    for process in stack.processes:
        # pytest shows this only when the test failed.
        print(f"--- {process.name} ---\n{process.output()[-4000:]}")


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def applied(run: str) -> int:
    return ProbeEffect.objects.filter(run=run).count()


def assert_exactly_once_in_order(run: str, expected: dict[str, list[int]]) -> None:
    rows = list(
        ProbeEffect.objects.filter(run=run).order_by("id").values_list("aggregate_id", "seq", "event_id")
    )
    assert len({event_id for *_, event_id in rows}) == len(rows), "an event was applied twice"
    seen: dict[str, list[int]] = defaultdict(list)
    for aggregate_id, seq, _ in rows:
        seen[aggregate_id].append(seq)
    assert dict(seen) == expected


def test_per_aggregate_order_holds_across_partitions_with_two_relays(stack: Stack) -> None:
    run = uuid.uuid4().hex
    aggregates = [f"order-{i}" for i in range(40)]
    for seq in range(1, 26):
        probe_emit(run, [(aggregate, seq) for aggregate in aggregates])

    stack.relay("relay-a", "--batch-size", "50")
    stack.relay("relay-b", "--batch-size", "50")
    stack.consumer()
    wait_until(lambda: applied(run) >= 1000, timeout=120, what="1,000 events applied")

    assert_exactly_once_in_order(run, {aggregate: list(range(1, 26)) for aggregate in aggregates})
    messages = stack.read(PROBE_TOPIC)
    assert len(messages) == 1000, "two relays published some claimed event twice"
    partitions_per_aggregate = defaultdict(set)
    for message in messages:
        partitions_per_aggregate[message.key().decode()].add(message.partition())
    assert all(len(partitions) == 1 for partitions in partitions_per_aggregate.values())
    assert len({p for ps in partitions_per_aggregate.values() for p in ps}) > 1, (
        "one partition proves nothing"
    )


def test_a_rolled_back_transaction_publishes_nothing(stack: Stack) -> None:
    run = uuid.uuid4().hex
    with pytest.raises(RuntimeError), db.atomic("default"):
        emit(ProbeRecorded(run=run, seq=1), aggregate_id="ghost", using="default")
        raise RuntimeError("rolled back")
    probe_emit(run, [("real", 1)])

    relay = stack.relay()
    consumer = stack.consumer()
    wait_until(lambda: applied(run) == 1, timeout=60, what="the committed event")

    assert [m.key() for m in stack.read(PROBE_TOPIC)] == [b"real"]
    assert list(ProbeEffect.objects.filter(run=run).values_list("aggregate_id", flat=True)) == ["real"]
    # SIGTERM: each finishes the work in hand and exits cleanly.
    assert relay.terminate(timeout=20) == 0
    assert consumer.terminate(timeout=20) == 0
    assert "relay stopped after publishing 1 events" in relay.output()
    assert "stopped after 1 messages" in consumer.output()


@pytest.mark.chaos
def test_a_relay_killed_mid_batch_loses_nothing_and_nothing_applies_twice(stack: Stack) -> None:
    run = uuid.uuid4().hex
    aggregates = [f"order-{i}" for i in range(30)]
    for seq in range(1, 101):
        probe_emit(run, [(aggregate, seq) for aggregate in aggregates])
    total = OutboxMessage.objects.using("default").filter(pending=True).count()
    assert total == 3000

    relay = stack.relay("relay-1", "--batch-size", "100")
    wait_until(
        lambda: OutboxMessage.objects.using("default").filter(pending=False).count() >= 500,
        timeout=60,
        interval=0.01,
        what="the relay to get going",
    )
    relay.kill()
    pending_after_kill = OutboxMessage.objects.using("default").filter(pending=True).count()
    assert 0 < pending_after_kill < total, "the kill should land while the relay is busy"

    stack.relay("relay-2", "--batch-size", "100")
    stack.consumer()
    wait_until(lambda: applied(run) >= total, timeout=120, what="every event applied after the restart")

    assert_exactly_once_in_order(run, {aggregate: list(range(1, 101)) for aggregate in aggregates})
    assert len(stack.read(PROBE_TOPIC)) >= total
    assert OutboxMessage.objects.using("default").filter(pending=True).count() == 0


@pytest.mark.chaos
def test_a_consumer_killed_mid_handler_applies_the_event_exactly_once(stack: Stack, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    marker = tmp_path / "handler-started"
    stack.relay()
    consumer = stack.consumer("consumer-1")
    [slow_id] = probe_emit(run, [("slow", 1)], sleep_seconds=3.0, marker=str(marker))

    wait_until(marker.exists, timeout=60, what="the handler to start")
    consumer.kill()
    assert applied(run) == 0, "the killed handler's transaction must not have committed"

    stack.consumer("consumer-2")
    probe_emit(run, [("after", 1), ("after", 2)])
    wait_until(lambda: applied(run) == 3, timeout=90, what="the redelivered event and the rest")

    assert_exactly_once_in_order(run, {"slow": [1], "after": [1, 2]})
    assert marker.read_text().split() == [slow_id, slow_id], "the handler should have run twice"
    assert (
        InboxMessage.objects.using("default").filter(consumer=f"{stack.namespace}ticketflow.probe").count()
        == 3
    )


@pytest.mark.chaos
def test_the_relay_rides_out_a_kafka_outage(stack: Stack) -> None:
    run = uuid.uuid4().hex
    kafka = str(ROOT / "deploy/local/kafka.sh")
    relay = stack.relay()
    consumer = stack.consumer()
    probe_emit(run, [(f"before-{i}", 1) for i in range(50)])
    wait_until(lambda: applied(run) == 50, timeout=60, what="events before the outage")

    try:
        subprocess.run([kafka, "stop"], check=True, capture_output=True, timeout=120)
        probe_emit(run, [(f"during-{i}", 1) for i in range(200)])
        time.sleep(3)  # the relay claims the batch and waits on a broker that is not there
        assert OutboxMessage.objects.using("default").filter(pending=True).count() == 200
        assert relay.alive()
    finally:
        subprocess.run([kafka, "start"], check=True, capture_output=True, timeout=180)

    wait_until(lambda: applied(run) == 250, timeout=180, what="events written during the outage")
    assert relay.alive(), "the relay should have recovered by itself"
    assert consumer.alive(), "the consumer should have recovered by itself"
    assert OutboxMessage.objects.using("default").filter(pending=True).count() == 0


def test_a_poison_message_is_dead_lettered_and_replay_re_drives_it_after_a_fix(stack: Stack) -> None:
    run = uuid.uuid4().hex
    metrics_port = free_port()
    stack.relay()
    stack.consumer("consumer", "--metrics-port", str(metrics_port))
    probe_emit(run, [("p", 1)])
    [poison_id] = probe_emit(run, [("p", 2)], poison=True)
    probe_emit(run, [("p", 3), ("q", 1)])

    wait_until(lambda: applied(run) == 3, timeout=60, what="the healthy events")
    wait_until(lambda: len(stack.read(PROBE_TOPIC + ".DLT")) == 1, timeout=30, what="the dead letter")
    [letter] = stack.read(PROBE_TOPIC + ".DLT")
    headers = {key: value.decode() for key, value in letter.headers()}
    assert headers["consumer"] == f"{stack.namespace}ticketflow.probe"
    assert headers["original_topic"] == PROBE_TOPIC
    assert headers["attempts"] == "4"
    assert "is poison" in headers["error"]
    assert poison_id in letter.value().decode()
    group = f"{stack.namespace}ticketflow.probe"
    wait_until(
        lambda: "ticketflow_consumer_lag{" in scrape(metrics_port),
        timeout=30,
        what="the consumer to report its lag",
    )
    exposed = scrape(metrics_port)
    assert f'ticketflow_dead_letters_total{{consumer="{group}",topic="{PROBE_TOPIC}"}} 1.0' in exposed
    assert (
        f'ticketflow_consumer_messages_total{{consumer="{group}",outcome="applied",topic="{PROBE_TOPIC}"}} 3.0'
        in exposed
    )
    assert f'ticketflow_consumer_retries_total{{consumer="{group}",topic="{PROBE_TOPIC}"}} 3.0' in exposed

    ProbeSwitch.objects.create(name="fixed", on=True)
    result = stack.manage("replay", "--dead-letters", "--context", "probe")
    assert result.returncode == 0, result.stderr
    assert "applied: 1" in result.stdout

    assert_exactly_once_in_order(run, {"p": [1, 3, 2], "q": [1]})
    again = stack.manage("replay", "--dead-letters", "--context", "probe")
    assert "nothing" in again.stdout


def metric(exposed: str, name: str) -> float:
    """The value of the first ``name`` sample in a Prometheus text exposition (one consumer's)."""
    for line in exposed.splitlines():
        if line.startswith((name + "{", name + " ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exposed")


def test_a_backlog_is_applied_in_batches_with_bulk_handlers_exactly_once_in_order(stack: Stack) -> None:
    run = uuid.uuid4().hex
    aggregates = [f"order-{i}" for i in range(12)]
    for seq in range(1, 26):
        probe_emit(run, [(aggregate, seq) for aggregate in aggregates], bulk=seq % 2 == 0)
    metrics_port = free_port()
    stack.relay()
    wait_until(
        lambda: not OutboxMessage.objects.using("default").filter(pending=True).exists(),
        timeout=60,
        what="the backlog on the broker",
    )

    stack.consumer("consumer", "--metrics-port", str(metrics_port), "--batch-size", "100")
    wait_until(lambda: applied(run) >= 300, timeout=120, what="300 events applied")

    # Two topics: per-key order holds within each (each is its own stream of partitions).
    effects = list(ProbeEffect.objects.filter(run=run).order_by("id").values_list("aggregate_id", "seq"))
    for aggregate in aggregates:
        seqs = [seq for key, seq in effects if key == aggregate]
        assert [s for s in seqs if s % 2] == list(range(1, 26, 2))
        assert [s for s in seqs if not s % 2] == list(range(2, 26, 2))
    assert len(set(ProbeEffect.objects.filter(run=run).values_list("event_id", flat=True))) == 300
    assert ProbeEffect.objects.filter(run=run, seq__in=range(2, 26, 2), applied_with__gt=1).exists(), (
        "runs of the bulk topic should reach the bulk handler"
    )
    group = f"{stack.namespace}ticketflow.probe"
    exposed = scrape(metrics_port)
    batches = metric(exposed, "ticketflow_consumer_batch_size_count")
    assert metric(exposed, "ticketflow_consumer_batch_size_sum") == 300
    assert batches < 300 / 5, f"{batches:.0f} batches for 300 queued messages: the consumer is not batching"
    assert (
        f'ticketflow_consumer_messages_total{{consumer="{group}",outcome="applied",topic="{PROBE_BULK_TOPIC}"}} 144.0'
        in exposed
    )


@pytest.mark.chaos
def test_a_consumer_killed_mid_batch_commits_none_of_it_and_redelivery_applies_each_once(
    stack: Stack, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex
    marker = tmp_path / "handlers-started"
    before = probe_emit(run, [("k", seq) for seq in range(1, 20)], marker=str(marker))
    [slow_id] = probe_emit(run, [("k", 20)], sleep_seconds=5.0, marker=str(marker))
    probe_emit(run, [("k", seq) for seq in range(21, 41)], marker=str(marker))
    stack.relay()
    wait_until(
        lambda: not OutboxMessage.objects.using("default").filter(pending=True).exists(),
        timeout=60,
        what="all 40 events on the broker",
    )

    consumer = stack.consumer("consumer-1", "--batch-size", "100")
    wait_until(
        lambda: slow_id in marker.read_text() if marker.exists() else False,
        timeout=60,
        what="the slow handler",
    )
    consumer.kill()
    started = marker.read_text().split()
    ran_before_slow = started[: started.index(slow_id)]
    assert set(ran_before_slow) <= set(before)
    # Per-message transactions would have committed every event handled before the slow
    # one; the batch they shared with it died uncommitted with the process.
    assert applied(run) < len(ran_before_slow), "the killed batch should have committed nothing"

    stack.consumer("consumer-2", "--batch-size", "100")
    wait_until(lambda: applied(run) == 40, timeout=90, what="the redelivered batch")
    time.sleep(1)  # anything applied twice would show up by now

    assert_exactly_once_in_order(run, {"k": list(range(1, 41))})
    assert marker.read_text().split().count(slow_id) == 2, "the slow handler should have run twice"
    group = f"{stack.namespace}ticketflow.probe"
    assert InboxMessage.objects.using("default").filter(consumer=group).count() == 40


def test_a_poison_message_in_a_queued_batch_is_dead_lettered_alone_and_the_rest_commit(stack: Stack) -> None:
    run = uuid.uuid4().hex
    probe_emit(run, [("b", seq) for seq in range(1, 11)], bulk=True)
    [poison_id] = probe_emit(run, [("b", 11)], bulk=True, poison=True)
    probe_emit(run, [("b", seq) for seq in range(12, 21)], bulk=True)
    metrics_port = free_port()
    stack.relay()
    wait_until(
        lambda: not OutboxMessage.objects.using("default").filter(pending=True).exists(),
        timeout=60,
        what="the batch on the broker",
    )

    stack.consumer("consumer", "--metrics-port", str(metrics_port))
    wait_until(lambda: applied(run) == 19, timeout=60, what="the healthy events")
    wait_until(lambda: len(stack.read(PROBE_BULK_TOPIC + ".DLT")) == 1, timeout=30, what="the dead letter")

    [letter] = stack.read(PROBE_BULK_TOPIC + ".DLT")
    assert poison_id in letter.value().decode()
    assert dict(letter.headers())["attempts"] == b"4"
    assert_exactly_once_in_order(run, {"b": [seq for seq in range(1, 21) if seq != 11]})
    exposed = scrape(metrics_port)
    assert metric(exposed, "ticketflow_consumer_batch_fallbacks_total") >= 1
    assert metric(exposed, "ticketflow_dead_letters_total") == 1
