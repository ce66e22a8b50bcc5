"""Events as a consumer receives them, for tests that hand a payload straight to a handler."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.utils import timezone

from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.schemas import Payload

P = TypeVar("P", bound=Payload)


def envelope(
    payload: P, *, aggregate_id: str = "aggregate-1", event_id: uuid.UUID | None = None
) -> Envelope[P]:
    """``payload`` wrapped as its producer would have published it, just now.

    ``aggregate_id`` is the Kafka key (a booking's id for booking events); ``event_id`` names
    the event, so delivering the same envelope (or the same id) twice is a redelivery.
    """
    return Envelope(
        id=event_id or uuid.uuid4(),
        type=payload.topic,
        version=payload.version,
        occurred_at=timezone.now(),
        aggregate_id=aggregate_id,
        trace=None,
        payload=payload,
    )
