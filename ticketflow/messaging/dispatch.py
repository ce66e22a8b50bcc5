"""Applying one event to one context: exactly once, with bounded retries, then a dead letter.

Both transports deliver through here, so Kafka and the embedded default share one set of
guarantees:

* the handler and the context's inbox row ``(consumer, event id)`` commit in one
  transaction, so a redelivered event changes nothing;
* a failing handler is retried with exponential backoff, up to a budget; after that the
  message is handed to the transport's dead-letter sink and the stream moves on;
* a message that can never succeed (not an envelope, unknown type, invalid payload, or a
  handler raising :class:`PermanentFailure`) skips the retries;
* an unreachable database is not the message's fault: :class:`InfrastructureUnavailable`
  goes back to the runner, which waits and offers the same message again, so an outage
  never fills the dead-letter topics.

:func:`deliver_batch` applies many messages in one transaction (docs/adr/007): one statement
for their inbox rows, every handler (bulk handlers for runs of one topic), one commit. If
any of them fails, the transaction rolls back and the messages go through :func:`deliver`
one at a time, so a poison message is dead-lettered alone and the others still commit.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from ticketflow import db
from ticketflow.messaging import metrics
from ticketflow.messaging.envelope import Envelope, MalformedEvent, decode
from ticketflow.messaging.handlers import Handler, consumer_group, event_scope, handler_for
from ticketflow.messaging.models import InboxMessage

logger = logging.getLogger(__name__)


class PermanentFailure(Exception):
    """Raised by a handler for an event it can never apply; it goes straight to dead letters."""


class InfrastructureUnavailable(RuntimeError):
    """A database the handler needs did not answer; retry the same message later."""


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


DeadLetterSink = Callable[[str, str, bytes, BaseException, int], None]
"""``sink(context, topic, raw message, error, attempts)`` records a message given up on."""


def apply(envelope: Envelope[Any], context: str) -> Outcome:
    """Run ``context``'s handler for ``envelope`` once, in one transaction with its inbox row."""
    handler = handler_for(context, envelope.type)
    if handler is None:
        return Outcome.IGNORED
    alias = db.alias_for(context)
    consumer = consumer_group(context)
    inbox = InboxMessage.objects.using(alias)
    started = time.perf_counter()
    with event_scope(envelope, consumer):
        try:
            with db.unit_of_work(alias):
                # The inbox row goes first: a concurrent duplicate blocks on the unique index
                # here, before either copy has touched the context's state.
                inbox.create(consumer=consumer, event_id=envelope.id, topic=envelope.type)
                handler.func(envelope)
        except IntegrityError:
            if inbox.filter(consumer=consumer, event_id=envelope.id).exists():
                metrics.handled.labels(consumer, envelope.type, Outcome.DUPLICATE).inc()
                return Outcome.DUPLICATE
            raise
        finally:
            metrics.handler_duration.labels(consumer, envelope.type).observe(time.perf_counter() - started)
    metrics.handled.labels(consumer, envelope.type, Outcome.APPLIED).inc()
    return Outcome.APPLIED


def deliver(raw: bytes, topic: str, context: str, dead_letter: DeadLetterSink) -> Outcome:
    """Decode ``raw`` and apply it for ``context``, retrying transient failures.

    Returns once the event is applied, known to be a duplicate, irrelevant to the context,
    or handed to ``dead_letter``; the caller may then move past the message.
    """
    consumer = consumer_group(context)
    options = settings.TICKETFLOW_EVENTS
    budget = int(options["CONSUMER_MAX_ATTEMPTS"])
    backoff = float(options["CONSUMER_BACKOFF_SECONDS"])
    try:
        envelope = decode(raw)
    except MalformedEvent as error:
        logger.error("malformed message on %s for %s: %s", topic, consumer, error)
        return _give_up(dead_letter, context, topic, raw, error, attempts=1)
    for attempt in range(1, budget + 1):
        try:
            return apply(envelope, context)
        except (OperationalError, InterfaceError) as error:
            connections[db.alias_for(context)].close_if_unusable_or_obsolete()
            raise InfrastructureUnavailable(f"{consumer} cannot reach its database: {error}") from error
        except PermanentFailure as error:
            logger.error("%s cannot apply %s %s: %s", consumer, envelope.type, envelope.id, error)
            return _give_up(dead_letter, context, topic, raw, error, attempts=attempt)
        except Exception as error:
            if attempt == budget:
                logger.exception(
                    "%s gave up on %s %s after %d attempts", consumer, envelope.type, envelope.id, attempt
                )
                return _give_up(dead_letter, context, topic, raw, error, attempts=attempt)
            metrics.handler_retries.labels(consumer, envelope.type).inc()
            delay = backoff * 2 ** (attempt - 1)
            logger.warning(
                "%s failed to apply %s %s (attempt %d of %d, retrying in %.1fs): %s",
                consumer,
                envelope.type,
                envelope.id,
                attempt,
                budget,
                delay,
                error,
            )
            time.sleep(delay)
    raise AssertionError("unreachable: the loop returns on its last attempt")


