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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connections

from ticketflow import db
from ticketflow.messaging import metrics
from ticketflow.messaging.envelope import Envelope, MalformedEvent, decode
from ticketflow.messaging.handlers import consumer_group, handler_for
from ticketflow.messaging.models import InboxMessage
from ticketflow.messaging.tracing import continue_trace
from ticketflow.observability import log_context

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


def apply(envelope: Envelope, context: str) -> Outcome:
    """Run ``context``'s handler for ``envelope`` once, in one transaction with its inbox row."""
    handler = handler_for(context, envelope.type)
    if handler is None:
        return Outcome.IGNORED
    alias = db.alias_for(context)
    consumer = consumer_group(context)
    inbox = InboxMessage.objects.using(alias)
    started = time.perf_counter()
    with (
        continue_trace(envelope.trace, f"{envelope.type} process", consumer=consumer),
        log_context(
            event_id=str(envelope.id),
            event_type=envelope.type,
            aggregate_id=envelope.aggregate_id,
            **(
                {"booking_id": booking_id}
                if (booking_id := getattr(envelope.payload, "booking_id", None))
                else {}
            ),
        ),
    ):
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
