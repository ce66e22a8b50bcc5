"""Periodic sweeps that keep running when Celery beat does not.

Hold expiry, the timeout of bookings stuck PENDING, the release of seats whose hold lapsed
without a release, and the re-enqueueing of stuck emails are the saga's safety net: they
end whatever a lost or dead-lettered event left half done. Beat runs them on schedule, and
so does a :class:`Sweeper` thread in every relay and consumer process (``manage.py relay``,
``manage.py consume``), so holds still expire with beat down.

``settings.TICKETFLOW_SWEEPS`` names each sweep (its Celery task name), the function that
runs it (a dotted path, so the kernel imports no context) and how often it is due. Several
runners are expected: each run takes a PostgreSQL advisory lock named after the sweep, so
at most one process runs a given sweep at a time and the others skip that turn; the sweeps
themselves take their rows with ``SKIP LOCKED`` and re-check them under the lock, so even
two runs at once (beat's and a relay's, or engines without advisory locks) act on each row
once.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils.module_loading import import_string
from prometheus_client import Counter, Gauge

logger = logging.getLogger("ticketflow.sweeps")

LOCK_ALIAS = "default"

runs = Counter(
    "ticketflow_sweep_runs_total",
    "Sweep runs by outcome: done, skipped (another process held the sweep's lock), failed.",
    ["sweep", "outcome"],
)
acted_on = Counter(
    "ticketflow_sweep_items_total",
    "Rows a sweep acted on (bookings expired or timed out, seats released, emails re-enqueued).",
    ["sweep"],
)
last_success = Gauge(
    "ticketflow_sweep_last_success_timestamp_seconds",
    "When the sweep last completed, as a Unix time (from any runner).",
    ["sweep"],
    multiprocess_mode="max",
)


@dataclass(frozen=True, slots=True)
class Sweep:
    """One periodic sweep: its name (the Celery task's), the function to call, its period."""

    name: str
    function: str
    every: float

    def load(self) -> Callable[[], Any]:
        function: Callable[[], Any] = import_string(self.function)
        return function


def configured(sweeps: Mapping[str, Mapping[str, Any]] | None = None) -> list[Sweep]:
    """The sweeps of ``settings.TICKETFLOW_SWEEPS`` (or of ``sweeps``), in name order."""
    table = settings.TICKETFLOW_SWEEPS if sweeps is None else sweeps
    return [
        Sweep(name=name, function=str(spec["function"]), every=float(spec["every"]))
        for name, spec in sorted(table.items())
    ]


def _lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(
        hashlib.sha256(f"ticketflow.sweep:{name}".encode()).digest()[:8], "big", signed=True
    )


@contextlib.contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Hold the advisory lock of sweep ``name`` for the block; yields False if another process has it.

    Session-level, on the ``default`` alias: it survives the sweep's own transactions and dies
    with the connection, so a runner killed mid-sweep never leaves it taken. Engines without
    advisory locks (SQLite) always yield True: the sweeps' row locks are then the only guard.
    """
    connection = connections[LOCK_ALIAS]
    if connection.vendor != "postgresql":
        yield True
        return
    key = _lock_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (taken,) = cursor.fetchone()
    try:
        yield bool(taken)
    finally:
        if taken:
            with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def run_sweep(sweep: Sweep) -> int | None:
    """Run ``sweep`` once if no other process is running it; returns what it acted on (None if skipped).

    A database error is logged and counted, never raised: the next turn tries again.
    """
    try:
        with exclusive(sweep.name) as mine:
            if not mine:
                runs.labels(sweep.name, "skipped").inc()
                return None
            result = sweep.load()()
    except DatabaseError as error:
        for alias in connections:
            connections[alias].close_if_unusable_or_obsolete()
        runs.labels(sweep.name, "failed").inc()
        logger.warning("sweep %s could not run: %s", sweep.name, error)
        return None
    count = int(result or 0)
    runs.labels(sweep.name, "done").inc()
    acted_on.labels(sweep.name).inc(count)
    last_success.labels(sweep.name).set(time.time())
    if count:
        logger.info("sweep %s acted on %d row(s)", sweep.name, count)
    return count


class Sweeper(threading.Thread):
    """Runs every configured sweep when it is due, until ``stop`` is set (a daemon thread).

    Uses its own database connections (Django's are per thread) and closes them on exit.
    """

    def __init__(self, stop: threading.Event, sweeps: list[Sweep] | None = None) -> None:
        super().__init__(name="sweeper", daemon=True)
        self.stop = stop
        self.sweeps = configured() if sweeps is None else sweeps
        self._due = {sweep.name: 0.0 for sweep in self.sweeps}

    def run_due(self, now: float | None = None) -> float:
        """Run the sweeps that are due; returns the seconds until the next one is."""
        now = time.monotonic() if now is None else now
        for sweep in self.sweeps:
            if self.stop.is_set():
                break
            if self._due[sweep.name] <= now:
                try:
                    run_sweep(sweep)
                except Exception:
                    # A bug in one sweep must not stop the others, nor the process it lives in.
                    runs.labels(sweep.name, "failed").inc()
                    logger.exception("sweep %s failed", sweep.name)
                self._due[sweep.name] = now + sweep.every
        if not self._due:
            return 60.0
        return max(0.05, min(self._due.values()) - time.monotonic())

    def run(self) -> None:
        if not self.sweeps:
            return
        logger.info("sweeper running %s", ", ".join(sweep.name for sweep in self.sweeps))
        try:
            while not self.stop.is_set():
                self.stop.wait(self.run_due())
        finally:
            connections.close_all()


def start_sweeper(stop: threading.Event) -> Sweeper | None:
    """Start the sweeper thread of this process unless ``TICKETFLOW_SWEEPS_IN_WORKERS`` is off."""
    if not settings.TICKETFLOW_SWEEPS_IN_WORKERS:
        return None
    sweeper = Sweeper(stop)
    sweeper.start()
    return sweeper
