"""The Stripe provider over real HTTP, against a local server that answers like Stripe (declines too)."""

from __future__ import annotations

import socket

import pytest

from apps.payments.exceptions import ProviderRejected, ProviderUnavailable
from apps.payments.providers import ChargeResult, ChargeStatus
from apps.payments.providers.stripe_provider import StripeProvider
from apps.payments.tests.conftest import FakeStripe, card_error, payment_intent

pytestmark = pytest.mark.embedded


def charge(
    provider: StripeProvider, key: str = "key-1", payment_method: str = "pm_card_visa"
) -> ChargeResult:
    return provider.charge(
        idempotency_key=key,
        amount_cents=4200,
        currency="EUR",
        payment_method=payment_method,
        description="Tickets for booking bk-1",
        metadata={"booking_id": "bk-1", "attempt": "1"},
    )


@pytest.fixture
def provider(fake_stripe: FakeStripe) -> StripeProvider:
    return StripeProvider(api_key="sk_test_fake", api_base=fake_stripe.url)


def test_a_charge_creates_and_confirms_a_payment_intent_with_the_idempotency_key(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    fake_stripe.answer(200, payment_intent("pi_ok", "succeeded"))

    result = charge(provider, key="ticketflow-booking-bk-1-attempt-1")

    assert result == ChargeResult(
        status=ChargeStatus.SUCCEEDED,
        reference="pi_ok",
        provider_status="succeeded",
        amount_cents=4200,
        currency="EUR",
    )
    [request] = fake_stripe.requests
    assert (request.method, request.path) == ("POST", "/v1/payment_intents")
    assert request.headers["idempotency-key"] == "ticketflow-booking-bk-1-attempt-1"
    assert request.headers["authorization"] == "Bearer sk_test_fake"
    assert request.form == {
        "amount": "4200",
        "currency": "eur",
        "payment_method": "pm_card_visa",
        "payment_method_types[0]": "card",
        "confirm": "true",
        "use_stripe_sdk": "true",
        "description": "Tickets for booking bk-1",
        "metadata[booking_id]": "bk-1",
        "metadata[attempt]": "1",
    }


@pytest.mark.parametrize(
    ("code", "decline_code", "message", "failure_code"),
    [
        ("card_declined", "generic_decline", "Your card was declined.", "card_declined"),
        ("card_declined", "insufficient_funds", "Your card has insufficient funds.", "insufficient_funds"),
        ("expired_card", "expired_card", "Your card has expired.", "expired_card"),
        # Stripe asks merchants not to tell the customer about suspected fraud.
        ("card_declined", "fraudulent", "Your card was declined.", "card_declined"),
    ],
)
def test_a_declined_card_is_a_failed_charge_with_stripes_codes(
    provider: StripeProvider,
    fake_stripe: FakeStripe,
    code: str,
    decline_code: str,
    message: str,
    failure_code: str,
) -> None:
    fake_stripe.answer(402, card_error(code, decline_code, message, intent_id="pi_declined"))

    result = charge(provider)

    assert result == ChargeResult(
        status=ChargeStatus.FAILED,
        reference="pi_declined",
        provider_status="requires_payment_method",
        failure_code=failure_code,
        failure_message=message,
        decline_code=decline_code,
    )
    assert len(fake_stripe.requests) == 1


def test_an_intent_that_needs_the_customer_is_pending(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    fake_stripe.answer(
        200,
        payment_intent(
            "pi_3ds",
            "requires_action",
            client_secret="pi_3ds_secret_abc",
            next_action={"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}},
        ),
    )

    result = charge(provider)

    # What the buyer's page needs to finish 3-D Secure with stripe.handleNextAction.
    assert result == ChargeResult(
        status=ChargeStatus.PENDING,
        reference="pi_3ds",
        provider_status="requires_action",
        client_secret="pi_3ds_secret_abc",
        next_action_type="use_stripe_sdk",
        amount_cents=4200,
        currency="EUR",
    )


def test_a_redirect_action_carries_its_url(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    fake_stripe.answer(
        200,
        payment_intent(
            "pi_redirect",
            "requires_action",
            client_secret="pi_redirect_secret_abc",
            next_action={
                "type": "redirect_to_url",
                "redirect_to_url": {"url": "https://hooks.stripe.com/3ds"},
            },
        ),
    )

    result = charge(provider)

    assert (result.next_action_type, result.next_action_url) == (
        "redirect_to_url",
        "https://hooks.stripe.com/3ds",
    )


def test_a_settled_intent_keeps_no_client_secret(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    fake_stripe.answer(200, payment_intent("pi_ok", "succeeded", client_secret="pi_ok_secret_abc"))

    assert charge(provider).client_secret == ""


def test_retrieve_reads_the_intent(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    fake_stripe.answer(200, payment_intent("pi_ok", "succeeded"))

    result = provider.retrieve(reference="pi_ok")

    assert (result.status, result.reference) == (ChargeStatus.SUCCEEDED, "pi_ok")
    [request] = fake_stripe.requests
    assert (request.method, request.path) == ("GET", "/v1/payment_intents/pi_ok")


def test_cancel_cancels_the_intent_with_its_own_key(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    fake_stripe.answer(200, payment_intent("pi_3ds", "canceled", cancellation_reason="abandoned"))

    result = provider.cancel(idempotency_key="key-1-cancel", reference="pi_3ds")

    assert (result.status, result.failure_code) == (ChargeStatus.FAILED, "payment_canceled")
    [request] = fake_stripe.requests
    assert (request.path, request.headers["idempotency-key"], request.form) == (
        "/v1/payment_intents/pi_3ds/cancel",
        "key-1-cancel",
        {"cancellation_reason": "abandoned"},
    )


def test_cancelling_an_intent_that_succeeded_returns_the_success(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    # Stripe's answer to cancelling a succeeded intent: 400 with the intent in the error.
    fake_stripe.answer(
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": "You cannot cancel this PaymentIntent because it has a status of succeeded.",
                "payment_intent": payment_intent("pi_3ds", "succeeded"),
            }
        },
    )

    result = provider.cancel(idempotency_key="key-1-cancel", reference="pi_3ds")

    assert (result.status, result.reference) == (ChargeStatus.SUCCEEDED, "pi_3ds")


def test_an_unknown_payment_method_is_a_failed_charge(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    fake_stripe.answer(
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "resource_missing",
                "param": "payment_method",
                "message": "No such PaymentMethod: 'pm_bogus'",
            }
        },
    )

    result = charge(provider, payment_method="pm_bogus")

    assert result == ChargeResult(
        status=ChargeStatus.FAILED,
        reference="",
        provider_status="",
        failure_code="invalid_payment_method",
        failure_message="No such PaymentMethod: 'pm_bogus'",
    )


def test_a_key_reused_with_other_parameters_is_rejected(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    fake_stripe.answer(
        400,
        {
            "error": {
                "type": "idempotency_error",
                "message": "Keys for idempotent requests can only be used with the same parameters.",
            }
        },
    )

    with pytest.raises(ProviderRejected, match="refused the idempotency key key-1"):
        charge(provider)


def test_a_server_error_is_retried_with_the_same_key_then_raised_as_retryable(
    fake_stripe: FakeStripe,
) -> None:
    fake_stripe.answer(
        500, {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}}
    )
    provider = StripeProvider(api_key="sk_test_fake", api_base=fake_stripe.url, max_network_retries=1)

    with pytest.raises(ProviderUnavailable, match="did not take the charge key-1"):
        charge(provider)

    assert [request.headers["idempotency-key"] for request in fake_stripe.requests] == ["key-1", "key-1"]


def test_an_unreachable_stripe_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    provider = StripeProvider(
        api_key="sk_test_fake", api_base=f"http://127.0.0.1:{closed_port}", max_network_retries=0
    )

    with pytest.raises(ProviderUnavailable, match="did not take the charge"):
        charge(provider)


def test_a_refund_names_the_payment_intent_and_its_own_key(
    provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    fake_stripe.answer(
        200, {"id": "re_1", "object": "refund", "status": "succeeded", "payment_intent": "pi_ok"}
    )

    refund = provider.refund(
        idempotency_key="key-1-refund", reference="pi_ok", amount_cents=4200, metadata={"booking_id": "bk-1"}
    )

    assert (refund.refund_id, refund.status) == ("re_1", "succeeded")
    [request] = fake_stripe.requests
    assert (request.path, request.headers["idempotency-key"]) == ("/v1/refunds", "key-1-refund")
    assert request.form == {"payment_intent": "pi_ok", "amount": "4200", "metadata[booking_id]": "bk-1"}


def test_a_refund_stripe_refuses_is_rejected(provider: StripeProvider, fake_stripe: FakeStripe) -> None:
    fake_stripe.answer(
        400,
        {
            "error": {
                "type": "invalid_request_error",
                "code": "charge_already_refunded",
                "message": "Charge ch_1 has already been refunded.",
            }
        },
    )

    with pytest.raises(ProviderRejected, match="has already been refunded"):
        provider.refund(idempotency_key="key-1-refund", reference="pi_ok", amount_cents=4200, metadata={})
