"""How the payments context takes part in the booking saga."""

from __future__ import annotations

from apps.payments.exceptions import PaymentAlreadySucceeded, ProviderRejected
from apps.payments.services import payment_charge, payment_refund
from ticketflow.messaging.dispatch import PermanentFailure
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.handlers import handles
from ticketflow.messaging.schemas import PaymentRefundRequested, PaymentRequested
from ticketflow.messaging.topics import Topic


@handles(Topic.PAYMENT_REQUESTED)
def on_payment_requested(event: Envelope[PaymentRequested]) -> None:
    """Charge the requested attempt and announce ``payment.processed`` (unless it is pending).

    Second delivery: the same event is dropped by the inbox. Another event for an attempt
    already recorded charges nothing and emits nothing: the recorded outcome was committed
    to the outbox with the payment, so it is (or will be) published; a second outcome for
    the same attempt could be taken downstream for a late payment and refunded. A lost
    outcome is re-driven with ``manage.py replay``, which keeps its event id. If the
    transaction rolled back after the provider took the charge, the redelivery calls the
    provider again with the same idempotency key and records the very same charge.

    A booking already paid by another attempt, or a request the provider refuses for good,
    is a permanent failure (dead letter): charging would risk paying twice.
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
    except (PaymentAlreadySucceeded, ProviderRejected) as error:
        raise PermanentFailure(str(error)) from error


@handles(Topic.PAYMENT_REFUND_REQUESTED)
def on_payment_refund_requested(event: Envelope[PaymentRefundRequested]) -> None:
    """Refund the booking's succeeded payment and announce ``payment.refunded``.

    Second delivery: the same event is dropped by the inbox; another request for the same
    booking finds the payment REFUNDED and does nothing (logged), as does a request for a
    booking with no succeeded payment. A refund the provider refuses for good (e.g. already
    refunded in Stripe's dashboard) is a permanent failure.
    """
    payload = event.payload
    try:
        payment_refund(booking_id=payload.booking_id, reason_code=payload.reason_code, reason=payload.reason)
    except ProviderRejected as error:
        raise PermanentFailure(str(error)) from error
