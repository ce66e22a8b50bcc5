"""The relay: drain every outbox to the transport, promptly, in order, without losing a row.

Loop: for each database alias, claim a batch of pending events, publish it, wait for the
broker's acknowledgements (one flush per batch), mark the acknowledged rows sent. When an
alias has nothing pending, sleep until PostgreSQL says a transaction wrote an event
(LISTEN/NOTIFY) or the poll interval passes. While the transport is down, back off
exponentially and resume by itself. SIGTERM finishes the batch in hand and exits; SIGKILL
loses nothing either, because rows are marked sent only after they are acknowledged.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

from ticketflow import db
from ticketflow.messaging import metrics
from ticketflow.messaging.outbox import NOTIFY_CHANNEL, OutboxStore
from ticketflow.messaging.schemas import REGISTRY
from ticketflow.messaging.transports import Transport, TransportUnavailable

logger = logging.getLogger("ticketflow.relay")

MAX_BACKOFF_SECONDS = 10.0


@dataclass
class RelayStats:
    published: int = 0
    failed: int = 0
    batches: int = 0


class Relay:
    """Moves events from the outboxes of ``aliases`` to ``transport``."""

    def __init__(
        self,
        transport: Transport,
        *,
        aliases: Sequence[str] = ("default", "documents"),
        batch_size: int | None = None,
        poll_interval: float | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        options = settings.TICKETFLOW_EVENTS
        self.transport = transport
        self.aliases = tuple(aliases)
        self.batch_size = batch_size or int(options["RELAY_BATCH_SIZE"])
        self.poll_interval = (
            poll_interval if poll_interval is not None else float(options["RELAY_POLL_INTERVAL"])
        )
        self.stop = stop or threading.Event()
        self.linger = float(options.get("RELAY_LINGER_SECONDS", 0))
        self.wake = threading.Event()
        self.stats = RelayStats()
        self._backoff = 0.0
        self._stores = {
            # The in-process transport runs handlers on this thread's connections, so it must
            # not publish from inside a claim transaction: it uses leases instead.
            alias: OutboxStore(alias, locking=db.supports_skip_locked(alias) and transport.remote)
            for alias in self.aliases
        }

    # --- the loop ---------------------------------------------------------------------------

    def run(self, *, listen: bool = True) -> RelayStats:
        """Relay until :attr:`stop` is set (``listen``: start this relay's own NOTIFY listeners)."""
        logger.info("relay starting: %s -> %s", ", ".join(self.aliases), self.transport.name)
        self._prepare_topics()
        listeners = start_listeners(self.aliases, [self.wake], self.stop) if listen else []
        try:
            while not self.stop.is_set():
                # Clear before draining: a commit notified while we drain must wake the next wait.
                self.wake.clear()
                moved = self.drain_once()
                if self._backoff:
                    self.stop.wait(self._backoff)
                elif moved < self.batch_size and self.wake.wait(self.poll_interval) and self.linger:
                    # Woken by a commit: give its neighbours a moment to commit too, so one
                    # claim, flush and mark serve several events instead of one each.
                    self.stop.wait(self.linger)
        finally:
            for listener in listeners:
                listener.join(timeout=5)
            self.transport.close()
            for alias in self.aliases:
                connections[alias].close()
        logger.info("relay stopped after publishing %d events", self.stats.published)
        return self.stats

    def drain(self, *, max_rounds: int = 10_000) -> RelayStats:
        """Publish until every outbox is empty (tests, ``make`` tasks and the embedded runner)."""
        for _ in range(max_rounds):
            if not self.drain_once() and not self._backoff:
                break
        return self.stats

    def drain_once(self) -> int:
        """One batch from each alias; returns how many events were published."""
        moved = 0
        for alias, store in self._stores.items():
            try:
                moved += self._relay_batch(alias, store)
            except TransportUnavailable as error:
                self._back_off(f"transport unavailable: {error}")
                return moved
            except (OperationalError, InterfaceError) as error:
                connections[alias].close()
                self._back_off(f"database {alias!r} unavailable: {error}")
                return moved
        self._backoff = 0.0
        return moved

    # --- one batch --------------------------------------------------------------------------

    def _relay_batch(self, alias: str, store: OutboxStore) -> int:
        claim = store.claim(self.batch_size)
        if not claim.events:
            store.abandon(claim)
            return 0
        try:
            result = self.transport.publish(claim.events)
        except BaseException:
            store.abandon(claim)
            raise
        store.complete(claim, result.sent, result.failed)
        latency = metrics.commit_to_publish.labels(alias)
        published: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        for event in claim.events:
            if event.id in result.sent:
                published[event.topic] += 1
                latency.observe(max(0.0, event.age))
            else:
                failed[event.topic] += 1
        for topic, count in published.items():
            metrics.published.labels(alias, topic).inc(count)
        for topic, count in failed.items():
            metrics.publish_failures.labels(alias, topic).inc(count)
        self.stats.batches += 1
        self.stats.published += len(result.sent)
        self.stats.failed += len(result.failed)
        if result.failed:
            sample = next(iter(result.failed.values()))
            raise TransportUnavailable(
                f"{len(result.failed)} of {len(claim.events)} events not acknowledged: {sample}"
            )
        return len(result.sent)

    def _back_off(self, reason: str) -> None:
        self._backoff = min(MAX_BACKOFF_SECONDS, max(0.25, self._backoff * 2))
        logger.warning("relay backing off %.2fs: %s", self._backoff, reason)

    def _prepare_topics(self) -> None:
        while not self.stop.is_set():
            try:
                self.transport.ensure_topics(sorted(REGISTRY))
                return
            except TransportUnavailable as error:
                self._back_off(str(error))
                self.stop.wait(self._backoff)
        self._backoff = 0.0


def run_workers(
    transport_factory: Callable[[], Transport], *, workers: int, stop: threading.Event, **options: Any
) -> RelayStats:
    """Run ``workers`` relays in threads of this process, each with its own connection and producer.

    While one worker waits for the broker to acknowledge its batch, another claims and
    publishes the next one; SKIP LOCKED keeps their batches apart and the per-aggregate
    guard keeps each aggregate's events in order across them.
    """
    relays = [Relay(transport_factory(), stop=stop, **options) for _ in range(workers)]
    aliases = relays[0].aliases
    listeners = start_listeners(aliases, [relay.wake for relay in relays], stop)
    failures: list[BaseException] = []

    def work(relay: Relay) -> None:
        try:
            relay.run(listen=False)
        except BaseException as error:
            failures.append(error)
            stop.set()
            raise

    threads = [threading.Thread(target=work, args=(r,), name=f"relay-{i}") for i, r in enumerate(relays)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for listener in listeners:
        listener.join(timeout=5)
    if failures:
        raise failures[0]
    total = RelayStats()
    for relay in relays:
        total.published += relay.stats.published
        total.failed += relay.stats.failed
        total.batches += relay.stats.batches
    return total


def start_listeners(
    aliases: Sequence[str], wakes: list[threading.Event], stop: threading.Event
) -> list[_Listener]:
    """One LISTEN connection per PostgreSQL alias, waking every relay on each commit."""
    listeners = [
        _Listener(alias, wakes, stop) for alias in aliases if connections[alias].vendor == "postgresql"
    ]
    for listener in listeners:
        listener.start()
    return listeners


class _Listener(threading.Thread):
    """Wakes the relays whenever a transaction on ``alias`` commits an event (PostgreSQL NOTIFY)."""

    def __init__(self, alias: str, wakes: list[threading.Event], stop: threading.Event) -> None:
        super().__init__(name=f"outbox-listener-{alias}", daemon=True)
        self.alias = alias
        self.wakes = wakes
        self.stop = stop

    def _wake(self) -> None:
        for wake in self.wakes:
            wake.set()

    def run(self) -> None:
        params = connections[self.alias].get_connection_params()
        for key in ("cursor_factory", "context", "prepare_threshold"):
            params.pop(key, None)
        while not self.stop.is_set():
            try:
                with psycopg.connect(**params, autocommit=True) as connection:
                    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    # Something may have been written while (re)connecting.
                    self._wake()
                    while not self.stop.is_set():
                        for _ in connection.notifies(timeout=1.0, stop_after=1):
                            self._wake()
            except psycopg.Error as error:
                logger.warning(
                    "outbox listener on %s lost its connection (%s); polling meanwhile", self.alias, error
                )
                self.stop.wait(2.0)
