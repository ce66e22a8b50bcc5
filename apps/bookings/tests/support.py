"""What the bookings tests share: an event on sale and signed-in buyers."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from ticketflow.messaging.schemas import EventCreated, SeatLayout, iter_seats

EVENT_ID = "6c6d3b8e-7a55-4f0e-9d1f-0c2a6c8e1a11"
LAYOUT = SeatLayout.model_validate(
    {"sections": [{"name": "Hall", "category": "standard", "rows": [{"label": "A", "seats": 8}]}]}
)
SEATS = [seat.seat_id for seat in iter_seats(EVENT_ID, LAYOUT)]


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
