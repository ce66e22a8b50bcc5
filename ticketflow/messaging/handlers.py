"""The handler registry: which bounded context reacts to which event type.

A context declares its reactions in ``apps/<context>/consumers.py``::

    @handles(Topic.SEATS_LOCKED)
    def on_seats_locked(event: Envelope[SeatsLocked]) -> None:
        ...

Each context is one consumer group (``ticketflow.<context>``) and has at most one handler per
topic. The handler runs inside the context's transaction together with its inbox row, so
it must only touch its own context's data (and ``emit`` its own events).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.conf import settings

from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.schemas import REGISTRY
from ticketflow.messaging.topics import Topic

HandlerFunc = Callable[[Envelope[Any]], None]


@dataclass(frozen=True, slots=True)
class Handler:
    context: str
    topic: str
    func: HandlerFunc

    @property
    def name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


_handlers: dict[str, dict[str, Handler]] = {}


def handles(topic: Topic) -> Callable[[HandlerFunc], HandlerFunc]:
    """Register the decorated function as its context's handler for ``topic``."""
    if topic not in REGISTRY:
        raise ValueError(f"{topic} has no payload schema")

    def decorator(func: HandlerFunc) -> HandlerFunc:
        app_config = apps.get_containing_app_config(func.__module__)
        if app_config is None:
            raise ValueError(f"{func.__module__} is not inside an installed app")
        context = app_config.label
        existing = _handlers.setdefault(context, {}).get(topic)
        if existing is not None and existing.func is not func:
            raise ValueError(f"{context} already handles {topic} with {existing.name}")
        _handlers[context][topic] = Handler(context=context, topic=topic, func=func)
        return func

    return decorator


def contexts() -> list[str]:
    """Contexts that consume at least one topic, in a stable order."""
    return sorted(context for context, handlers in _handlers.items() if handlers)


def topics_for(context: str) -> list[str]:
    return sorted(_handlers.get(context, {}))


def handler_for(context: str, topic: str) -> Handler | None:
    return _handlers.get(context, {}).get(topic)


def subscribers(topic: str) -> list[str]:
    """Contexts with a handler for ``topic``."""
    return sorted(context for context, handlers in _handlers.items() if topic in handlers)


def consumer_group(context: str) -> str:
    """The Kafka consumer group (and inbox consumer name) of a context."""
    return f"{settings.TICKETFLOW_EVENTS['NAMESPACE']}ticketflow.{context}"
