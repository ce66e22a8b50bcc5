"""The outbox, relay, inbox and dead letters through the in-process transport.

These run against whatever databases the session has (PostgreSQL in the services run,
SQLite in the embedded run): the kernel's guarantees do not depend on Kafka.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from relay.engine import Relay
from tests.probe.models import ProbeEffect, ProbeSwitch
from tests.probe.schemas import ProbeRecorded
from tests.probe.services import probe_emit
from ticketflow import db
from ticketflow.messaging.handlers import consumer_group
from ticketflow.messaging.models import DeadLetter, InboxMessage, OutboxMessage
from ticketflow.messaging.outbox import OutboxStore, OutsideTransaction, emit

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def effects(run: str) -> list[tuple[str, int]]:
    return list(ProbeEffect.objects.filter(run=run).order_by("id").values_list("aggregate_id", "seq"))


def test_emit_refuses_to_run_outside_a_transaction(run_id: str) -> None:
    with pytest.raises(OutsideTransaction, match="must run inside the transaction"):
        emit(ProbeRecorded(run=run_id, seq=1), aggregate_id="a", using="default")

    assert not OutboxMessage.objects.using("default").exists()


def test_a_rolled_back_transaction_publishes_nothing(run_id: str, inprocess_relay: Relay) -> None:
    with pytest.raises(RuntimeError, match="the state change failed"), db.atomic("default"):
        emit(ProbeRecorded(run=run_id, seq=1), aggregate_id="a", using="default")
        raise RuntimeError("the state change failed")

    stats = inprocess_relay.drain()

    assert not OutboxMessage.objects.using("default").exists()
    assert stats.published == 0
    assert effects(run_id) == []


@pytest.mark.parametrize("alias", ["default", "documents"])
def test_an_event_is_applied_once_and_marked_sent(run_id: str, inprocess_relay: Relay, alias: str) -> None:
    [event_id] = probe_emit(run_id, [("agg-1", 1)], using=alias)

    stats = inprocess_relay.drain()

    assert stats.published == 1
    assert effects(run_id) == [("agg-1", 1)]
    row = OutboxMessage.objects.using(alias).get(id=event_id)
    assert (row.pending, row.sent_at is not None) == (False, True)
    assert (
        InboxMessage.objects.using("default")
        .filter(consumer=consumer_group("probe"), event_id=event_id)
        .count()
        == 1
    )


def test_events_are_applied_in_the_order_they_were_committed(run_id: str, inprocess_relay: Relay) -> None:
    items = [(f"agg-{a}", seq) for seq in range(1, 6) for a in range(4)]
    probe_emit(run_id, items)

    inprocess_relay.drain()

    assert effects(run_id) == items


def test_a_replayed_event_changes_nothing(run_id: str, inprocess_relay: Relay) -> None:
    probe_emit(run_id, [("agg-1", 1), ("agg-1", 2), ("agg-2", 1)])
    inprocess_relay.drain()

    call_command("replay", aggregate="agg-1", stdout=open("/dev/null", "w"))  # noqa: SIM115
    requeued = OutboxStore("default").backlog()
    stats = inprocess_relay.drain()

    assert requeued == 2
    assert stats.published == 5
    assert effects(run_id) == [("agg-1", 1), ("agg-1", 2), ("agg-2", 1)]


def test_a_poison_message_is_dead_lettered_and_the_stream_moves_on(
    run_id: str, inprocess_relay: Relay
) -> None:
    probe_emit(run_id, [("agg-1", 1)])
    [poison_id] = probe_emit(run_id, [("agg-2", 1)], poison=True)
    probe_emit(run_id, [("agg-3", 1)])

    inprocess_relay.drain()

    assert effects(run_id) == [("agg-1", 1), ("agg-3", 1)]
    letter = DeadLetter.objects.using("default").get()
    assert (letter.consumer, letter.topic, letter.event_id) == (
        consumer_group("probe"),
        "ticketflow.probe.recorded",
        poison_id,
    )
    assert letter.attempts == 4
    assert "is poison" in letter.error
    assert OutboxStore("default").backlog() == 0


def test_replay_re_drives_a_dead_letter_after_the_fix(run_id: str, inprocess_relay: Relay) -> None:
    probe_emit(run_id, [("agg-1", 1)], poison=True)
    inprocess_relay.drain()
    ProbeSwitch.objects.create(name="fixed", on=True)

    call_command("replay", dead_letters=True, contexts=["probe"], stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert effects(run_id) == [("agg-1", 1)]
    assert DeadLetter.objects.using("default").get().redriven_at is not None


def test_metrics_report_the_pipeline(run_id: str, inprocess_relay: Relay, client: Client) -> None:
    probe_emit(run_id, [("agg-1", 1)])
    probe_emit(run_id, [("agg-2", 1)], using="documents")
    before = client.get("/metrics").content.decode()
    inprocess_relay.drain()

    after = client.get("/metrics").content.decode()

    assert 'ticketflow_outbox_backlog{alias="default"} 1.0' in before
    assert 'ticketflow_outbox_backlog{alias="documents"} 1.0' in before
    assert 'ticketflow_outbox_backlog{alias="default"} 0.0' in after
    for metric in (
        'ticketflow_outbox_published_total{alias="documents",topic="ticketflow.probe.recorded"}',
        'ticketflow_outbox_commit_to_publish_seconds_bucket{alias="default"',
        "ticketflow_consumer_handler_seconds_bucket{",
        'outcome="applied"',
    ):
        assert metric in after
