"""Helpers of the inventory tests: catalog snapshots and saga events, delivered as the kernel does.

Inventory learns about events only from the catalog's announcements, so these tests build
the announcement (the shared schema) instead of reaching into the catalog context.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.support.envelopes import envelope
from ticketflow import db
from ticketflow.messaging import dispatch
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingInitiated,
    Customer,
    EventCreated,
    EventSnapshot,
    EventUpdated,
    Payload,
    SeatLayout,
    seat_id_for,
)
from ticketflow.messaging.topics import Topic

LAYOUT = {
    "sections": [
        {
            "name": "Stalls",
            "category": "standard",
            "rows": [{"label": "A", "seats": 4}, {"label": "B", "seats": 4, "category": "premium"}],
        },
        {"name": "Balcony", "category": "economy", "rows": [{"label": "A", "seats": 2}]},
    ]
}
PRICES = {"standard": 4500, "premium": 7900, "economy": 2500}
CUSTOMER = Customer(user_id=str(uuid.UUID(int=1)), email="ada@example.com", name="Ada Lovelace")


def snapshot(
    event_id: str,
    *,
    topic: type[EventSnapshot] = EventCreated,
    revision: int = 1,
    layout: dict[str, Any] | None = None,
    prices: dict[str, int] | None = None,
    starts_at: datetime | None = None,
    **terms: Any,
) -> EventSnapshot:
    """The catalog's announcement of a published event (``event.created`` or ``event.updated``)."""
    starts = starts_at or (timezone.now() + timedelta(days=10)).replace(microsecond=0)
    fields: dict[str, Any] = {
        "event_id": event_id,
        "name": "Jazz Night",
        "venue_id": str(uuid.UUID(int=7)),
        "venue_name": "Apollo",
        "timezone": "Europe/Berlin",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=3),
        "status": "on_sale",
        "currency": "EUR",
        "prices": prices or dict(PRICES),
        "max_seats_per_booking": 10,
        "hold_minutes": 10,
        "layout": SeatLayout.model_validate(layout or LAYOUT),
        "revision": revision,
        **terms,
    }
    return topic(**fields)


def updated(event_id: str, **changes: Any) -> EventSnapshot:
    return snapshot(event_id, topic=EventUpdated, **changes)


def deliver(payload: Payload, *, aggregate_id: str) -> dispatch.Outcome:
    """Apply one event to the inventory context through the kernel (handler + inbox row)."""
    return dispatch.apply(envelope(payload, aggregate_id=aggregate_id), "inventory")


def publish(event_id: str, **changes: Any) -> None:
    """The event's ``event.created`` has been applied: its seats exist."""
    assert deliver(snapshot(event_id, **changes), aggregate_id=event_id) == dispatch.Outcome.APPLIED


def initiate(*, booking_id: str, event_id: str, seat_ids: list[str]) -> dispatch.Outcome:
    """A buyer asked for seats (``booking.initiated``)."""
    return deliver(
        BookingInitiated(booking_id=booking_id, event_id=event_id, seat_ids=seat_ids, customer=CUSTOMER),
        aggregate_id=booking_id,
    )


def cancelled(*, booking_id: str, event_id: str, seat_ids: list[str]) -> BookingCancelled:
    return BookingCancelled(
        booking_id=booking_id,
        reference="TF-ABC123",
        event_id=event_id,
        event_name="Jazz Night",
        event_starts_at=timezone.now() + timedelta(days=10),
        venue_name="Apollo",
        customer=CUSTOMER,
        seat_ids=seat_ids,
        was_confirmed=False,
        refund_due=False,
        reason="Changed my mind",
    )


def seat(event_id: str, section: str, row: str, number: int) -> str:
    return seat_id_for(event_id, section, row, number)


def answers(topic: Topic | str, *, booking_id: str | None = None) -> list[dict[str, Any]]:
    """Payloads inventory emitted on ``topic`` (for ``booking_id``), oldest first."""
    rows = OutboxMessage.objects.using(db.alias_for("inventory")).filter(topic=topic)
    if booking_id is not None:
        rows = rows.filter(aggregate_id=booking_id)
    return [json.loads(row.body)["payload"] for row in rows.order_by("position")]


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def event_id() -> str:
    return new_id()
