"""Drive the saga by hand: deliver pending events one topic at a time, or all of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils import timezone

from ticketflow.messaging.dispatch import apply
from ticketflow.messaging.envelope import decode
from ticketflow.messaging.handlers import subscribers
from ticketflow.messaging.models import OutboxMessage

ALIASES = ("default", "documents")


@dataclass
class ManualBroker:
    """A broker a test steers: which events go next, and how many times each is delivered."""

    times: int = 1
    delivered: list[str] = field(default_factory=list)

    def pending(self, *topics: str) -> list[OutboxMessage]:
        rows: list[OutboxMessage] = []
        for alias in ALIASES:
            found = OutboxMessage.objects.using(alias).filter(pending=True)
            if topics:
                found = found.filter(topic__in=topics)
            rows.extend(found.order_by("position"))
        return sorted(rows, key=lambda row: row.position)

    def deliver(self, *topics: str) -> int:
        """Deliver what is pending now (only ``topics``, if given) to every subscriber."""
        rows = self.pending(*topics)
        for row in rows:
            envelope = decode(row.body)
            for context in subscribers(row.topic):
                for _ in range(self.times):
                    apply(envelope, context)
            OutboxMessage.objects.using(row._state.db).filter(pk=row.pk).update(
                pending=False, sent_at=timezone.now()
            )
            self.delivered.append(row.topic)
        return len(rows)

    def settle(self, *, skip: Iterable[str] = (), rounds: int = 50) -> None:
        """Deliver until nothing is pending (except the ``skip`` topics, which stay queued)."""
        skipped = set(skip)
        for _ in range(rounds):
            topics = {row.topic for row in self.pending()} - skipped
            if not topics:
                return
            self.deliver(*topics)
        raise AssertionError("the saga did not settle")
