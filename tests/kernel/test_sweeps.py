"""The sweeps run without beat (the relay's and consumers' sweeper), once at a time, and a locked
database does not stop the embedded relay."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from django.db import OperationalError, connections
from django.utils import timezone

from apps.bookings.models import Booking, BookingStatus
from relay.engine import Relay
from tests.probe import consumers as probe_consumers
from tests.probe.models import ProbeEffect
from tests.probe.services import probe_emit
from tests.support.broker import ManualBroker
from tests.support.saga import OnSale, book
from ticketflow.messaging import sweeps
from ticketflow.messaging.sweeps import Sweep, Sweeper, run_sweep
from ticketflow.messaging.topics import Topic

pytestmark = pytest.mark.django_db(databases=["default", "documents"], transaction=True)

CALLS: list[str] = []


def count_a_call() -> int:
    CALLS.append("called")
    return 1


def fail() -> int:
    raise RuntimeError("a bug in one sweep")


COUNTING = Sweep(name="test.counting", function=f"{__name__}.count_a_call", every=60.0)


@pytest.fixture(autouse=True)
def _no_calls_yet() -> None:
    CALLS.clear()


@pytest.mark.embedded
def test_with_beat_down_the_relays_sweeper_expires_an_overdue_hold(
    broker: ManualBroker, concert: OnSale, make_buyer
) -> None:
    booking_id = book(make_buyer("Ada"), concert, concert.seat_ids[:1])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    Booking.objects.filter(pk=booking_id).update(hold_expires_at=timezone.now() - timedelta(seconds=1))

    Sweeper(threading.Event()).run_due()

    assert Booking.objects.get(pk=booking_id).status == BookingStatus.EXPIRED
    assert [row.topic for row in broker.pending(Topic.SEATS_RELEASE, Topic.BOOKING_EXPIRED)] == [
        Topic.SEATS_RELEASE,
        Topic.BOOKING_EXPIRED,
    ]


@pytest.mark.embedded
def test_every_configured_sweep_runs_and_the_next_turn_waits_for_its_period() -> None:
    sweeper = Sweeper(threading.Event(), [COUNTING])

    first = sweeper.run_due(now=100.0)
    sweeper.run_due(now=130.0)
    sweeper.run_due(now=161.0)

    assert CALLS == ["called", "called"]
    assert 0 < first <= 60
    names = {sweep.name for sweep in sweeps.configured()}
    assert names == {
        "bookings.expire_overdue_holds",
        "bookings.time_out_pending",
        "inventory.lapse_waitlist_offers",
        "inventory.release_lapsed_holds",
        "notifications.requeue_stuck",
    }
    for sweep in sweeps.configured():
        assert callable(sweep.load())


@pytest.mark.embedded
def test_a_failing_sweep_does_not_stop_the_others() -> None:
    broken = Sweep(name="test.broken", function=f"{__name__}.fail", every=60.0)

    Sweeper(threading.Event(), [broken, COUNTING]).run_due()

    assert CALLS == ["called"]


@pytest.mark.services
def test_a_sweep_another_process_is_running_is_skipped_until_it_finishes() -> None:
    params = connections["default"].get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    with psycopg.connect(**params, autocommit=True) as other_process:
        other_process.execute("SELECT pg_advisory_lock(%s)", [sweeps._lock_key(COUNTING.name)])

        skipped = run_sweep(COUNTING)

        other_process.execute("SELECT pg_advisory_unlock(%s)", [sweeps._lock_key(COUNTING.name)])
    ran = run_sweep(COUNTING)

    assert (skipped, ran) == (None, 1)
    assert CALLS == ["called"]


@pytest.mark.embedded
def test_the_embedded_relay_backs_off_when_the_database_is_locked_and_goes_on(
    run_id: str, inprocess_relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = probe_consumers._misbehave
    locked_once: list[bool] = []

    def locked_the_first_time(events: list) -> None:
        if not locked_once:
            locked_once.append(True)
            raise OperationalError("database is locked")
        real(events)

    monkeypatch.setattr(probe_consumers, "_misbehave", locked_the_first_time)
    probe_emit(run_id, [("agg-1", 1)])
    relay = Relay(inprocess_relay.transport, poll_interval=0.01, stop=threading.Event())
    failures: list[BaseException] = []

    def run() -> None:
        try:
            relay.run(listen=False)
        except BaseException as error:
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ProbeEffect.objects.filter(run=run_id).exists():
            time.sleep(0.05)
        alive = thread.is_alive()
    finally:
        relay.stop.set()
        thread.join(timeout=10)

    assert failures == []
    assert alive
    assert locked_once == [True]
    assert list(ProbeEffect.objects.filter(run=run_id).values_list("aggregate_id", "seq")) == [("agg-1", 1)]
