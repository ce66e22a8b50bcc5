"""Several refunds of one payment (partial cancellations): each request refunded once, never more than paid."""

from __future__ import annotations

import uuid

import pytest
from django.core.management import call_command
from django.db.models import QuerySet

from apps.payments.models import Payment, PaymentStatus, Refund
from apps.payments.tests.conftest import FakeStripe, PaymentFactory, emitted, request_payment, request_refund
from relay.engine import Relay
from ticketflow.messaging import dispatch
from ticketflow.messaging.dispatch import Outcome
from ticketflow.messaging.handlers import consumer_group
from ticketflow.messaging.models import DeadLetter
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

DOCUMENTS = "documents"


def payment_of(booking_id: str) -> Payment:
    return Payment.objects.using(DOCUMENTS).get(booking_id=booking_id)


def refunds_of(booking_id: str) -> list[tuple[str, int, str]]:
    rows = Refund.objects.using(DOCUMENTS).filter(booking_id=booking_id).order_by("created_at")
    return list(rows.values_list("request_id", "amount_cents", "reason_code"))


def dead_letters() -> QuerySet[DeadLetter]:
    return DeadLetter.objects.using(DOCUMENTS).filter(consumer=consumer_group("payments"))


@pytest.fixture
def paid(simulated_provider: None, inprocess_relay: Relay, booking_id: str) -> str:
    """A booking paid 42.00 through the simulated provider."""
    request_payment(booking_id=booking_id, amount_cents=4200)
    inprocess_relay.drain()
    assert payment_of(booking_id).status == PaymentStatus.SUCCEEDED
    return booking_id


def test_two_partial_refunds_of_one_payment_are_each_made_once(inprocess_relay: Relay, paid: str) -> None:
    # Given two seats cancelled one after the other, and the first request delivered again
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    request_refund(booking_id=paid, reason_code="seats_cancelled", amount_cents=1000, refund_request_id=first)
    request_refund(
        booking_id=paid, reason_code="seats_cancelled", amount_cents=1500, refund_request_id=second
    )
    # (a copy that gets past the inbox: another event id, the same request)
    request_refund(booking_id=paid, reason_code="seats_cancelled", amount_cents=1000, refund_request_id=first)

    inprocess_relay.drain()

    # Then each request was refunded once and the payment still holds the rest
    payment = payment_of(paid)
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.PARTIALLY_REFUNDED, 2500)
    assert refunds_of(paid) == [(first, 1000, "seats_cancelled"), (second, 1500, "seats_cancelled")]
    announced = emitted(Topic.PAYMENT_REFUNDED, booking_id=paid)
    assert [(a["refund_request_id"], a["amount_cents"], a["reason_code"]) for a in announced] == [
        (first, 1000, "seats_cancelled"),
        (second, 1500, "seats_cancelled"),
    ]
    assert len({a["refund_id"] for a in announced}) == 2
    assert payment.refund_id == announced[-1]["refund_id"]


def test_the_cancellation_of_what_is_left_ends_the_refunds(inprocess_relay: Relay, paid: str) -> None:
    # Given 10.00 refunded for a seat, then the rest of the booking cancelled at 50% (16.00)
    request_refund(
        booking_id=paid, reason_code="seats_cancelled", amount_cents=1000, refund_request_id=str(uuid.uuid4())
    )
    last = str(uuid.uuid4())
    request_refund(
        booking_id=paid, reason_code="booking_cancelled", amount_cents=1600, refund_request_id=last
    )

    inprocess_relay.drain()

    # Then the booking's refunds are over: REFUNDED, with 26.00 of 42.00 given back
    payment = payment_of(paid)
    assert (payment.status, payment.refunded_cents, payment.refund_reason_code) == (
        PaymentStatus.REFUNDED,
        2600,
        "booking_cancelled",
    )
    assert [amount for _, amount, _ in refunds_of(paid)] == [1000, 1600]


def test_no_more_than_was_paid_is_ever_refunded(inprocess_relay: Relay, paid: str) -> None:
    # Given 30.00 of 42.00 refunded
    request_refund(
        booking_id=paid, reason_code="seats_cancelled", amount_cents=3000, refund_request_id=str(uuid.uuid4())
    )
    inprocess_relay.drain()

    # When two more requests ask for 30.00 and for everything
    capped = str(uuid.uuid4())
    request_refund(
        booking_id=paid, reason_code="seats_cancelled", amount_cents=3000, refund_request_id=capped
    )
    request_refund(booking_id=paid, reason_code="booking_cancelled", refund_request_id=str(uuid.uuid4()))
    inprocess_relay.drain()

    # Then only the 12.00 left was refunded, by the first; the second found nothing to refund
    payment = payment_of(paid)
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.REFUNDED, 4200)
    assert [(request, amount) for request, amount, _ in refunds_of(paid)][1:] == [(capped, 1200)]
    assert [a["amount_cents"] for a in emitted(Topic.PAYMENT_REFUNDED, booking_id=paid)] == [3000, 1200]
    assert not dead_letters().exists()


