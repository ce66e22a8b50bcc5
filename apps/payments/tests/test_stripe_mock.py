"""The Stripe provider against stripe-mock, which checks every request against Stripe's OpenAPI spec.

stripe-mock answers canned objects and cannot decline; declines are tested against a local
server in ``test_stripe_provider.py``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.payments.models import Payment, PaymentStatus, Refund
from apps.payments.providers import ChargeStatus
from apps.payments.providers.stripe_provider import StripeProvider
from apps.payments.services import payment_refund, payments_reconcile
from apps.payments.tests.conftest import PaymentFactory, emitted, end_booking, request_payment
from relay.engine import Relay
from ticketflow.messaging.topics import Topic

pytestmark = pytest.mark.services


@pytest.fixture
def stripe_mock_base(settings) -> str:
    api_base = settings.PAYMENTS["STRIPE_API_BASE"]
    assert api_base, "STRIPE_API_BASE must point at stripe-mock: `source deploy/local/env.sh`"
    return api_base


def test_stripe_mock_accepts_the_charge_request(stripe_mock_base: str) -> None:
    provider = StripeProvider(api_key="sk_test_123", api_base=stripe_mock_base)

    result = provider.charge(
        idempotency_key=f"ticketflow-booking-{uuid.uuid4()}-attempt-1",
        amount_cents=4200,
        currency="EUR",
        payment_method="pm_card_visa",
        description="Tickets",
        metadata={"booking_id": "bk-1", "attempt": "1"},
    )

    # stripe-mock's canned intent has the status "requires_payment_method": a confirmed
    # intent left there did not go through, and the mapping says so.
    assert result.reference.startswith("pi_")
    assert (result.status, result.provider_status) == (ChargeStatus.FAILED, "requires_payment_method")


def test_stripe_mock_accepts_the_refund_request(stripe_mock_base: str) -> None:
    provider = StripeProvider(api_key="sk_test_123", api_base=stripe_mock_base)

    refund = provider.refund(
        idempotency_key=f"ticketflow-{uuid.uuid4()}-refund",
        reference="pi_123",
        amount_cents=4200,
        metadata={"booking_id": "bk-1", "reason_code": "booking_cancelled"},
    )

    assert refund.refund_id.startswith("re_")
    assert refund.status == "succeeded"


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_a_requested_payment_is_charged_at_stripe_mock(
    inprocess_relay: Relay, settings, stripe_mock_base: str, booking_id: str
) -> None:
    settings.PAYMENTS = {**settings.PAYMENTS, "PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_test_123"}
    request_payment(booking_id=booking_id)

    inprocess_relay.drain()

    [payment] = Payment.objects.using("documents").filter(booking_id=booking_id)
    assert (payment.provider, payment.provider_status) == ("stripe", "requires_payment_method")
    assert payment.provider_reference.startswith("pi_")
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=booking_id)
    assert (outcome["payment_id"], outcome["provider"], outcome["status"]) == (
        str(payment.id),
        "stripe",
        "FAILED",
    )


def test_stripe_mock_accepts_the_retrieve_and_cancel_requests(stripe_mock_base: str) -> None:
    provider = StripeProvider(api_key="sk_test_123", api_base=stripe_mock_base)

    read = provider.retrieve(reference="pi_123")
    cancelled = provider.cancel(idempotency_key=f"ticketflow-{uuid.uuid4()}-cancel", reference="pi_123")

    # stripe-mock echoes the id and answers its canned, unfinished intent: not a success.
    assert (read.reference, read.status) == ("pi_123", ChargeStatus.FAILED)
    assert (cancelled.reference, cancelled.status) == ("pi_123", ChargeStatus.FAILED)


def _stripe_settings(settings) -> None:
    settings.PAYMENTS = {**settings.PAYMENTS, "PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_test_123"}


# stripe-mock's canned PaymentIntent is for 10.99 USD: payments made to match it pass the cross-check.
MOCK_AMOUNT = {"amount_cents": 1099, "currency": "USD"}


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_an_expired_booking_cancels_its_3ds_intent_at_stripe_mock(
    inprocess_relay: Relay, settings, stripe_mock_base: str
) -> None:
    _stripe_settings(settings)
    payment = PaymentFactory(
        booking_id=str(uuid.uuid4()),
        status=PaymentStatus.PENDING,
        provider_status="requires_action",
        **MOCK_AMOUNT,
    )

    end_booking(booking_id=payment.booking_id, how="expired")
    inprocess_relay.drain()

    ended = Payment.objects.using("documents").get(pk=payment.pk)
    assert (ended.status, ended.booking_ended_at is not None) == (PaymentStatus.FAILED, True)
    [outcome] = emitted(Topic.PAYMENT_PROCESSED, booking_id=payment.booking_id)
    assert outcome["status"] == "FAILED"


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_reconciliation_reads_a_stale_intent_from_stripe_mock(settings, stripe_mock_base: str) -> None:
    _stripe_settings(settings)
    then = timezone.now() - timedelta(minutes=15)
    payment = PaymentFactory(
        status=PaymentStatus.PENDING,
        provider_status="requires_action",
        created_at=then,
        updated_at=then,
        submitted_at=then,
        **MOCK_AMOUNT,
    )

    report = payments_reconcile()

    assert report.actions == {"settled": 1}
    assert Payment.objects.using("documents").get(pk=payment.pk).status == PaymentStatus.FAILED


@pytest.mark.django_db(databases=["default", "documents"])
def test_a_policy_share_of_the_payment_is_refunded_at_stripe_mock(
    settings, stripe_mock_base: str, monkeypatch
) -> None:
    # Given a paid booking whose refund policy gives back half of 42.00
    _stripe_settings(settings)
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED, amount_cents=4200, currency="EUR")
    asked: list[int] = []
    real_refund = StripeProvider.refund

    def refund(self, **kwargs):
        asked.append(kwargs["amount_cents"])
        return real_refund(self, **kwargs)

    monkeypatch.setattr(StripeProvider, "refund", refund)

    # When the refund is requested for 21.00
    [refunded] = payment_refund(
        booking_id=payment.booking_id, reason_code="booking_cancelled", reason="cancelled", amount_cents=2100
    )

    # Then Stripe (stripe-mock validates the request) is asked for 21.00 and the event says so
    assert asked == [2100]
    assert Payment.objects.using("documents").get(pk=refunded.pk).status == PaymentStatus.REFUNDED
    [announced] = emitted(Topic.PAYMENT_REFUNDED, booking_id=payment.booking_id)
    assert (announced["amount_cents"], announced["currency"]) == (2100, "EUR")
    assert announced["refund_id"].startswith("re_")


@pytest.mark.django_db(databases=["default", "documents"])
def test_two_partial_refunds_reach_stripe_mock_with_their_exact_amounts_once_each(
    settings, stripe_mock_base: str, monkeypatch
) -> None:
    # Given a payment of 42.00 and two seats cancelled from its booking, 10.00 and 15.50 back
    _stripe_settings(settings)
    payment = PaymentFactory(status=PaymentStatus.SUCCEEDED, amount_cents=4200, currency="EUR")
    keys: list[str] = []
    real_refund = StripeProvider.refund

    def refund(self, **kwargs):
        keys.append(kwargs["idempotency_key"])
        return real_refund(self, **kwargs)

    monkeypatch.setattr(StripeProvider, "refund", refund)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())

    # When each is requested, and the first again (a redelivery)
    for request, amount in ((first, 1000), (second, 1550), (first, 1000)):
        payment_refund(
            booking_id=payment.booking_id,
            reason_code="seats_cancelled",
            reason="seats cancelled",
            amount_cents=amount,
            refund_request_id=request,
        )

    # Then stripe-mock took two refunds, each for its own amount (it echoes the amount it was
    # sent, and that is what was recorded) under its own key, and the payment holds the rest
    recorded = Refund.objects.using("documents").filter(payment_id=payment.pk).order_by("created_at")
    assert [(r.request_id, r.amount_cents) for r in recorded] == [(first, 1000), (second, 1550)]
    assert all(r.provider_refund_id.startswith("re_") for r in recorded)
    assert keys == [f"{payment.idempotency_key}-refund-{first}", f"{payment.idempotency_key}-refund-{second}"]
    after = Payment.objects.using("documents").get(pk=payment.pk)
    assert (after.status, after.refunded_cents) == (PaymentStatus.PARTIALLY_REFUNDED, 2550)
    announced = emitted(Topic.PAYMENT_REFUNDED, booking_id=payment.booking_id)
    assert [(a["amount_cents"], a["refund_request_id"]) for a in announced] == [(1000, first), (1550, second)]