def _give_up(
    dead_letter: DeadLetterSink, context: str, topic: str, raw: bytes, error: BaseException, attempts: int
) -> Outcome:
    dead_letter(context, topic, raw, error, attempts)
    consumer = consumer_group(context)
    metrics.dead_letters.labels(consumer, topic).inc()
    metrics.handled.labels(consumer, topic, Outcome.DEAD_LETTERED).inc()
    return Outcome.DEAD_LETTERED


# --- batches --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message of a batch: its bytes, its catalogue topic, and where it goes if given up on."""

    raw: bytes
    topic: str
    dead_letter: DeadLetterSink


class BatchFailed(Exception):
    """A batch's transaction rolled back because one of its messages failed; nothing committed."""


# SQLSTATEs of a transaction that lost a race rather than a database that is down: a deadlock
# or lock timeout between two consumers' batches (which hold their locks longer than one
# message would), or a serialization failure. Smaller transactions settle these.
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
# Five parameters per row: far below PostgreSQL's 65,535 and SQLite's 32,766 limits.
_INBOX_ROWS_PER_STATEMENT = 1000


def deliver_batch(batch: Sequence[Incoming], context: str) -> Iterator[Outcome]:
    """Apply ``batch`` for ``context``, yielding each message's outcome, in order, once settled.

    A message is settled when its effects have committed (or it is a known duplicate, of no
    interest to the context, or dead-lettered); the caller may then move past it. Two or more
    messages are first tried in one transaction (:func:`apply_batch`); if that rolls back,
    they are delivered one at a time through :func:`deliver`, retries and dead letters
    included. :class:`InfrastructureUnavailable` means the database is down: the messages not
    yet yielded are unsettled, and the caller offers them again later.
    """
    if len(batch) > 1:
        consumer = consumer_group(context)
        try:
            outcomes = apply_batch(batch, context)
        except BatchFailed as failure:
            metrics.consumer_batch_fallbacks.labels(consumer).inc()
            logger.warning(
                "%s rolled back a batch of %d messages; applying them one at a time: %s",
                consumer,
                len(batch),
                failure,
            )
        else:
            yield from outcomes
            return
    for incoming in batch:
        yield deliver(incoming.raw, incoming.topic, context, incoming.dead_letter)
    if len(batch) == 1:
        metrics.consumer_batch_size.labels(consumer_group(context)).observe(1)


def apply_batch(batch: Sequence[Incoming], context: str) -> list[Outcome]:
    """Apply every message of ``batch`` for ``context`` in one transaction, or none of them.

    Decodes them all, sets aside the types ``context`` does not handle and the repeats of an
    event id within the batch, inserts the inbox rows in one statement (events already in the
    inbox are duplicates and skipped), runs the handlers in batch order (a bulk handler for
    each run of two or more consecutive messages of one topic that has one), and commits.
    Returns one outcome per message. Raises :class:`BatchFailed` if any message is malformed
    or any handler raises (nothing is committed), :class:`InfrastructureUnavailable` if the
    database does not answer.
    """
    consumer = consumer_group(context)
    alias = db.alias_for(context)
    try:
        envelopes = [decode(incoming.raw) for incoming in batch]
    except MalformedEvent as error:
        raise BatchFailed(f"a message is malformed: {error}") from error
    outcomes: list[Outcome] = [Outcome.IGNORED] * len(batch)
    first_seen: dict[uuid.UUID, int] = {}
    for index, envelope in enumerate(envelopes):
        if handler_for(context, envelope.type) is None:
            continue
        if envelope.id in first_seen:
            outcomes[index] = Outcome.DUPLICATE
        else:
            first_seen[envelope.id] = index
    if not first_seen:
        return outcomes  # nothing for this context: no transaction to open
    started = time.perf_counter()
    try:
        with db.unit_of_work(alias):
            inserted = _insert_inbox(alias, consumer, [envelopes[i] for i in first_seen.values()])
            fresh: list[Envelope[Any]] = []
            for event_id, index in first_seen.items():
                if event_id in inserted:
                    outcomes[index] = Outcome.APPLIED
                    fresh.append(envelopes[index])
                else:
                    outcomes[index] = Outcome.DUPLICATE
            durations = _run_handlers(fresh, context, consumer)
    except (OperationalError, InterfaceError) as error:
        if _is_conflict(error):
            raise BatchFailed(f"lost a race with another transaction: {error}") from error
        connections[alias].close_if_unusable_or_obsolete()
        raise InfrastructureUnavailable(f"{consumer} cannot reach its database: {error}") from error
    except Exception as error:
        raise BatchFailed(f"{type(error).__name__}: {error}") from error
    metrics.consumer_batch_seconds.labels(consumer).observe(time.perf_counter() - started)
    metrics.consumer_batch_size.labels(consumer).observe(len(batch))
    for envelope, seconds in durations:
        metrics.handler_duration.labels(consumer, envelope.type).observe(seconds)
    for envelope, outcome in zip(envelopes, outcomes, strict=True):
        if outcome is not Outcome.IGNORED:
            metrics.handled.labels(consumer, envelope.type, outcome).inc()
    return outcomes


