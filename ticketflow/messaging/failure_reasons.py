"""Why a booking failed, in words its buyer understands: the emails and the booking pages.

Keyed by the failure codes of ``ticketflow/messaging/codes.py``; every code has an entry
(``tests/kernel/test_failure_reasons.py``). The ``reason`` text events carry is not shown
to buyers: for a lock failure it is written for operators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ticketflow.messaging.codes import BookingFailureCode, FailureCode, LockFailure, PaymentFailureCode


@dataclass(frozen=True, slots=True)
class FailureReason:
    """One failure explained: a heading, a sentence, what to do next, whether to try again."""

    title: str
    explanation: str
    advice: str
    retry: bool


_DECLINED = "Nothing was charged and your seats were released. Try again with another card."
_NOT_CHARGED = "Nothing was charged and your seats were released. Please try again."

FAILURE_REASONS: Mapping[FailureCode, FailureReason] = {
    LockFailure.SEATS_UNAVAILABLE: FailureReason(
        "Those seats were just taken",
        "Someone else booked one or more of the seats you picked just before you did.",
        "Pick other seats: the ones still free are on the map.",
        retry=True,
    ),
    LockFailure.UNKNOWN_SEATS: FailureReason(
        "Those seats are not part of this event",
        "One or more of the seats you picked are no longer part of the venue's seating plan.",
        "Please choose your seats again.",
        retry=True,
    ),
    LockFailure.NOT_ON_SALE: FailureReason(
        "Tickets are not on sale right now",
        "Tickets for this event are not on sale right now.",
        "Check the event page for sale dates.",
        retry=False,
    ),
    LockFailure.UNKNOWN_EVENT: FailureReason(
        "We could not find this event",
        "This event is no longer available.",
        "It may have been withdrawn.",
        retry=False,
    ),
    LockFailure.BUSY: FailureReason(
        "We are very busy right now",
        "We were very busy and could not hold your seats in time.",
        "Nothing was charged. Please try again in a moment.",
        retry=True,
    ),
    PaymentFailureCode.PAYMENT_FAILED: FailureReason(
        "Your payment did not go through", "Your payment did not go through.", _DECLINED, retry=True
    ),
    PaymentFailureCode.CARD_DECLINED: FailureReason(
        "Your payment was declined",
        "Your card was declined by your bank or card issuer.",
        _DECLINED,
        retry=True,
    ),
    PaymentFailureCode.INSUFFICIENT_FUNDS: FailureReason(
        "Your card has insufficient funds",
        "Your card was declined because of insufficient funds.",
        _DECLINED,
        retry=True,
    ),
    PaymentFailureCode.EXPIRED_CARD: FailureReason(
        "Your card has expired", "Your card has expired.", _DECLINED, retry=True
    ),
    PaymentFailureCode.INCORRECT_CVC: FailureReason(
        "Your card's security code was not correct",
        "The card's security code (CVC) was not correct.",
        _DECLINED,
        retry=True,
    ),
    PaymentFailureCode.PROCESSING_ERROR: FailureReason(
        "Your payment could not be processed",
        "There was an error while processing your payment.",
        _DECLINED,
        retry=True,
    ),
    PaymentFailureCode.INVALID_PAYMENT_METHOD: FailureReason(
        "This payment method cannot be used", "The payment method could not be used.", _DECLINED, retry=True
    ),
    PaymentFailureCode.PROVIDER_REJECTED: FailureReason(
        "Your payment could not be made",
        "Our payment provider refused to take the payment.",
        _NOT_CHARGED,
        retry=True,
    ),
    PaymentFailureCode.BOOKING_ENDED: FailureReason(
        "Your booking ended before it was paid",
        "Your booking had already ended, so no payment was taken.",
        "Nothing was charged. You can book again.",
        retry=True,
    ),
    PaymentFailureCode.PAYMENT_CANCELED: FailureReason(
        "Your payment was cancelled",
        "The payment was cancelled before it completed.",
        "Nothing was charged. You can book again.",
        retry=True,
    ),
    BookingFailureCode.HOLD_EXPIRED: FailureReason(
        "Your hold on the seats ran out",
        "Your hold on the seats ran out before the payment completed.",
        "The payment did not complete in time, so the seats went back on sale. You can try again.",
        retry=True,
    ),
    BookingFailureCode.TIMED_OUT: FailureReason(
        "We could not confirm your seats in time",
        "We could not confirm your seats in time. You have not been charged.",
        "Your seats were released. Please try again.",
        retry=True,
    ),
    BookingFailureCode.LATE_PAYMENT_SEATS_GONE: FailureReason(
        "Your payment arrived too late",
        "Your payment arrived after your hold on the seats ran out, and they were sold meanwhile.",
        "The seats were sold meanwhile. Your payment is being refunded in full.",
        retry=False,
    ),
}

GENERIC_FAILURE = FailureReason(
    "We could not complete your booking",
    "Something went wrong while we were completing your booking.",
    _NOT_CHARGED,
    retry=True,
)
"""For a code this list does not know (an issuer's decline code, a newer producer's code)."""


_BY_CODE: Mapping[str, FailureReason] = {str(code): reason for code, reason in FAILURE_REASONS.items()}


def failure_reason(code: str) -> FailureReason:
    """How to explain the failure ``code`` (as stored or received); :data:`GENERIC_FAILURE` if not listed."""
    return _BY_CODE.get(code, GENERIC_FAILURE)
