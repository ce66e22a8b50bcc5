"""The handler registry: which bounded context reacts to which event type.

A context declares its reactions in ``apps/<context>/consumers.py``::

    @handles(Topic.SEATS_LOCKED)
    def on_seats_locked(event: Envelope[SeatsLocked]) -> None:
        ...

Each context is one consumer group (``ticketflow.<context>``) and has at most one handler per
topic. The handler runs inside the context's transaction together with its inbox row, so
it must only touch its own context's data (and ``emit`` its own events).

A context that can apply many events of one topic at once (one ``UPDATE ... WHERE id IN``
instead of one per event) may add a bulk handler for a topic it already handles::

    @handles_many(Topic.SEATS_RELEASE)
    def on_seats_release_many(events: list[Envelope[SeatsRelease]]) -> None:
        ...  # one statement for all of them
        for event in events:
            with event_scope(event):  # the event's own trace and log fields around its emits
                emit(...)

The consumer calls it with a run of two or more consecutive messages of that topic taken from
one batch (see ``docs/adr/008-batched-consumers.md``): in delivery order, already
deduplicated against the inbox, inside the batch's transaction, after the handlers of the
messages before the run. It must leave exactly the state that calling the ``@handles``
handler on each event in list order would leave, because that handler is what runs
whenever the batch falls back to one message at a time (a failure, replay, the embedded
default's single events). If it raises, the whole batch rolls back and is retried that way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.schemas import REGISTRY
from ticketflow.messaging.topics import Topic
from ticketflow.messaging.tracing import continue_trace
from ticketflow.observability import log_context

HandlerFunc = Callable[[Envelope[Any]], None]
BulkHandlerFunc = Callable[[list[Envelope[Any]]], None]


@dataclass(frozen=True, slots=True)
class Handler:
    context: str
    topic: str
    func: HandlerFunc
    many: BulkHandlerFunc | None = None
    """The bulk variant registered with :func:`handles_many`, if any."""

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


_handlers: dict[str, dict[str, Handler]] = {}
_bulk_handlers: dict[str, dict[str, BulkHandlerFunc]] = {}


def _context_of(func: Callable[..., Any]) -> str:
    app_config = apps.get_containing_app_config(func.__module__)
    if app_config is None:
        raise ValueError(f"{func.__module__} is not inside an installed app")
    return app_config.label


def _check_topic(topic: str) -> None:
    if topic not in REGISTRY:
        raise ValueError(f"{topic} has no payload schema")


def handles(topic: Topic) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register the decorated function as its context's handler for ``topic``."""
    _check_topic(topic)

    def decorator(func: HandlerFunc) -> HandlerFunc:
        context = _context_of(func)
        existing = _handlers.setdefault(context, {}).get(topic)
        if existing is not None and existing.func is not func:
            raise ValueError(f"{context} already handles {topic} with {existing.name}")
        many = _bulk_handlers.get(context, {}).get(topic)
        _handlers[context][topic] = Handler(context=context, topic=topic, func=func, many=many)
        return func

    return decorator


def handles_many(topic: Topic) -> Callable[[BulkHandlerFunc], BulkHandlerFunc]:
    """Register the decorated function as its context's bulk handler for ``topic``.

    It takes ``list[Envelope]`` and must be equivalent to the context's ``@handles`` handler
    for ``topic`` applied to each event in order; that handler must also exist (checked when
    the apps are ready), since it is what runs when a batch is applied one message at a time.
    """
    _check_topic(topic)

    def decorator(func: BulkHandlerFunc) -> BulkHandlerFunc:
        context = _context_of(func)
        existing = _bulk_handlers.setdefault(context, {}).get(topic)
        if existing is not None and existing is not func:
            raise ValueError(f"{context} already handles runs of {topic} with {existing.__qualname__}")
        _bulk_handlers[context][topic] = func
        single = _handlers.get(context, {}).get(topic)
        if single is not None:  # decorators may come in either order
            _handlers[context][topic] = Handler(context=context, topic=topic, func=single.func, many=func)
        return func

    return decorator


def check_registry() -> None:
    """Refuse a bulk handler without its single-message fallback (run once the apps are loaded)."""
    for context, bulk in _bulk_handlers.items():
        orphans = sorted(set(bulk) - set(_handlers.get(context, {})))
        if orphans:
            raise ImproperlyConfigured(
                f"{context} has @handles_many without @handles for {', '.join(orphans)}: a batch that "
                "falls back to one message at a time needs the single-message handler"
            )


def contexts() -> list[str]:
    """Contexts that consume at least one topic, in a stable order."""
    return sorted(context for context, handlers in _handlers.items() if handlers)


def topics_for(context: str) -> list[str]:
    return sorted(_handlers.get(context, {}))


def handler_for(context: str, topic: str) -> Handler | None:
    """``context``'s handler for ``topic`` (with its bulk variant in ``many``), or None."""
    return _handlers.get(context, {}).get(topic)


def subscribers(topic: str) -> list[str]:
    """Contexts with a handler for ``topic``."""
    return sorted(context for context, handlers in _handlers.items() if topic in handlers)


def consumer_group(context: str) -> str:
    """The Kafka consumer group (and inbox consumer name) of a context."""
    return f"{settings.TICKETFLOW_EVENTS['NAMESPACE']}ticketflow.{context}"


@contextlib.contextmanager
def event_scope(event: Envelope[Any], consumer: str | None = None) -> Iterator[None]:
    """The span and log fields of handling ``event``: a child of the span that emitted it.

    The kernel opens it around every single-message handler call. A bulk handler opens it
    around its per-event work (above all its ``emit`` calls), so the events it emits carry
    their cause's trace onwards and one booking stays one trace.
    """
    booking_id = getattr(event.payload, "booking_id", None)
    with (
        continue_trace(event.trace, f"{event.type} process", **({"consumer": consumer} if consumer else {})),
        log_context(
            event_id=str(event.id),
            event_type=event.type,
            aggregate_id=event.aggregate_id,
            **({"booking_id": booking_id} if booking_id else {}),
        ),
    ):
        yield
