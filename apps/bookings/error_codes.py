"""The error codes the bookings API answers (``docs/api.md``, "Bookings" and "Ticket transfers").

The door refuses a booking it can already tell cannot be held with the code inventory's
hold would have failed with (``ticketflow.messaging.codes.LockFailure``), so a client
sees one code for one reason, however early it was found. The codes of a booking that
failed later (``failure_code``) are the contract's ``FailureCode``s.
"""

from __future__ import annotations

from enum import StrEnum

from ticketflow.messaging.codes import LockFailure


class BookingErrorCode(StrEnum):
    # Starting a booking
    UNKNOWN_EVENT = LockFailure.UNKNOWN_EVENT
    NOT_ON_SALE = LockFailure.NOT_ON_SALE
    UNKNOWN_SEATS = LockFailure.UNKNOWN_SEATS
    SEATS_UNAVAILABLE = LockFailure.SEATS_UNAVAILABLE
    TOO_MANY_SEATS = "too_many_seats"
    BOOKING_IN_PROGRESS = "booking_in_progress"
    PURCHASE_LIMIT_REACHED = "purchase_limit_reached"
    TOO_MANY_UNPAID_BOOKINGS = "too_many_unpaid_bookings"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # Cancelling
    ALREADY_FINISHED = "already_finished"
    TOO_LATE = "too_late"
    """The event has started: no more cancellations or transfers."""
    SEATS_ALREADY_CANCELLED = "seats_already_cancelled"
    PARTIAL_CANCEL_NOT_ALLOWED = "partial_cancel_not_allowed"
    # Ticket transfers
    INVALID_TRANSFER_LINK = "invalid_transfer_link"
    BOOKING_NOT_CONFIRMED = "booking_not_confirmed"
    TRANSFERS_NOT_ALLOWED = "transfers_not_allowed"
    UNKNOWN_TICKET = "unknown_ticket"
    TICKET_TRANSFERRED = "ticket_transferred"
    TICKET_CHECKED_IN = "ticket_checked_in"
    TICKET_REVOKED = "ticket_revoked"
    TRANSFER_PENDING = "transfer_pending"
    TRANSFER_TO_SELF = "transfer_to_self"
    WRONG_RECIPIENT = "wrong_recipient"
    TRANSFER_CANCELLED = "transfer_cancelled"
    TRANSFER_REFUSED = "transfer_refused"
    TRANSFER_EXPIRED = "transfer_expired"
    TRANSFER_NOT_PENDING = "transfer_not_pending"
