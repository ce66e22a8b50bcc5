"""Batched application (ticketflow.messaging.dispatch.deliver_batch), on whatever databases run.

One transaction and one inbox statement per batch; a failing message makes the batch fall
back to one message per transaction, so it alone is dead-lettered; duplicates within and
across batches are skipped; each key's events apply in order; bulk handlers get runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from relay.engine import Relay
from tests.probe.models import ProbeEffect
from tests.probe.schemas import PROBE_BULK_TOPIC, PROBE_TOPIC, ProbeRecorded, ProbeTallied
from tests.probe.services import probe_emit
from tests.support.envelopes import envelope
from ticketflow.messaging import dispatch, handlers
from ticketflow.messaging.dispatch import Incoming, InfrastructureUnavailable, Outcome, deliver_batch
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import consumer_group
from ticketflow.messaging.models import DeadLetter, InboxMessage
from ticketflow.messaging.schemas import UserRegistered
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

A, D, SKIP, X = Outcome.APPLIED, Outcome.DUPLICATE, Outcome.IGNORED, Outcome.DEAD_LETTERED


@dataclass
class DeadLetters:
    """A dead-letter sink that keeps what it was handed."""

    letters: list[tuple[str, bytes, str, int]] = field(default_factory=list)

    def __call__(self, context: str, topic: str, raw: bytes, error: BaseException, attempts: int) -> None:
        self.letters.append((topic, raw, str(error), attempts))


@pytest.fixture
def dead_letters(fast_retries: None) -> DeadLetters:
    return DeadLetters()


@pytest.fixture
def message(run_id: str, dead_letters: DeadLetters) -> Callable[..., Incoming]:
    """``message(aggregate, seq, bulk=False, poison=False)``: one probe message, as Kafka would carry it."""

    def make(aggregate: str, seq: int, *, bulk: bool = False, poison: bool = False) -> Incoming:
        schema = ProbeTallied if bulk else ProbeRecorded
        event = envelope(schema(run=run_id, seq=seq, poison=poison), aggregate_id=aggregate)
        return Incoming(event.encode().encode(), schema.topic, dead_letters)

    return make


def effects(run: str) -> list[tuple[str, int, int]]:
    """``(aggregate, seq, applied_with)`` in the order the effects were written."""
    return list(
        ProbeEffect.objects.filter(run=run).order_by("id").values_list("aggregate_id", "seq", "applied_with")
    )


def inbox_rows() -> int:
    return InboxMessage.objects.using("default").filter(consumer=consumer_group("probe")).count()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"consumer": consumer_group("probe"), **labels}) or 0.0


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every commit on the probe's database while the test runs."""
    connection = connections["default"]
    seen: list[str] = []
    original = connection.commit

    def commit() -> None:
        seen.append("commit")
        original()

    monkeypatch.setattr(connection, "commit", commit)
    return seen


def test_a_batch_is_one_transaction_with_one_inbox_statement_and_bulk_handlers_get_runs(
    run_id: str, message, commits: list[str]
) -> None:
    batch = [
        message("a", 1),
        message("a", 2),
        message("b", 1, bulk=True),
        message("b", 2, bulk=True),
        message("b", 3, bulk=True),
        message("a", 3),
        message("c", 1, bulk=True),
    ]
    batches_before = sample("ticketflow_consumer_batch_size_count")
    bulk_applied_before = sample(
        "ticketflow_consumer_messages_total", topic=PROBE_BULK_TOPIC, outcome="applied"
    )

    with CaptureQueriesContext(connections["default"]) as queries:
        outcomes = list(deliver_batch(batch, "probe"))

    assert outcomes == [A] * 7
    assert len(commits) == 1, "the whole batch commits once"
    inbox_writes = [q["sql"] for q in queries.captured_queries if "ticketflow_inbox" in q["sql"]]
    assert len(inbox_writes) == 1
    assert inbox_writes[0].startswith("INSERT")
    # Batch order is kept; the run of three tallied events went to the bulk handler in one
    # call, the lone one at the end to the single-message handler.
    assert effects(run_id) == [
        ("a", 1, 1),
        ("a", 2, 1),
        ("b", 1, 3),
        ("b", 2, 3),
        ("b", 3, 3),
        ("a", 3, 1),
        ("c", 1, 1),
    ]
    assert inbox_rows() == 7
    assert sample("ticketflow_consumer_batch_size_count") == batches_before + 1
    assert (
        sample("ticketflow_consumer_messages_total", topic=PROBE_BULK_TOPIC, outcome="applied")
        == bulk_applied_before + 4
    )


