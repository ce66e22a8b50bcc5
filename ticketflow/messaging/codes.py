"""Codes that cross a context boundary in events: why a booking could not be completed.

A booking's ``failure_code`` (and ``booking.failed``'s ``reason_code``) is one of these:
why inventory could not hold the seats (``seats.lock-failed``), why payments could not
charge (``payment.processed``), or what bookings itself decided. The contexts that emit
them, the ones that react, the emails and the booking pages all read this one list;
``ticketflow/messaging/failure_reasons.py`` says each in words a buyer understands.
"""

from __future__ import annotations

from enum import StrEnum

from ticketflow.error_codes import ErrorCode


class LockFailure(StrEnum):
    """Why inventory could not hold a booking's seats (``seats.lock-failed``'s ``reason_code``).

    Bookings turns the same requests away at the door with the same codes when it can tell
    early (``not_on_sale``, ``unknown_event``, ``unknown_seats``, ``seats_unavailable``).
    """

    SEATS_UNAVAILABLE = "seats_unavailable"
    UNKNOWN_SEATS = "unknown_seats"
    NOT_ON_SALE = "not_on_sale"
    UNKNOWN_EVENT = "unknown_event"
    BUSY = ErrorCode.BUSY


class PaymentFailureCode(StrEnum):
    """The provider-neutral codes of a failed charge (``payment.processed``'s ``failure_code``).

    A decline also may carry the issuer's own decline code when it is specific and safe to
    tell the buyer (``apps.payments.providers.base.failure_code_for``): that set is the
    card networks', open-ended, so the event's field stays a string and only these are named.
    """

    PAYMENT_FAILED = "payment_failed"
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CVC = "incorrect_cvc"
    PROCESSING_ERROR = "processing_error"
    INVALID_PAYMENT_METHOD = "invalid_payment_method"
    PROVIDER_REJECTED = "provider_rejected"
    """The provider refused the request for good (e.g. an idempotency key reused)."""
    BOOKING_ENDED = "booking_ended"
    """The booking ended before the charge was sent: nothing was asked of the provider."""
    PAYMENT_CANCELED = "payment_canceled"
    """The unfinished charge was cancelled at the provider because its booking ended."""


class BookingFailureCode(StrEnum):
    """Why bookings itself ended a booking unsuccessfully."""

    HOLD_EXPIRED = "hold_expired"
    TIMED_OUT = "timed_out"
    """PENDING for too long: no answer from inventory (nothing was charged)."""
    LATE_PAYMENT_SEATS_GONE = "late_payment_seats_gone"
    """Paid after the hold ran out, and the seats were sold meanwhile: refunded."""


FailureCode = LockFailure | PaymentFailureCode | BookingFailureCode
"""Any code a booking can fail with."""

FAILURE_CODES: tuple[type[StrEnum], ...] = (LockFailure, PaymentFailureCode, BookingFailureCode)
