"""What the relay needs from a transport."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ticketflow.messaging.outbox import PendingEvent


class TransportUnavailable(RuntimeError):
    """The transport cannot be reached; the relay backs off and tries again."""


@dataclass
class PublishResult:
    """Which events of a batch were acknowledged, and why the others were not."""

    sent: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)


class Transport(Protocol):
    name: str
    remote: bool
    """False when publishing runs the handlers in this very process (the embedded default)."""

    def publish(self, events: Sequence[PendingEvent]) -> PublishResult:
        """Publish a batch and wait until each event is acknowledged or has failed."""

    def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create missing topics (and their dead-letter topics)."""

    def health(self) -> None:
        """Return if the transport answers; raise :class:`TransportUnavailable` otherwise."""

    def close(self) -> None: ...