def test_a_request_without_an_id_after_partial_refunds_refunds_what_is_left(
    inprocess_relay: Relay, paid: str
) -> None:
    request_refund(
        booking_id=paid, reason_code="seats_cancelled", amount_cents=1000, refund_request_id=str(uuid.uuid4())
    )
    request_refund(booking_id=paid, reason_code="late_payment")
    request_refund(booking_id=paid, reason_code="late_payment")

    inprocess_relay.drain()

    payment = payment_of(paid)
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.REFUNDED, 4200)
    assert [(request, amount) for request, amount, _ in refunds_of(paid)][1:] == [("", 3200)]


def test_a_redelivered_request_calls_the_provider_no_more(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe
) -> None:
    # Given a payment taken by Stripe, one seat's refund made
    payment = PaymentFactory(provider="stripe", provider_reference="pi_paid", amount_cents=4200)
    stripe_at_fake.answer(200, {"id": "re_1", "object": "refund", "status": "succeeded", "amount": 1000})
    request = str(uuid.uuid4())
    envelope = request_refund(
        booking_id=payment.booking_id,
        reason_code="seats_cancelled",
        amount_cents=1000,
        refund_request_id=request,
    )
    inprocess_relay.drain()

    # When the same request is replayed past the inbox, and the same event delivered again
    request_refund(
        booking_id=payment.booking_id,
        reason_code="seats_cancelled",
        amount_cents=1000,
        refund_request_id=request,
    )
    inprocess_relay.drain()
    assert dispatch.apply(envelope, "payments") == Outcome.DUPLICATE

    # Then Stripe was asked once, with the request's own key and amount
    [call] = stripe_at_fake.requests
    assert (call.path, call.headers["idempotency-key"]) == (
        "/v1/refunds",
        f"{payment.idempotency_key}-refund-{request}",
    )
    assert (call.form["payment_intent"], call.form["amount"], call.form["metadata[refund_request_id]"]) == (
        "pi_paid",
        "1000",
        request,
    )
    updated = Payment.objects.using(DOCUMENTS).get(pk=payment.pk)
    assert (updated.status, updated.refunded_cents, updated.refund_id) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        1000,
        "re_1",
    )


def test_a_refund_stripe_cannot_take_now_is_retried_dead_lettered_and_made_on_replay(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe
) -> None:
    # Given Stripe down while a seat's refund is requested
    payment = PaymentFactory(provider="stripe", provider_reference="pi_paid", amount_cents=4200)
    stripe_at_fake.answer(
        503,
        {"error": {"type": "api_error", "message": "Stripe is unavailable."}},
        headers={"Stripe-Should-Retry": "false"},
    )
    request = str(uuid.uuid4())
    request_refund(
        booking_id=payment.booking_id,
        reason_code="seats_cancelled",
        amount_cents=1000,
        refund_request_id=request,
    )

    inprocess_relay.drain()

    # Then the kernel retried it, then parked it, and nothing was recorded
    [letter] = dead_letters().filter(topic=Topic.PAYMENT_REFUND_REQUESTED)
    assert letter.attempts == 4
    assert len(stripe_at_fake.requests) == 4
    unchanged = Payment.objects.using(DOCUMENTS).get(pk=payment.pk)
    assert (unchanged.status, unchanged.refunded_cents) == (PaymentStatus.SUCCEEDED, 0)
    assert emitted(Topic.PAYMENT_REFUNDED, booking_id=payment.booking_id) == []

    # When Stripe is back and the dead letter is replayed, the refund is made, with the same key
    stripe_at_fake.answer(200, {"id": "re_late", "object": "refund", "status": "succeeded", "amount": 1000})
    call_command("replay", "--dead-letters", "--context", "payments")
    inprocess_relay.drain()

    assert Payment.objects.using(DOCUMENTS).get(pk=payment.pk).refunded_cents == 1000
    [announced] = emitted(Topic.PAYMENT_REFUNDED, booking_id=payment.booking_id)
    assert (announced["refund_id"], announced["refund_request_id"]) == ("re_late", request)
    assert {call.headers["idempotency-key"] for call in stripe_at_fake.requests} == {
        f"{payment.idempotency_key}-refund-{request}"
    }
