"""How the waiting room reacts to the catalog's events."""

from __future__ import annotations

from apps.waitingroom import services
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles
from ticketflow.messaging.schemas import EventCreated, EventUpdated
from ticketflow.messaging.topics import Topic


@handles(Topic.EVENT_CREATED)
def on_event_created(event: Envelope[EventCreated]) -> None:
    """Know the event's queue settings. Again (or an older revision): nothing changes."""
    services.queued_event_apply_snapshot(snapshot=event.payload)


@handles(Topic.EVENT_UPDATED)
def on_event_updated(event: Envelope[EventUpdated]) -> None:
    """Adopt new queue settings (pause, rate, window). Again (or an older revision): nothing changes."""
    services.queued_event_apply_snapshot(snapshot=event.payload)
