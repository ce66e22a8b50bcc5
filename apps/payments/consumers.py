"""How the payments context takes part in the booking saga."""

from __future__ import annotations

from apps.payments.exceptions import PaymentAlreadySucceeded, ProviderRejected
from apps.payments.services import payment_charge, payment_refund, payments_end_for_booking
from ticketflow.messaging.dispatch import PermanentFailure
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingExpired,
    PaymentRefundRequested,
    PaymentRequested,
)
from ticketflow.messaging.topics import Topic


@handles(Topic.PAYMENT_REQUESTED)
def on_payment_requested(event: Envelope[PaymentRequested]) -> None:
    """Record the requested attempt as started; it is charged once this transaction commits.

    The charge goes to the provider after the commit (``payment_submit``), and its final
    outcome is announced as ``payment.processed`` (a 3-D Secure one waits for the buyer).
    Second delivery: the same event is dropped by the inbox. Another event for an attempt
    already recorded charges nothing and emits nothing: a second outcome for the same
    attempt could be taken downstream for a late payment and refunded. If the process dies
    between the commit and the provider's answer, reconciliation sends the charge again
    with the same idempotency key, which can only return the very same charge. A provider
    that cannot be reached leaves the attempt started, for reconciliation (no dead letter);
    one that refuses the request for good makes it FAILED.

    A booking already paid by another attempt is a permanent failure (dead letter):
    charging would risk paying twice.
    """
    payload = event.payload
    try:
        payment_charge(
            booking_id=payload.booking_id,
            attempt=payload.attempt,
            payment_method=payload.payment_method,
            amount_cents=payload.amount_cents,
            currency=payload.currency,
            customer=payload.customer,
            description=payload.description,
        )
    except PaymentAlreadySucceeded as error:
        raise PermanentFailure(str(error)) from error


@handles(Topic.BOOKING_EXPIRED)
def on_booking_expired(event: Envelope[BookingExpired]) -> None:
    """The hold ran out: cancel the booking's unfinished charge so a late 3-D Secure cannot pay.

    A charge that succeeded before the cancel got there is announced SUCCEEDED instead, and
    bookings takes its late-payment path (seats back, or a refund). Second delivery: the
    inbox drops it; another event for the same booking finds nothing PENDING.
    """
    payments_end_for_booking(booking_id=event.payload.booking_id, reason="booking_expired")


@handles(Topic.BOOKING_CANCELLED)
def on_booking_cancelled(event: Envelope[BookingCancelled]) -> None:
    """The buyer cancelled: cancel the booking's unfinished charge (a paid one is refunded).

    Money already taken is refunded through ``payment.refund-requested``, which bookings
    emits with the cancellation when it knows of the payment, or on the ``payment.processed``
    SUCCEEDED that a cancel arriving too late yields. Second delivery: nothing PENDING is left.
    """
    payments_end_for_booking(booking_id=event.payload.booking_id, reason="booking_cancelled")


@handles(Topic.PAYMENT_REFUND_REQUESTED)
def on_payment_refund_requested(event: Envelope[PaymentRefundRequested]) -> None:
    """Refund the booking's succeeded payment for this request and announce ``payment.refunded``.

    Second delivery: the same event is dropped by the inbox; were it to get through (a
    replay), the payment already has its refund for this ``refund_request_id`` and nothing
    more is refunded (logged), as for a booking with no succeeded payment. A provider that
    cannot be reached fails the handler, so the kernel retries the event and, past its
    budget, dead-letters it for ``replay``: the refund is late, never lost. A refund the
    provider refuses for good (e.g. already refunded in Stripe's dashboard) is a permanent
    failure.
    """
    payload = event.payload
    try:
        payment_refund(
            booking_id=payload.booking_id,
            reason_code=payload.reason_code,
            reason=payload.reason,
            amount_cents=payload.amount_cents,
            refund_request_id=payload.refund_request_id,
        )
    except ProviderRejected as error:
        raise PermanentFailure(str(error)) from error
