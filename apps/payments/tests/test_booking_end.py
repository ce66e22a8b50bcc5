"""booking.expired and booking.cancelled: an unfinished charge is cancelled, or its success announced."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from apps.payments.models import Payment, PaymentStatus
from apps.payments.tests.conftest import (
    FakeStripe,
    PaymentFactory,
    emitted,
    end_booking,
    payment_intent,
    request_payment,
)
from relay.engine import Relay
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

DOCUMENTS = "documents"


def reload(payment: Payment) -> Payment:
    return Payment.objects.using(DOCUMENTS).get(pk=payment.pk)


def booking() -> str:
    # A real booking id: the other contexts that also react to the booking's end parse it.
    return str(uuid.uuid4())


def pending_3ds(**extra: Any) -> Payment:
    return PaymentFactory(
        booking_id=booking(),
        status=PaymentStatus.PENDING,
        provider_status="requires_action",
        client_secret="pi_secret_abc",
        next_action_type="use_stripe_sdk",
        **extra,
    )


@pytest.mark.parametrize("how", ["expired", "cancelled"])
def test_a_booking_that_ends_cancels_its_3ds_intent(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe, how: str
) -> None:
    payment = pending_3ds()
    stripe_at_fake.answer(200, payment_intent(payment.provider_reference, "canceled"))

    end_booking(booking_id=payment.booking_id, how=how)
    inprocess_relay.drain()

    cancelled = reload(payment)
    assert (cancelled.status, cancelled.failure_code, cancelled.client_secret) == (
        PaymentStatus.FAILED,
        "payment_canceled",
        "",
    )
    assert cancelled.booking_ended_at is not None
    [request] = stripe_at_fake.requests
    assert (request.path, request.headers["idempotency-key"]) == (
        f"/v1/payment_intents/{payment.provider_reference}/cancel",
        f"{payment.idempotency_key}-cancel",
    )
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)
    assert (outcome["status"], outcome["failure_code"]) == ("FAILED", "payment_canceled")


def test_an_intent_that_succeeded_before_the_cancel_is_announced_for_the_saga_to_refund(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe
) -> None:
    payment = pending_3ds()
    stripe_at_fake.answer(
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": "You cannot cancel this PaymentIntent because it has a status of succeeded.",
                "payment_intent": payment_intent(payment.provider_reference, "succeeded"),
            }
        },
    )

    end_booking(booking_id=payment.booking_id, how="cancelled")
    inprocess_relay.drain()

    assert reload(payment).status == PaymentStatus.SUCCEEDED
    # bookings answers a success for a cancelled booking with payment.refund-requested.
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)
    assert outcome["status"] == "SUCCEEDED"


def test_the_same_end_twice_cancels_once(inprocess_relay: Relay, stripe_at_fake: FakeStripe) -> None:
    payment = pending_3ds()
    stripe_at_fake.answer(200, payment_intent(payment.provider_reference, "canceled"))

    end_booking(booking_id=payment.booking_id, how="expired")
    end_booking(booking_id=payment.booking_id, how="cancelled")
    inprocess_relay.drain()

    assert len(stripe_at_fake.requests) == 1
    assert len(emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)) == 1


def test_settled_payments_are_left_alone(inprocess_relay: Relay, stripe_at_fake: FakeStripe) -> None:
    payment = PaymentFactory(booking_id=booking(), status=PaymentStatus.SUCCEEDED)

    end_booking(booking_id=payment.booking_id, how="expired")
    inprocess_relay.drain()

    assert reload(payment).status == PaymentStatus.SUCCEEDED
    assert stripe_at_fake.requests == []
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id) == []


def test_a_charge_never_sent_fails_without_calling_stripe(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe
) -> None:
    payment = PaymentFactory(
        booking_id=booking(), status=PaymentStatus.PENDING, provider_reference="", provider_status=""
    )

    end_booking(booking_id=payment.booking_id, how="expired")
    inprocess_relay.drain()

    assert (reload(payment).status, reload(payment).failure_code) == (PaymentStatus.FAILED, "booking_ended")
    assert stripe_at_fake.requests == []


def test_a_booking_that_ends_while_its_charge_is_at_stripe_cancels_it_on_the_answer(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe
) -> None:
    booking_id = booking()

    # The booking ends while Stripe is still answering the charge (3-D Secure needed).
    def end_meanwhile(request: Any) -> None:
        if request.path == "/v1/payment_intents":
            Payment.objects.using(DOCUMENTS).filter(booking_id=booking_id).update(
                booking_ended_at="2030-01-01T00:00:00Z"
            )

    stripe_at_fake.on_request = end_meanwhile
    stripe_at_fake.answer(200, payment_intent("pi_3ds", "requires_action", client_secret="pi_3ds_secret"))
    stripe_at_fake.answer_path("/v1/payment_intents/pi_3ds/cancel", 200, payment_intent("pi_3ds", "canceled"))
    request_payment(booking_id=booking_id)

    inprocess_relay.drain()

    [payment] = Payment.objects.using(DOCUMENTS).filter(booking_id=booking_id)
    assert (payment.status, payment.provider_reference) == (PaymentStatus.FAILED, "pi_3ds")
    assert [r.path for r in stripe_at_fake.requests] == [
        "/v1/payment_intents",
        "/v1/payment_intents/pi_3ds/cancel",
    ]
