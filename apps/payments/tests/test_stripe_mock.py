"""The Stripe provider against stripe-mock, which checks every request against Stripe's OpenAPI spec.

stripe-mock answers canned objects and cannot decline; declines are tested against a local
server in ``test_stripe_provider.py``.
"""

from __future__ import annotations

import uuid

import pytest

from apps.payments.models import Payment
from apps.payments.providers import ChargeStatus
from apps.payments.providers.stripe_provider import StripeProvider
from apps.payments.tests.conftest import emitted, request_payment
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