@pytest.mark.parametrize("bulk", [False, True], ids=["single-handler", "bulk-handler"])
def test_a_poison_message_mid_batch_is_dead_lettered_alone_and_the_rest_commit(
    run_id: str, message, dead_letters: DeadLetters, commits: list[str], bulk: bool
) -> None:
    batch = [message("p", seq, bulk=bulk, poison=seq == 3) for seq in range(1, 6)]
    fallbacks = sample("ticketflow_consumer_batch_fallbacks_total")

    outcomes = list(deliver_batch(batch, "probe"))

    assert outcomes == [A, A, X, A, A]
    assert effects(run_id) == [("p", 1, 1), ("p", 2, 1), ("p", 4, 1), ("p", 5, 1)]
    [(topic, raw, error, attempts)] = dead_letters.letters
    assert (topic, raw, attempts) == (batch[2].topic, batch[2].raw, 4)
    assert "p/3 is poison" in error
    assert sample("ticketflow_consumer_batch_fallbacks_total") == fallbacks + 1
    # The rolled-back batch, then one transaction per healthy message.
    assert len(commits) == 4
    assert inbox_rows() == 4


def test_a_malformed_message_mid_batch_is_dead_lettered_at_once(
    run_id: str, message, dead_letters: DeadLetters
) -> None:
    batch = [message("m", 1), Incoming(b"{not json", PROBE_TOPIC, dead_letters), message("m", 2)]

    assert list(deliver_batch(batch, "probe")) == [A, X, A]
    assert effects(run_id) == [("m", 1, 1), ("m", 2, 1)]
    assert [(raw, attempts) for _, raw, _, attempts in dead_letters.letters] == [(b"{not json", 1)]


@pytest.mark.parametrize("portable", [False, True], ids=["upsert-returning", "read-then-insert"])
def test_duplicates_inside_and_across_batches_change_nothing(
    run_id: str, message, monkeypatch: pytest.MonkeyPatch, portable: bool
) -> None:
    if portable:  # the MongoDB path, exercised on SQL
        monkeypatch.setattr(dispatch, "_upserts_returning", lambda connection: False)
    one, two, three, four = (message("d", seq, bulk=seq % 2 == 0) for seq in range(1, 5))

    first = list(deliver_batch([one, two, one, three, two], "probe"))
    second = list(deliver_batch([two, three, four, four], "probe"))

    assert first == [A, A, D, A, D]
    assert second == [D, D, A, D]
    assert [(aggregate, seq) for aggregate, seq, _ in effects(run_id)] == [
        ("d", 1),
        ("d", 2),
        ("d", 3),
        ("d", 4),
    ]
    assert inbox_rows() == 4


def test_per_key_order_holds_when_keys_interleave(run_id: str, message) -> None:
    batch = [message(f"k{key}", seq, bulk=key == 1) for seq in range(1, 11) for key in range(3)]

    list(deliver_batch(batch, "probe"))

    for key in range(3):
        seqs = [seq for aggregate, seq, _ in effects(run_id) if aggregate == f"k{key}"]
        assert seqs == list(range(1, 11))