def _run_handlers(
    events: list[Envelope[Any]], context: str, consumer: str
) -> list[tuple[Envelope[Any], float]]:
    """Run the handlers for ``events`` in order; returns the time spent on each event.

    A bulk handler's time is shared evenly among the events of its run, so the handler
    duration histogram still counts events and sums to the time spent.
    """
    durations: list[tuple[Envelope[Any], float]] = []
    for topic, group in itertools.groupby(events, key=lambda envelope: envelope.type):
        run = list(group)
        handler = handler_for(context, topic)
        if handler is None:
            raise AssertionError(f"{context} does not handle {topic}; apply_batch filters those out")
        if handler.many is not None and len(run) > 1:
            started = time.perf_counter()
            handler.many(run)
            share = (time.perf_counter() - started) / len(run)
            durations.extend((envelope, share) for envelope in run)
            continue
        for envelope in run:
            durations.append((envelope, _run_one(handler, envelope, consumer)))
    return durations


def _run_one(handler: Handler, envelope: Envelope[Any], consumer: str) -> float:
    started = time.perf_counter()
    with event_scope(envelope, consumer):
        handler.func(envelope)
    return time.perf_counter() - started


def _is_conflict(error: BaseException) -> bool:
    return getattr(error.__cause__, "sqlstate", None) in _CONFLICT_SQLSTATES


def _insert_inbox(alias: str, consumer: str, envelopes: list[Envelope[Any]]) -> set[uuid.UUID]:
    """Write ``consumer``'s inbox rows for ``envelopes``; returns the ids that were not there yet.

    On PostgreSQL and SQLite this is one ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per
    batch: an event already in the inbox is skipped without failing the statement, and a
    concurrent transaction inserting the same row makes this one wait for its outcome on the
    unique index, as the single-message path does.
    """
    if not envelopes:
        return set()
    connection = connections[alias]
    if not _upserts_returning(connection):
        return _insert_inbox_portably(alias, consumer, envelopes)
    meta = InboxMessage._meta
    concrete = {field.name: field for field in meta.concrete_fields}
    fields = [concrete[name] for name in ("id", "consumer", "event_id", "topic", "processed_at")]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    event_id = concrete["event_id"]
    conflict = f"{quote(fields[1].column)}, {quote(event_id.column)}"
    now = timezone.now()
    inserted: set[uuid.UUID] = set()
    for start in range(0, len(envelopes), _INBOX_ROWS_PER_STATEMENT):
        chunk = envelopes[start : start + _INBOX_ROWS_PER_STATEMENT]
        params: list[Any] = []
        for envelope in chunk:
            values = (uuid.uuid4(), consumer, envelope.id, envelope.type, now)
            params.extend(
                field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True)
            )
        # Only quoted names from the model's own metadata are interpolated; values are parameters.
        table, rows, key = quote(meta.db_table), ", ".join([row] * len(chunk)), quote(event_id.column)
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {rows} "  # noqa: S608
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {key}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted.update(event_id.to_python(value) for (value,) in cursor.fetchall())
    return inserted


def _upserts_returning(connection: BaseDatabaseWrapper) -> bool:
    """Whether ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` works on this connection."""
    if connection.vendor == "postgresql":
        return True
    # Django's SQLite backend runs on the standard library's sqlite3 module.
    return connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35)


def _insert_inbox_portably(alias: str, consumer: str, envelopes: list[Envelope[Any]]) -> set[uuid.UUID]:
    """The same for engines without that statement (MongoDB): read what is there, insert the rest.

    A concurrent duplicate then fails the insert on the unique index instead of waiting;
    the batch rolls back and its messages are applied one at a time, where it is a duplicate.
    """
    inbox = InboxMessage.objects.using(alias)
    seen = set(
        inbox.filter(consumer=consumer, event_id__in=[e.id for e in envelopes]).values_list(
            "event_id", flat=True
        )
    )
    fresh = [envelope for envelope in envelopes if envelope.id not in seen]
    inbox.bulk_create(InboxMessage(consumer=consumer, event_id=e.id, topic=e.type) for e in fresh)
    return {envelope.id for envelope in fresh}
