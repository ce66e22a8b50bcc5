"""How checkin learns which tickets are valid: from the booking saga's events alone."""

from __future__ import annotations

from apps.checkin import services
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingConfirmed,
    BookingSeatsCancelled,
    PaymentRefunded,
    TicketTransferAccepted,
)
from ticketflow.messaging.topics import Topic


@handles(Topic.BOOKING_CONFIRMED)
def on_booking_confirmed(event: Envelope[BookingConfirmed]) -> None:
    """Issue one signed ticket per seat and announce them.

    A second delivery issues nothing and announces nothing: the booking already has its
    tickets. A booking cancelled before its confirmation arrived gets no tickets.
    """
    services.tickets_issue(payload=event.payload)


@handles(Topic.BOOKING_CANCELLED)
def on_booking_cancelled(event: Envelope[BookingCancelled]) -> None:
    """Revoke the booking's tickets, so every door refuses them.

    A second delivery finds nothing left to revoke and announces nothing.
    """
    services.tickets_revoke(booking_id=event.payload.booking_id, reason_code="booking_cancelled")


@handles(Topic.BOOKING_SEATS_CANCELLED)
def on_booking_seats_cancelled(event: Envelope[BookingSeatsCancelled]) -> None:
    """Revoke the tickets of the cancelled seats only; the booking's other tickets stay valid.

    A second delivery finds nothing left to revoke and announces nothing.
    """
    payload = event.payload
    services.tickets_revoke_seats(
        booking_id=payload.booking_id, seat_ids=payload.seat_ids, reason_code="seats_cancelled"
    )


@handles(Topic.PAYMENT_REFUNDED)
def on_payment_refunded(event: Envelope[PaymentRefunded]) -> None:
    """Revoke the tickets of a refunded booking (a cancellation's refund finds them revoked).

    The refund of a partial cancellation (``seats_cancelled``) revokes nothing more: its
    seats' tickets were revoked on ``booking.seats-cancelled`` and the others stay valid.
    A second delivery finds nothing left to revoke and announces nothing.
    """
    if event.payload.reason_code == "seats_cancelled":
        return
    services.tickets_revoke(booking_id=event.payload.booking_id, reason_code="payment_refunded")


@handles(Topic.TICKET_TRANSFER_ACCEPTED)
def on_ticket_transfer_accepted(event: Envelope[TicketTransferAccepted]) -> None:
    """Revoke the transferred tickets and issue new secrets to the recipient (or refuse).

    A second delivery finds the transfer answered: nothing is revoked, issued or announced.
    """
    services.tickets_transfer(payload=event.payload)
