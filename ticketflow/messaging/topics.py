"""The topic catalogue: one Kafka topic per event type (docs/event-catalog.md)."""

from enum import StrEnum


class Topic(StrEnum):
    """Every event type TicketFlow publishes; the value is the topic name."""

    USER_REGISTERED = "ticketflow.user.registered"
    SIGN_UP_ATTEMPTED = "ticketflow.user.sign-up-attempted"
    EVENT_CREATED = "ticketflow.event.created"
    EVENT_UPDATED = "ticketflow.event.updated"
    BOOKING_INITIATED = "ticketflow.booking.initiated"
    SEATS_LOCKED = "ticketflow.seats.locked"
    SEATS_LOCK_FAILED = "ticketflow.seats.lock-failed"
    SEATS_CONFIRM = "ticketflow.seats.confirm"
    SEATS_RELEASE = "ticketflow.seats.release"
    SEATS_REACQUIRE = "ticketflow.seats.reacquire"
    PAYMENT_REQUESTED = "ticketflow.payment.requested"
    PAYMENT_PROCESSED = "ticketflow.payment.processed"
    PAYMENT_REFUND_REQUESTED = "ticketflow.payment.refund-requested"
    PAYMENT_REFUNDED = "ticketflow.payment.refunded"
    BOOKING_CONFIRMED = "ticketflow.booking.confirmed"
    BOOKING_FAILED = "ticketflow.booking.failed"
    BOOKING_CANCELLED = "ticketflow.booking.cancelled"
    BOOKING_EXPIRED = "ticketflow.booking.expired"
    # Partial cancellation (issue 14): some seats of a confirmed booking given back.
    BOOKING_SEATS_CANCELLED = "ticketflow.booking.seats-cancelled"
    TICKETS_ISSUED = "ticketflow.tickets.issued"
    TICKETS_REVOKED = "ticketflow.tickets.revoked"
    TICKET_SCANNED = "ticketflow.ticket.scanned"
    # Ticket transfers (issue 14).
    TICKET_TRANSFER_REQUESTED = "ticketflow.ticket.transfer-requested"
    TICKET_TRANSFER_ACCEPTED = "ticketflow.ticket.transfer-accepted"
    TICKETS_TRANSFERRED = "ticketflow.tickets.transferred"
    # The waiting list (issue 14).
    WAITLIST_OFFER_MADE = "ticketflow.waitlist.offer-made"


DEAD_LETTER_SUFFIX = ".DLT"
