"""How bookings reacts to the saga's events."""

from __future__ import annotations

from apps.bookings import services
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles
from ticketflow.messaging.schemas import (
    EventCreated,
    EventUpdated,
    PaymentProcessed,
    PaymentRefunded,
    SeatsLocked,
    SeatsLockFailed,
    TicketScanned,
    TicketsIssued,
    TicketsRevoked,
    TicketsTransferred,
)
from ticketflow.messaging.topics import Topic


@handles(Topic.EVENT_CREATED)
def on_event_created(event: Envelope[EventCreated]) -> None:
    """Start selling the event. Again (or an older revision): nothing changes."""
    services.bookable_event_apply_snapshot(snapshot=event.payload)


@handles(Topic.EVENT_UPDATED)
def on_event_updated(event: Envelope[EventUpdated]) -> None:
    """Adopt the event's new terms. Again (or an older revision): nothing changes."""
    services.bookable_event_apply_snapshot(snapshot=event.payload)


@handles(Topic.SEATS_LOCKED)
def on_seats_locked(event: Envelope[SeatsLocked]) -> None:
    """Seats held: request payment. Again: dropped by the inbox (and the booking has moved on)."""
    services.booking_on_seats_locked(payload=event.payload)


@handles(Topic.SEATS_LOCK_FAILED)
def on_seats_lock_failed(event: Envelope[SeatsLockFailed]) -> None:
    """No seats: fail the booking (or refund a late payment). Again: the booking has moved on."""
    services.booking_on_seats_lock_failed(payload=event.payload)


@handles(Topic.PAYMENT_PROCESSED)
def on_payment_processed(event: Envelope[PaymentProcessed]) -> None:
    """Confirm or fail the booking on the payment's outcome. Again: the payment is already known."""
    services.booking_on_payment_processed(payload=event.payload)


@handles(Topic.PAYMENT_REFUNDED)
def on_payment_refunded(event: Envelope[PaymentRefunded]) -> None:
    """Record the refund on the booking. Again: already recorded."""
    services.booking_on_payment_refunded(payload=event.payload)


@handles(Topic.TICKETS_ISSUED)
def on_tickets_issued(event: Envelope[TicketsIssued]) -> None:
    """Keep the booking's tickets for its owner. Again: the booking already has them."""
    services.booking_on_tickets_issued(payload=event.payload)


@handles(Topic.TICKETS_REVOKED)
def on_tickets_revoked(event: Envelope[TicketsRevoked]) -> None:
    """Mark the booking's tickets revoked. Again: they already are; nothing changes."""
    services.booking_on_tickets_revoked(payload=event.payload)


@handles(Topic.TICKET_SCANNED)
def on_ticket_scanned(event: Envelope[TicketScanned]) -> None:
    """Log a scan on the booking's timeline. Again: dropped by the inbox."""
    services.booking_on_ticket_scanned(payload=event.payload)


@handles(Topic.TICKETS_TRANSFERRED)
def on_tickets_transferred(event: Envelope[TicketsTransferred]) -> None:
    """Hand the new tickets to the recipient and mark the owner's transferred (or note a refusal).

    Again: the transfer has already ended; nothing changes.
    """
    services.transfer_on_tickets_transferred(payload=event.payload)
