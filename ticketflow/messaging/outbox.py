"""The transactional outbox: ``emit`` inside a service's transaction, and the relay's queries.

An event is a row written in the same transaction as the state change it announces, so
both commit or neither does. The relay later claims pending rows, publishes them, and
marks them sent. Claiming has two strategies:

* PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED`` inside the relay's transaction. Rows
  stay locked while they are published, so concurrent relays never take the same row, and
  a relay that dies simply drops its locks.
* Elsewhere (SQLite, MongoDB): a lease. A conditional update stamps the rows with the
  relay's token and an expiry; a relay that dies leaves leases that lapse.

Either way a batch never publishes an event of an aggregate while an earlier event of that
aggregate is unsent and held by someone else, so per-aggregate order survives several
relays running at once.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import F, Min, QuerySet
from django.utils import timezone

from ticketflow import db
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.schemas import Payload
from ticketflow.messaging.tracing import current_traceparent

NOTIFY_CHANNEL = "ticketflow_outbox"
LEASE = timedelta(seconds=60)


class OutsideTransaction(RuntimeError):
    """``emit`` was called outside a transaction: the event could outlive a rolled-back change."""


class _Positions:
    """Strictly increasing integers (microseconds since the epoch) for this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> int:
        with self._lock:
            self._last = max(time.time_ns() // 1000, self._last + 1)
            return self._last


_positions = _Positions()


def emit(payload: Payload, *, aggregate_id: str, using: str) -> Envelope[Payload]:
    """Record ``payload`` as an event in the outbox of ``using``, in the caller's transaction.

    Call it from a service, inside the ``ticketflow.db.atomic(using)`` block that changes
    the state the event announces. The event is published after that transaction commits,
    and never if it rolls back.
    """
    if not db.in_transaction(using):
        raise OutsideTransaction(
            f"emit({payload.topic}) must run inside the transaction that changes the state "
            f"(ticketflow.db.atomic({using!r}))"
        )
    now = timezone.now()
    envelope = Envelope(
        id=uuid.uuid4(),
        type=payload.topic,
        version=payload.version,
        occurred_at=now,
        aggregate_id=str(aggregate_id),
        trace=current_traceparent(),
        payload=payload,
    )
    fields: dict[str, Any] = {
        "id": envelope.id,
        "topic": envelope.type,
        "aggregate_id": envelope.aggregate_id,
        "body": envelope.encode(),
        "position": _positions.next(),
        "created_at": now,
    }
    connection = connections[using]
    if connection.vendor == "postgresql":
        # One round trip writes the row and queues the NOTIFY that wakes the relay; PostgreSQL
        # delivers it only when (and if) this transaction commits.
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_AND_NOTIFY, {**fields, "channel": NOTIFY_CHANNEL})
    else:
        OutboxMessage.objects.using(using).create(**fields)
    return envelope


