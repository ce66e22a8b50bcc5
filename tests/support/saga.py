"""Saga fixtures shared by every suite: an event on sale, buyers, and a broker the test steers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import user_register
from apps.bookings.services import Buyer, booking_create
from apps.catalog.layout import parse_layout_text
from apps.catalog.services import EventDetails, event_create, venue_create
from tests.support.broker import ManualBroker
from ticketflow.messaging.schemas import SeatLayout, iter_seats


@dataclass
class OnSale:
    event_id: str
    seat_ids: list[str]
    price_cents: int


@pytest.fixture
def broker(inprocess_transport: None, eager_celery: None) -> ManualBroker:
    return ManualBroker()


@pytest.fixture
def concert(broker: ManualBroker) -> OnSale:
    """An event on sale with ten seats at 25.00, its inventory ready."""
    layout: SeatLayout = parse_layout_text("[Hall] standard\nA: 1-10")
    venue = venue_create(name="Test Hall", layout=layout)
    starts = timezone.now() + timedelta(days=10)
    event = event_create(
        details=EventDetails(
            venue_id=str(venue.pk),
            name="Test Concert",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            currency="EUR",
            prices={"standard": 2500},
            max_seats_per_booking=4,
            hold_minutes=10,
        ),
        publish=True,
    )
    broker.settle()
    return OnSale(
        event_id=str(event.pk),
        seat_ids=[seat.seat_id for seat in iter_seats(str(event.pk), layout)],
        price_cents=2500,
    )


@pytest.fixture
def make_buyer(broker: ManualBroker) -> Callable[[str], User]:
    counter = iter(range(1, 10_000))

    def make(name: str = "Ada") -> User:
        user = user_register(
            email=f"{name.lower()}{next(counter)}@example.com", password="Correct-Horse-42", name=name
        )
        broker.settle()
        return user

    return make


def book(user: User, event: OnSale, seats: list[str], payment_method: str = "pm_card_visa") -> str:
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(user.id), email=user.email, name=user.name),
        event_id=event.event_id,
        seat_ids=seats,
        payment_method=payment_method,
    )
    return str(booking.id)
