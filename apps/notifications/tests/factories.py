"""Events and notification rows for the notifications tests."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from apps.notifications.models import Notification, NotificationKind, NotificationStatus
from ticketflow import db
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingExpired,
    BookingFailed,
    BookingSeatsCancelled,
    Customer,
    IssuedTicket,
    Payload,
    PaymentRefunded,
    SeatLabel,
    TicketsIssued,
    UserRegistered,
)

STARTS_AT = datetime(2031, 6, 14, 19, 30, tzinfo=UTC)


def customer(**overrides: Any) -> Customer:
    return Customer(
        **{"user_id": str(uuid.uuid4()), "email": "ada@example.com", "name": "Ada Lovelace"} | overrides
    )


def user_registered(**overrides: Any) -> UserRegistered:
    fields = {"user_id": str(uuid.uuid4()), "email": "grace@example.com", "name": "Grace Hopper"}
    return UserRegistered(**fields | overrides)


def _booking_facts(**overrides: Any) -> dict[str, Any]:
    return {
        "booking_id": str(uuid.uuid4()),
        "reference": "TF-7Q2K9M",
        "event_id": str(uuid.uuid4()),
        "event_name": "Rock & Roll Night",
        "event_starts_at": STARTS_AT,
        "venue_name": "Philharmonie Berlin",
        "customer": customer(),
    } | overrides


def tickets_issued(**overrides: Any) -> TicketsIssued:
    """A confirmed booking's tickets as checkin announces them (what the confirmation email needs)."""
    seats = [
        SeatLabel(seat_id=str(uuid.uuid4()), section="Stalls", row="C", number=12, price_cents=4250),
        SeatLabel(seat_id=str(uuid.uuid4()), section="Stalls", row="C", number=13, price_cents=4250),
    ]
    tickets = [
        # As long as a real secret (97 bytes, base64url): the QR codes come out the real size.
        IssuedTicket(ticket_id=str(uuid.uuid4()), seat_id=seat.seat_id, secret=secrets.token_urlsafe(97))
        for seat in seats
    ]
    fields = _booking_facts(seats=seats, total_cents=8500, currency="EUR", tickets=tickets)
    return TicketsIssued(**fields | overrides)


def booking_failed(**overrides: Any) -> BookingFailed:
    fields = _booking_facts(reason_code="seats_unavailable", reason="seat 3f2a... held by booking 91c0...")
    return BookingFailed(**fields | overrides)


def booking_cancelled(**overrides: Any) -> BookingCancelled:
    fields = _booking_facts(
        seat_ids=[str(uuid.uuid4()), str(uuid.uuid4())],
        was_confirmed=True,
        refund_due=True,
        reason="cancelled at the buyer's request",
    )
    return BookingCancelled(**fields | overrides)


def booking_expired(**overrides: Any) -> BookingExpired:
    return BookingExpired(**_booking_facts(seat_ids=[str(uuid.uuid4())]) | overrides)


def booking_seats_cancelled(**overrides: Any) -> BookingSeatsCancelled:
    """One seat of two cancelled at the 50% step of the event's refund policy."""
    seat = SeatLabel(seat_id=str(uuid.uuid4()), section="Stalls", row="C", number=12, price_cents=4250)
    fields = _booking_facts(
        cancellation_id=str(uuid.uuid4()),
        seat_ids=[seat.seat_id],
        seats=[seat],
        refund_percent=50,
        refund_cents=2125,
        currency="EUR",
    )
    return BookingSeatsCancelled(**fields | overrides)


def payment_refunded(**overrides: Any) -> PaymentRefunded:
    fields = {
        "booking_id": str(uuid.uuid4()),
        "payment_id": str(uuid.uuid4()),
        "refund_id": str(uuid.uuid4()),
        "amount_cents": 4250,
        "currency": "EUR",
        "reason_code": "late_payment",
        "customer": customer(),
    }
    return PaymentRefunded(**fields | overrides)


def publish(payload: Payload, *, aggregate_id: str = "aggregate-1") -> Envelope[Payload]:
    """Write ``payload`` to the "default" outbox the way a relational context's service does."""
    with db.atomic("default"):
        return emit(payload, aggregate_id=aggregate_id, using="default")


def notification(**overrides: Any) -> Notification:
    """A notification row written directly (nothing is enqueued)."""
    now = timezone.now()
    fields = {
        "kind": NotificationKind.WELCOME,
        "recipient": "grace@example.com",
        "user_id": str(uuid.uuid4()),
        "source_event_id": uuid.uuid4(),
        "subject": "Welcome to TicketFlow, Grace Hopper",
        "context": {"user_id": "u-1", "email": "grace@example.com", "name": "Grace Hopper"},
        "status": NotificationStatus.PENDING,
        "created_at": now,
        "updated_at": now,
    }
    return Notification.objects.create(**fields | overrides)
