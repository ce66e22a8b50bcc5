"""The saga through the kernel: payment.requested in, a charge and payment.processed out; refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from apps.payments.models import Payment, PaymentStatus
from apps.payments.services import payment_charge, payments_reconcile
from apps.payments.tests.conftest import (
    CUSTOMER,
    FakeStripe,
    PaymentFactory,
    emitted,
    payment_intent,
    request_payment,
    request_refund,
)
from relay.engine import Relay
from ticketflow import db
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


def payments_dead_letters() -> QuerySet[DeadLetter]:
    return DeadLetter.objects.using(DOCUMENTS).filter(consumer=consumer_group("payments"))


def payments_of(booking_id: str) -> list[Payment]:
    return list(Payment.objects.using(DOCUMENTS).filter(booking_id=booking_id).order_by("attempt"))


@pytest.mark.usefixtures("simulated_provider")
def test_a_requested_payment_is_charged_and_its_success_announced(
    inprocess_relay: Relay, booking_id: str
) -> None:
    request_payment(booking_id=booking_id, payment_method="pm_card_visa", amount_cents=4200)

    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert (payment.status, payment.provider, payment.amount_cents, payment.currency, payment.attempt) == (
        PaymentStatus.SUCCEEDED,
        "simulated",
        4200,
        "EUR",
        1,
    )
    assert (payment.user_id, payment.customer_email) == ("user-1", "ada@example.com")
    assert payment.idempotency_key == f"ticketflow-booking-{booking_id}-attempt-1"
    assert payment.provider_reference.startswith("pi_sim_")
    assert payment.completed_at is not None
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id) == [
        {
            "booking_id": booking_id,
            "payment_id": str(payment.id),
            "attempt": 1,
            "status": "SUCCEEDED",
            "amount_cents": 4200,
            "currency": "EUR",
            "provider": "simulated",
            "failure_code": None,
            "failure_message": None,
        }
    ]


@pytest.mark.usefixtures("simulated_provider")
def test_a_declined_card_is_recorded_and_its_failure_announced(
    inprocess_relay: Relay, booking_id: str
) -> None:
    request_payment(booking_id=booking_id, payment_method="pm_card_chargeDeclinedInsufficientFunds")

    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert (payment.status, payment.failure_code, payment.failure_message) == (
        PaymentStatus.FAILED,
        "insufficient_funds",
        "Your card has insufficient funds.",
    )
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)
    assert (outcome["status"], outcome["failure_code"], outcome["failure_message"]) == (
        "FAILED",
        "insufficient_funds",
        "Your card has insufficient funds.",
    )


@pytest.mark.usefixtures("simulated_provider")
def test_the_same_event_delivered_twice_charges_once_and_announces_once(
    inprocess_relay: Relay, booking_id: str
) -> None:
    envelope = request_payment(booking_id=booking_id)

    first = dispatch.apply(envelope, "payments")
    second = dispatch.apply(envelope, "payments")

    assert (first, second) == (Outcome.APPLIED, Outcome.DUPLICATE)
    assert len(payments_of(booking_id)) == 1
    assert len(emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)) == 1


@pytest.mark.usefixtures("simulated_provider")
def test_a_second_request_for_the_same_attempt_charges_nothing_and_emits_nothing(
    inprocess_relay: Relay, booking_id: str
) -> None:
    request_payment(booking_id=booking_id, attempt=1)
    request_payment(booking_id=booking_id, attempt=1)

    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert payment.version == 3  # recorded, submitted, answered: the second request changed nothing
    assert [o["payment_id"] for o in emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)] == [
        str(payment.id)
    ]


def test_the_payment_is_on_record_before_stripe_is_called(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe, booking_id: str
) -> None:
    # What another process (the webhook) could read while Stripe handles the charge.
    seen_by_others: list[list[tuple[int, str, str]]] = []
    stripe_at_fake.on_request = lambda request: seen_by_others.append(
        list(
            Payment.objects.using(DOCUMENTS)
            .filter(booking_id=booking_id)
            .values_list("attempt", "status", "provider_reference")
        )
    )
    stripe_at_fake.answer(200, payment_intent("pi_ok", "succeeded"))
    request_payment(booking_id=booking_id)

    inprocess_relay.drain()

    assert seen_by_others == [[(1, PaymentStatus.PENDING, "")]]
    [payment] = payments_of(booking_id)
    assert (payment.status, payment.provider_reference) == (PaymentStatus.SUCCEEDED, "pi_ok")
    assert payment.submitted_at is not None


@pytest.mark.usefixtures("simulated_provider")
def test_a_charge_rolled_back_before_its_commit_is_never_sent(booking_id: str) -> None:
    alias = db.alias_for("payments")
    arguments = {
        "booking_id": booking_id,
        "attempt": 1,
        "payment_method": "pm_card_visa",
        "amount_cents": 4200,
        "currency": "EUR",
        "customer": CUSTOMER,
        "description": "Tickets",
    }
    with pytest.raises(RuntimeError, match="the process died"), db.atomic(alias):
        started = payment_charge(**arguments)
        assert (started.status, started.provider_reference) == (PaymentStatus.PENDING, "")
        raise RuntimeError("the process died before the commit")
    assert payments_of(booking_id) == []
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id) == []

    charged = payment_charge(**arguments)

    assert (charged.status, charged.provider_reference[:7]) == (PaymentStatus.SUCCEEDED, "pi_sim_")
    assert len(emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)) == 1


@pytest.mark.usefixtures("simulated_provider")
def test_a_new_attempt_for_a_paid_booking_is_dead_lettered_not_charged(
    inprocess_relay: Relay, booking_id: str
) -> None:
    request_payment(booking_id=booking_id, attempt=1)
    inprocess_relay.drain()

    request_payment(booking_id=booking_id, attempt=2)
    inprocess_relay.drain()

    assert [(p.attempt, p.status) for p in payments_of(booking_id)] == [(1, PaymentStatus.SUCCEEDED)]
    letter = payments_dead_letters().get(topic=Topic.PAYMENT_REQUESTED)
    assert letter.attempts == 1
    assert f"booking {booking_id} was already paid by attempt 1" in letter.error


@pytest.mark.usefixtures("simulated_provider")
def test_a_new_attempt_after_a_failed_one_is_charged(inprocess_relay: Relay, booking_id: str) -> None:
    request_payment(booking_id=booking_id, attempt=1, payment_method="pm_card_chargeDeclined")
    inprocess_relay.drain()

    request_payment(booking_id=booking_id, attempt=2, payment_method="pm_card_visa")
    inprocess_relay.drain()

    assert [(p.attempt, p.status) for p in payments_of(booking_id)] == [
        (1, PaymentStatus.FAILED),
        (2, PaymentStatus.SUCCEEDED),
    ]
    assert [(o["attempt"], o["status"]) for o in emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)] == [
        (1, "FAILED"),
        (2, "SUCCEEDED"),
    ]


@pytest.mark.usefixtures("simulated_provider")
def test_a_refund_request_refunds_the_succeeded_payment_once(inprocess_relay: Relay, booking_id: str) -> None:
    request_payment(booking_id=booking_id)
    inprocess_relay.drain()

    request_refund(booking_id=booking_id, reason_code="booking_cancelled")
    request_refund(booking_id=booking_id, reason_code="booking_cancelled")
    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert (payment.status, payment.refund_reason_code, payment.version) == (
        PaymentStatus.REFUNDED,
        "booking_cancelled",
        4,  # recorded, submitted, succeeded, refunded (once)
    )
    assert payment.refund_id.startswith("re_sim_")
    assert payment.refunded_at is not None
    assert emitted(Topic.PAYMENT_REFUNDED, booking_id=booking_id) == [
        {
            "booking_id": booking_id,
            "payment_id": str(payment.id),
            "refund_id": payment.refund_id,
            "amount_cents": 4200,
            "currency": "EUR",
            "reason_code": "booking_cancelled",
            "customer": {"user_id": "user-1", "email": "ada@example.com", "name": "Ada Lovelace"},
            "refund_request_id": None,
        }
    ]


@pytest.mark.usefixtures("simulated_provider")
def test_a_refund_request_with_nothing_paid_changes_nothing(inprocess_relay: Relay, booking_id: str) -> None:
    request_payment(booking_id=booking_id, payment_method="pm_card_chargeDeclined")
    inprocess_relay.drain()

    request_refund(booking_id=booking_id, reason_code="late_payment")
    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert (payment.status, payment.refund_id) == (PaymentStatus.FAILED, "")
    assert emitted(Topic.PAYMENT_REFUNDED, booking_id=booking_id) == []
    assert not payments_dead_letters().exists()


def test_a_charge_needing_3d_secure_stays_pending_and_announces_nothing(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe, booking_id: str
) -> None:
    stripe_at_fake.answer(200, payment_intent("pi_3ds", "requires_action"))
    request_payment(booking_id=booking_id, payment_method="pm_card_threeDSecure2Required")

    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert (payment.status, payment.provider, payment.provider_reference, payment.provider_status) == (
        PaymentStatus.PENDING,
        "stripe",
        "pi_3ds",
        "requires_action",
    )
    assert payment.completed_at is None
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id) == []
    [request] = stripe_at_fake.requests
    assert request.headers["idempotency-key"] == f"ticketflow-booking-{booking_id}-attempt-1"


def test_an_unreachable_provider_leaves_the_charge_started_for_reconciliation(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe, booking_id: str
) -> None:
    stripe_at_fake.answer(
        503,
        {"error": {"type": "api_error", "message": "Stripe is unavailable."}},
        # Stripe's own hint, honoured by the SDK: one request per attempt here.
        headers={"Stripe-Should-Retry": "false"},
    )
    request_payment(booking_id=booking_id)

    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert (payment.status, payment.provider_reference) == (PaymentStatus.PENDING, "")
    assert payment.submitted_at is not None
    assert not payments_dead_letters().exists()
    assert emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id) == []

    stripe_at_fake.answer(200, payment_intent("pi_ok", "succeeded"))
    report = payments_reconcile(now=timezone.now() + timedelta(minutes=2))

    assert report.actions == {"resubmitted": 1}
    assert payments_of(booking_id)[0].status == PaymentStatus.SUCCEEDED
    assert [o["status"] for o in emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)] == ["SUCCEEDED"]
    keys = {request.headers["idempotency-key"] for request in stripe_at_fake.requests}
    assert keys == {f"ticketflow-booking-{booking_id}-attempt-1"}


def test_a_key_stripe_refuses_for_good_fails_the_attempt(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe, booking_id: str
) -> None:
    stripe_at_fake.answer(
        400,
        {
            "error": {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same parameters.",
            }
        },
    )
    request_payment(booking_id=booking_id)

    inprocess_relay.drain()

    [payment] = payments_of(booking_id)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "provider_rejected")
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)
    assert (outcome["status"], outcome["failure_code"]) == ("FAILED", "provider_rejected")


def test_a_refund_goes_through_the_provider_that_took_the_charge(
    inprocess_relay: Relay, settings, fake_stripe: FakeStripe
) -> None:
    # Today's configuration says "simulated", but this payment was taken by Stripe.
    settings.PAYMENTS = {
        **settings.PAYMENTS,
        "PROVIDER": "simulated",
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_API_BASE": fake_stripe.url,
    }
    payment = PaymentFactory(provider="stripe", provider_reference="pi_paid")
    fake_stripe.answer(200, {"id": "re_stripe", "object": "refund", "status": "pending"})
    request_refund(booking_id=payment.booking_id, reason_code="late_payment")

    inprocess_relay.drain()

    refunded = Payment.objects.using(DOCUMENTS).get(pk=payment.pk)
    assert (refunded.status, refunded.refund_id, refunded.refund_reason_code) == (
        PaymentStatus.REFUNDED,
        "re_stripe",
        "late_payment",
    )
    [request] = fake_stripe.requests
    assert (request.path, request.headers["idempotency-key"]) == (
        "/v1/refunds",
        f"{payment.idempotency_key}-refund",
    )
    assert (request.form["payment_intent"], request.form["amount"]) == ("pi_paid", "4200")
    [announced] = emitted(Topic.PAYMENT_REFUNDED, booking_id=payment.booking_id)
    assert (announced["refund_id"], announced["reason_code"]) == ("re_stripe", "late_payment")


def test_a_refund_the_provider_refuses_is_dead_lettered_and_changes_nothing(
    inprocess_relay: Relay, stripe_at_fake: FakeStripe
) -> None:
    payment = PaymentFactory(provider="stripe")
    stripe_at_fake.answer(
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "charge_already_refunded",
                "message": "Charge ch_1 has already been refunded.",
            }
        },
    )
    request_refund(booking_id=payment.booking_id)

    inprocess_relay.drain()

    assert Payment.objects.using(DOCUMENTS).get(pk=payment.pk).status == PaymentStatus.SUCCEEDED
    letter = payments_dead_letters().get(topic=Topic.PAYMENT_REFUND_REQUESTED)
    assert (letter.attempts, "has already been refunded" in letter.error) == (1, True)
    assert emitted(Topic.PAYMENT_REFUNDED, booking_id=payment.booking_id) == []