_INSERT_AND_NOTIFY = """
    WITH written AS (
        INSERT INTO ticketflow_outbox
            (id, topic, aggregate_id, body, position, created_at, pending, attempts, last_error, claim_token)
        VALUES (%(id)s, %(topic)s, %(aggregate_id)s, %(body)s, %(position)s, %(created_at)s, true, 0, '', '')
        RETURNING 1
    )
    SELECT pg_notify(%(channel)s, '') FROM written
"""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A claimed outbox row, ready to publish."""

    id: str
    topic: str
    aggregate_id: str
    body: str
    position: int
    """Microseconds since the epoch when it was written (strictly increasing per process)."""

    @property
    def age(self) -> float:
        """Seconds since the event was written (and, within microseconds, committed)."""
        return time.time() - self.position / 1_000_000


@dataclass(frozen=True, slots=True)
class Claim:
    """A batch of events one relay holds until it calls :meth:`OutboxStore.complete`."""

    alias: str
    token: str
    events: tuple[PendingEvent, ...]


def _in_order(rows: Sequence[PendingEvent], earliest_elsewhere: dict[str, int]) -> list[PendingEvent]:
    """Keep the rows that no earlier pending event of their aggregate outside the batch precedes."""
    return [
        row
        for row in rows
        if row.aggregate_id not in earliest_elsewhere or row.position < earliest_elsewhere[row.aggregate_id]
    ]


def _array(ids: Iterable[str]) -> str:
    """A PostgreSQL array literal of UUID strings (safe: they come from ``id::text``)."""
    return "{" + ",".join(ids) + "}"


_FIELDS = ("id", "topic", "aggregate_id", "body", "position")


class OutboxStore:
    """The relay's view of one alias's outbox."""

    def __init__(self, alias: str, *, locking: bool | None = None) -> None:
        self.alias = alias
        self.locking = db.supports_skip_locked(alias) if locking is None else locking

    def claim(self, limit: int) -> Claim:
        """Take up to ``limit`` pending events, oldest first.

        With row locks (PostgreSQL) this opens a transaction that :meth:`complete` or
        :meth:`abandon` must end; with leases the claim is already committed.
        """
        if self.locking:
            return self._claim_locked(limit)
        return self._claim_leased(limit)

    # The PostgreSQL path is the relay's hot loop: one statement claims the batch and flags
    # rows that must wait for an earlier event of their aggregate held by another relay;
    # one statement marks the batch sent. Ids travel as one text array literal: adapting
    # hundreds of UUID objects one by one costs more than the query itself.
    _CLAIM_SQL = """
        WITH batch AS (
            SELECT id, topic, aggregate_id, body, position FROM ticketflow_outbox
            WHERE pending ORDER BY position LIMIT %s FOR UPDATE SKIP LOCKED
        )
        SELECT b.id::text, b.topic, b.aggregate_id, b.body, b.position,
               EXISTS (
                   SELECT 1 FROM ticketflow_outbox earlier
                   WHERE earlier.pending AND earlier.aggregate_id = b.aggregate_id
                     AND earlier.position < b.position AND earlier.id NOT IN (SELECT id FROM batch)
               ) AS must_wait
        FROM batch b ORDER BY b.position
    """
    _MARK_SENT_SQL = """
        UPDATE ticketflow_outbox SET pending = false, sent_at = %s, claim_token = '', claimed_until = NULL
        WHERE id = ANY(%s::uuid[])
    """

    def _claim_locked(self, limit: int) -> Claim:
        connection = connections[self.alias]
        connection.set_autocommit(False)
        try:
            with connection.cursor() as cursor:
                cursor.execute(self._CLAIM_SQL, [limit])
                kept = [PendingEvent(*row[:5]) for row in cursor.fetchall() if not row[5]]
        except BaseException:
            connection.rollback()
            connection.set_autocommit(True)
            raise
        return Claim(self.alias, "", tuple(kept))

    def _claim_leased(self, limit: int) -> Claim:
        token = uuid.uuid4().hex
        now = timezone.now()
        manager = OutboxMessage.objects.using(self.alias)
        with db.atomic(self.alias):
            free = manager.filter(pending=True).exclude(claimed_until__gte=now)
            candidates = list(free.order_by("position").values_list("id", flat=True)[:limit])
            if candidates:
                # Re-check the lease in the update itself: another relay may have won the row.
                free.filter(id__in=candidates).update(claim_token=token, claimed_until=now + LEASE)
        if not candidates:
            return Claim(self.alias, token, ())
        rows = manager.filter(claim_token=token, pending=True).order_by("position").values_list(*_FIELDS)
        events = [PendingEvent(str(row[0]), *row[1:]) for row in rows]
        earliest_elsewhere = dict(
            manager.filter(pending=True, aggregate_id__in={event.aggregate_id for event in events})
            .exclude(claim_token=token)
            .values("aggregate_id")
            .annotate(first=Min("position"))
            .values_list("aggregate_id", "first")
        )
        kept = _in_order(events, earliest_elsewhere) if earliest_elsewhere else events
        released = {event.id for event in events} - {event.id for event in kept}
        if released:
            manager.filter(id__in=released, claim_token=token).update(claim_token="", claimed_until=None)
        return Claim(self.alias, token, tuple(kept))

    def complete(self, claim: Claim, sent: Iterable[str], failed: dict[str, str]) -> None:
        """Mark ``sent`` events published and note ``failed`` ones for a later retry."""
        now = timezone.now()
        manager = OutboxMessage.objects.using(self.alias)
        sent_ids = list(sent)
        try:
            if self.locking and connections[self.alias].vendor == "postgresql":
                with connections[self.alias].cursor() as cursor:
                    cursor.execute(self._MARK_SENT_SQL, [now, _array(sent_ids)])
                sent_ids = []
            for chunk in _chunks(sent_ids, 1000):
                manager.filter(id__in=chunk).update(
                    pending=False, sent_at=now, claim_token="", claimed_until=None
                )
            for event_id, error in failed.items():
                manager.filter(id=event_id).update(
                    attempts=F("attempts") + 1, last_error=error[:2000], claim_token="", claimed_until=None
                )
            if self.locking:
                connections[self.alias].commit()
        finally:
            if self.locking:
                connections[self.alias].set_autocommit(True)

    def abandon(self, claim: Claim) -> None:
        """Give the batch back untouched (the relay could not publish it)."""
        if self.locking:
            connection = connections[self.alias]
            connection.rollback()
            connection.set_autocommit(True)
        elif claim.events:
            OutboxMessage.objects.using(self.alias).filter(claim_token=claim.token).update(
                claim_token="", claimed_until=None
            )

    def backlog(self) -> int:
        """How many events wait to be published."""
        return OutboxMessage.objects.using(self.alias).filter(pending=True).count()

    def oldest_pending_age(self) -> float:
        """Seconds since the oldest pending event was written (0 when none waits)."""
        oldest = (
            OutboxMessage.objects.using(self.alias).filter(pending=True).aggregate(first=Min("created_at"))
        )
        return (timezone.now() - oldest["first"]).total_seconds() if oldest["first"] else 0.0

    def _sent(
        self,
        *,
        ids: Sequence[uuid.UUID] | None,
        since: datetime | None,
        until: datetime | None,
        aggregate_id: str | None,
        topic: str | None,
    ) -> QuerySet[OutboxMessage]:
        rows = OutboxMessage.objects.using(self.alias).filter(pending=False)
        if ids is not None:
            rows = rows.filter(id__in=list(ids))
        if since is not None:
            rows = rows.filter(created_at__gte=since)
        if until is not None:
            rows = rows.filter(created_at__lt=until)
        if aggregate_id is not None:
            rows = rows.filter(aggregate_id=aggregate_id)
        if topic is not None:
            rows = rows.filter(topic=topic)
        return rows

    def count_sent(self, **selection: Any) -> int:
        """How many published events :meth:`requeue` with the same selection would queue."""
        return self._sent(**selection).count()

    def requeue(self, **selection: Any) -> int:
        """Mark published events pending again so the relay publishes them once more.

        Selection (all optional, combined): ``ids``, ``since``, ``until``, ``aggregate_id``,
        ``topic``.
        """
        return self._sent(**selection).update(pending=True, sent_at=None, claim_token="", claimed_until=None)

    def prune(self, older_than: datetime) -> int:
        """Delete sent events written before ``older_than`` (kept until then for replay)."""
        deleted, _ = (
            OutboxMessage.objects.using(self.alias).filter(pending=False, created_at__lt=older_than).delete()
        )
        return deleted


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
