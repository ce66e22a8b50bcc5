"""The simulated provider answers like Stripe's test payment methods, idempotently by key."""

from __future__ import annotations

import uuid

import pytest

from apps.payments.exceptions import ProviderRejected
from apps.payments.providers import ChargeResult, ChargeStatus, get_provider
from apps.payments.providers.simulated import SimulatedProvider

pytestmark = pytest.mark.embedded


def charge(
    provider: SimulatedProvider, key: str, *, payment_method: str, amount_cents: int = 4200
) -> ChargeResult:
    return provider.charge(
        idempotency_key=key,
        amount_cents=amount_cents,
        currency="EUR",
        payment_method=payment_method,
        description="Tickets",
        metadata={},
    )


@pytest.fixture
def key() -> str:
    return f"test-{uuid.uuid4()}"


@pytest.mark.parametrize("payment_method", ["pm_card_visa", "pm_card_mastercard", "pm_card_amex"])
def test_a_good_test_card_succeeds(key: str, payment_method: str) -> None:
    result = charge(SimulatedProvider(), key, payment_method=payment_method)

    assert result.status is ChargeStatus.SUCCEEDED
    assert result.reference.startswith("pi_sim_")
    assert (result.provider_status, result.failure_code, result.failure_message) == ("succeeded", "", "")


@pytest.mark.parametrize(
    ("payment_method", "failure_code", "decline_code", "message"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
        (
            "pm_card_chargeDeclinedInsufficientFunds",
            "insufficient_funds",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", "Your card has expired."),
    ],
)
def test_a_declining_test_card_fails_with_stripes_code_and_message(
    key: str, payment_method: str, failure_code: str, decline_code: str, message: str
) -> None:
    result = charge(SimulatedProvider(), key, payment_method=payment_method)

    assert result.status is ChargeStatus.FAILED
    assert result.reference.startswith("pi_sim_")
    assert (result.failure_code, result.decline_code, result.failure_message) == (
        failure_code,
        decline_code,
        message,
    )


def test_an_unknown_payment_method_fails_clearly(key: str) -> None:
    result = charge(SimulatedProvider(), key, payment_method="pm_made_up")

    assert result == ChargeResult(
        status=ChargeStatus.FAILED,
        reference="",
        provider_status="",
        failure_code="invalid_payment_method",
        failure_message=(
            "No such payment method: 'pm_made_up'. The simulated provider knows Stripe's test payment "
            "methods, e.g. pm_card_visa or pm_card_chargeDeclined."
        ),
        amount_cents=4200,
        currency="EUR",
    )


def test_the_same_key_returns_the_same_charge_even_from_another_instance(key: str) -> None:
    first = charge(SimulatedProvider(), key, payment_method="pm_card_visa")

    again = charge(SimulatedProvider(), key, payment_method="pm_card_visa")

    assert again == first


def test_another_key_makes_another_charge(key: str) -> None:
    first = charge(SimulatedProvider(), key, payment_method="pm_card_visa")

    other = charge(SimulatedProvider(), f"{key}-other", payment_method="pm_card_visa")

    assert other.reference != first.reference


def test_a_key_reused_with_other_parameters_is_refused_like_stripe_does(key: str) -> None:
    charge(SimulatedProvider(), key, payment_method="pm_card_visa", amount_cents=4200)

    with pytest.raises(ProviderRejected, match="only be used with the same parameters"):
        charge(SimulatedProvider(), key, payment_method="pm_card_visa", amount_cents=9900)


def test_a_refund_is_idempotent_by_key(key: str) -> None:
    provider = SimulatedProvider()
    reference = charge(provider, key, payment_method="pm_card_visa").reference

    first = provider.refund(
        idempotency_key=f"{key}-refund", reference=reference, amount_cents=4200, metadata={}
    )
    again = provider.refund(
        idempotency_key=f"{key}-refund", reference=reference, amount_cents=4200, metadata={}
    )

    assert first.refund_id.startswith("re_sim_")
    assert first.status == "succeeded"
    assert again == first


def test_the_provider_is_chosen_by_the_settings_at_call_time(settings) -> None:
    settings.PAYMENTS = {**settings.PAYMENTS, "PROVIDER": "simulated"}
    assert get_provider().name == "simulated"

    settings.PAYMENTS = {**settings.PAYMENTS, "PROVIDER": "stripe", "STRIPE_SECRET_KEY": "sk_test_x"}
    assert get_provider().name == "stripe"
    assert get_provider("simulated").name == "simulated"
