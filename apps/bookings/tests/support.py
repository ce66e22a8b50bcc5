"""What the bookings tests share: events on sale, signed-in buyers, booking and claim probes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings.services import bookable_event_apply_snapshot
from ticketflow import seat_claims
from ticketflow.messaging.schemas import EventCreated, SeatLayout, iter_seats

EVENT_ID = "6c6d3b8e-7a55-4f0e-9d1f-0c2a6c8e1a11"
LAYOUT = SeatLayout.model_validate(
    {"sections": [{"name": "Hall", "category": "standard", "rows": [{"label": "A", "seats": 8}]}]}
)
SEATS = [seat.seat_id for seat in iter_seats(EVENT_ID, LAYOUT)]
CARD = "pm_card_visa"
"""The test card every booking request names (the API has no default payment method)."""


def snapshot(**changes: object) -> EventCreated:
    starts = timezone.now() + timedelta(days=3)
    fields = {
        "event_id": EVENT_ID, "name": "Quartet", "venue_id": "v1", "venue_name": "Hall", "timezone": "UTC",
        "starts_at": starts, "ends_at": starts + timedelta(hours=2), "status": "on_sale", "currency": "EUR",
        "prices": {"standard": 2000}, "max_seats_per_booking": 4, "hold_minutes": 10, "layout": LAYOUT, "revision": 1,
    }  # fmt: skip
    return EventCreated(**{**fields, **changes})


def client_for(email: str) -> tuple[APIClient, object]:
    user = get_user_model().objects.create_user(
        email=email, password="Correct-Horse-42", name=email.split("@")[0]
    )
    client = APIClient()
    client.force_authenticate(user)
    return client, user


ARENA = SeatLayout.model_validate(
    {"sections": [{"name": "Floor", "category": "standard", "rows": [{"label": "A", "seats": 40}]}]}
)


def arena(event_id: str = EVENT_ID, **changes: object) -> list[str]:
    """Put a 40-seat event on sale (2 seats per booking unless told otherwise); its seat ids."""
    fields = {"event_id": event_id, "layout": ARENA, "max_seats_per_booking": 2, **changes}
    bookable_event_apply_snapshot(snapshot=snapshot(**fields))
    return [seat.seat_id for seat in iter_seats(event_id, ARENA)]


def book(client: APIClient, seats: list[str], *, event_id: str = EVENT_ID, key: str | None = None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(
        "/api/bookings",
        {"event_id": event_id, "seat_ids": seats, "payment_method": CARD},
        format="json",
        **headers,
    )


def error_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 409, response.content
    return response.json()["error"]


def claimable(seats: list[str], event_id: str = EVENT_ID) -> bool:
    """True when someone else could claim every one of ``seats`` now (the probe lets them go)."""
    owner = f"probe-{uuid.uuid4()}"
    result = seat_claims.claim(event_id=event_id, seat_ids=seats, owner=owner, ttl_seconds=5)
    seat_claims.release(event_id=event_id, seat_ids=seats, owner=owner)
    return result.granted


def seat(seat_id: str, number: int, price_cents: int = 2000) -> dict[str, Any]:
    """A held seat's facts as inventory sends them: row A of the Hall, ``number``, ``price_cents``."""
    return {
        "seat_id": seat_id,
        "section": "Hall",
        "row": "A",
        "number": number,
        "category": "standard",
        "price_cents": price_cents,
    }
