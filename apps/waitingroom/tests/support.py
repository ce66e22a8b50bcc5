"""What the waiting-room tests share: an event snapshot with its queue on."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.utils import timezone

from ticketflow.messaging.schemas import EventCreated, EventUpdated, SeatLayout

EVENT_ID = "8d2b7f3a-4c1e-4b9a-9f0e-5a6c7d8e9f01"
LAYOUT = SeatLayout.model_validate(
    {"sections": [{"name": "Hall", "category": "standard", "rows": [{"label": "A", "seats": 8}]}]}
)


def snapshot(*, revision: int = 1, **changes: object) -> EventCreated:
    """An on-sale event whose queue is on, open now, letting in 600 a minute (10 a second)."""
    starts = timezone.now() + timedelta(days=3)
    fields = {
        "event_id": EVENT_ID, "name": "Flash sale", "venue_id": "v1", "venue_name": "Hall", "timezone": "UTC",
        "starts_at": starts, "ends_at": starts + timedelta(hours=2), "status": "on_sale", "currency": "EUR",
        "prices": {"standard": 2000}, "max_seats_per_booking": 4, "hold_minutes": 10, "layout": LAYOUT,
        "revision": revision, "queue_enabled": True, "admit_per_minute": 600, "max_active_shoppers": 500,
        "shopping_window_minutes": 10,
    }  # fmt: skip
    kind = EventCreated if revision == 1 else EventUpdated
    return kind(**{**fields, **changes})


def users(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def soon(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)
