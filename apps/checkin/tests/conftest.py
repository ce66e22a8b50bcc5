"""Fixtures of the checkin tests: confirmed bookings as checkin receives them, door staff, scans."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from apps.checkin.models import Ticket
from tests.support.envelopes import envelope
from ticketflow.messaging import dispatch
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingConfirmed,
    Customer,
    Payload,
    PaymentRefunded,
    SeatLabel,
)

STARTS_AT = datetime(2031, 6, 14, 19, 30, tzinfo=UTC)


def deliver(payload: Payload) -> dispatch.Outcome:
    """Apply ``payload`` to checkin as its consumer would: handler and inbox row in one transaction."""
    return dispatch.apply(envelope(payload, aggregate_id=payload.booking_id), "checkin")


@dataclass
class Booking:
    """A booking as the saga announces it to checkin."""

    booking_id: str
    event_id: str
    seats: int

    def confirmed(self) -> BookingConfirmed:
        return BookingConfirmed(
            booking_id=self.booking_id,
            reference="TF-7Q2K-9MRX",
            event_id=self.event_id,
            event_name="Midsummer Strings",
            event_starts_at=STARTS_AT,
            venue_name="Corn Exchange",
            customer=Customer(user_id=str(uuid.uuid4()), email="ada@example.com", name="Ada Lovelace"),
            seats=[
                SeatLabel(seat_id=str(uuid.uuid4()), section="Stalls", row="A", number=n, price_cents=4200)
                for n in range(1, self.seats + 1)
            ],
            total_cents=4200 * self.seats,
            currency="GBP",
        )

    def cancelled(self) -> BookingCancelled:
        confirmed = self.confirmed()
        return BookingCancelled(
            **confirmed.model_dump(include={"booking_id", "reference", "event_id", "event_name"}),
            event_starts_at=STARTS_AT,
            venue_name="Corn Exchange",
            customer=confirmed.customer,
            seat_ids=[seat.seat_id for seat in confirmed.seats],
            was_confirmed=True,
            refund_due=True,
            reason="cancelled at the buyer's request",
        )

    def refunded(self) -> PaymentRefunded:
        return PaymentRefunded(
            booking_id=self.booking_id,
            payment_id=str(uuid.uuid4()),
            refund_id=str(uuid.uuid4()),
            amount_cents=4200,
            currency="GBP",
            reason_code="booking_cancelled",
            customer=Customer(user_id=str(uuid.uuid4()), email="ada@example.com", name="Ada Lovelace"),
        )

    def tickets(self) -> list[Ticket]:
        return list(Ticket.objects.filter(booking_id=self.booking_id).order_by("seat_label"))


def book(*, event_id: str | None = None, seats: int = 2) -> Booking:
    """A confirmed booking whose tickets checkin has issued."""
    booking = Booking(booking_id=str(uuid.uuid4()), event_id=event_id or str(uuid.uuid4()), seats=seats)
    assert deliver(booking.confirmed()) == dispatch.Outcome.APPLIED
    return booking


def events_of(topic: str) -> list[dict[str, Any]]:
    """Payloads checkin put in its outbox on ``topic``, oldest first."""
    rows = OutboxMessage.objects.using("default").filter(topic=topic).order_by("position")
    return [json.loads(row.body)["payload"] for row in rows]


@pytest.fixture
def steward(db: None) -> Any:
    """Door staff: a plain user holding only the check-in permission."""
    user = get_user_model().objects.create_user(
        email=f"steward-{uuid.uuid4().hex[:6]}@example.com", password="x", name="Sam"
    )
    user.user_permissions.add(
        Permission.objects.get(codename="scan_tickets", content_type__app_label="checkin")
    )
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def door(steward: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(steward)
    return client


def nonce() -> str:
    return uuid.uuid4().hex