def test_events_the_context_does_not_handle_are_skipped_without_an_inbox_row(run_id: str, message) -> None:
    other = envelope(
        UserRegistered(user_id=str(uuid.uuid4()), email="ada@example.com", name="Ada"), aggregate_id="u"
    )
    batch = [
        message("i", 1),
        Incoming(other.encode().encode(), Topic.USER_REGISTERED, DeadLetters()),
        message("i", 2),
    ]

    assert list(deliver_batch(batch, "probe")) == [A, SKIP, A]
    assert inbox_rows() == 2


def test_a_database_outage_fails_the_batch_for_a_retry_without_dead_lettering(
    run_id: str, message, dead_letters: DeadLetters, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: object) -> set[uuid.UUID]:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(dispatch, "_insert_inbox", unreachable)
    batch = [message("o", 1), message("o", 2)]

    with pytest.raises(InfrastructureUnavailable):
        list(deliver_batch(batch, "probe"))

    assert (effects(run_id), dead_letters.letters, inbox_rows()) == ([], [], 0)


def test_a_deadlock_between_batches_falls_back_to_one_message_at_a_time(
    run_id: str, message, monkeypatch: pytest.MonkeyPatch
) -> None:
    class DeadlockDetected(Exception):
        sqlstate = "40P01"

    def deadlocked(*args: object) -> set[uuid.UUID]:
        raise OperationalError("deadlock detected") from DeadlockDetected()

    monkeypatch.setattr(dispatch, "_insert_inbox", deadlocked)

    assert list(deliver_batch([message("l", 1), message("l", 2)], "probe")) == [A, A]
    assert effects(run_id) == [("l", 1, 1), ("l", 2, 1)]


def inbox_statements(queries: CaptureQueriesContext) -> int:
    return sum(q["sql"].startswith('INSERT INTO "ticketflow_inbox"') for q in queries.captured_queries)


def test_the_embedded_transport_applies_a_relay_batch_in_one_transaction(
    run_id: str, inprocess_relay: Relay
) -> None:
    probe_emit(run_id, [(f"e{i}", 1) for i in range(10)], bulk=True)
    probe_emit(run_id, [(f"e{i}", 2) for i in range(10)])

    with CaptureQueriesContext(connections["default"]) as queries:
        inprocess_relay.drain()

    assert inbox_statements(queries) == 1
    assert effects(run_id) == [(f"e{i}", 1, 10) for i in range(10)] + [(f"e{i}", 2, 1) for i in range(10)]


def test_the_embedded_transport_dead_letters_a_poison_message_of_a_batch_alone(
    run_id: str, inprocess_relay: Relay
) -> None:
    probe_emit(run_id, [(f"e{i}", 1) for i in range(10)], bulk=True)
    [poison] = probe_emit(run_id, [("e0", 2)], poison=True)
    probe_emit(run_id, [(f"e{i}", 2) for i in range(1, 10)])
    fallbacks = sample("ticketflow_consumer_batch_fallbacks_total")

    inprocess_relay.drain()

    assert sample("ticketflow_consumer_batch_fallbacks_total") == fallbacks + 1
    assert effects(run_id) == [(f"e{i}", 1, 1) for i in range(10)] + [(f"e{i}", 2, 1) for i in range(1, 10)]
    assert DeadLetter.objects.using("default").get().event_id == poison


def test_a_bulk_handler_needs_its_single_message_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "_bulk_handlers", {})

    def on_user_registered_many(events: list[Envelope]) -> None:
        """A bulk handler for a topic the probe has no @handles for."""

    on_user_registered_many.__module__ = "tests.probe.consumers"
    handlers.handles_many(Topic.USER_REGISTERED)(on_user_registered_many)

    with pytest.raises(ImproperlyConfigured, match="probe has @handles_many without @handles"):
        handlers.check_registry()


def test_the_probe_registers_its_bulk_handler_beside_the_single_one() -> None:
    handler = handlers.handler_for("probe", PROBE_BULK_TOPIC)

    assert handler is not None
    assert handler.many is not None
    assert handlers.handler_for("probe", PROBE_TOPIC).many is None
    handlers.check_registry()
