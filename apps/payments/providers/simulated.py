"""A provider that answers like Stripe in test mode, with no network: the embedded default.

It honours Stripe's test payment methods (``pm_card_visa`` succeeds,
``pm_card_chargeDeclined...`` decline with Stripe's codes and messages) and, like Stripe,
is idempotent by key: the same key returns the same result and reference, and reusing a key
with different parameters is refused.

Its ledger of keys lives in the Django cache (Redis with the services, local memory when
embedded), not in the database: the provider is called inside the handler's transaction,
and what it "accepted" must survive that transaction rolling back, exactly as a charge at
Stripe does. Entries are kept 24 hours, Stripe's own idempotency window. In the embedded
default the relay process runs every handler, so its local-memory cache is the one ledger.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar, cast

from django.core.cache import cache

from apps.payments.exceptions import ProviderRejected
from apps.payments.providers.base import ChargeResult, ChargeStatus, RefundResult, failure_code_for
from ticketflow.messaging.codes import PaymentFailureCode

LEDGER_TTL = timedelta(hours=24)

APPROVED_METHODS = frozenset({"pm_card_visa", "pm_card_mastercard", "pm_card_amex"})
# payment method -> (Stripe error code, decline code, message), as Stripe's test cards answer.
DECLINED_METHODS = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": (
        "card_declined",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card", "Your card has expired."),
}

R = TypeVar("R")


def _reference(prefix: str) -> str:
    return f"{prefix}_sim_{uuid.uuid4().hex[:24]}"


def _intent_key(reference: str) -> str:
    return f"payments:simulated:intent:{reference}"


def _once(key: str, request: Mapping[str, object], produce: Callable[[], R]) -> R:
    """The result first recorded under ``key``; records ``produce()`` if there is none yet."""
    entry = {"request": dict(request), "result": produce()}
    # add() is atomic in Redis and in local memory: of two concurrent first calls, one wins
    # and both return its result.
    if not cache.add(key, entry, timeout=LEDGER_TTL.total_seconds()):
        entry = cache.get(key, entry)
    if entry["request"] != dict(request):
        raise ProviderRejected(
            "Keys for idempotent requests can only be used with the same parameters they were first "
            f"used with ({key})."
        )
    return cast(R, entry["result"])  # produce()'s, here or in the entry of the call that won


class SimulatedProvider:
    """Stripe's test-mode behaviour for Stripe's test payment methods."""

    name = "simulated"

    def charge(
        self,
        *,
        idempotency_key: str,
        amount_cents: int,
        currency: str,
        payment_method: str,
        description: str,
        metadata: Mapping[str, str],
    ) -> ChargeResult:
        """Approve or decline as Stripe's test card would; the same key replays the first answer."""
        request = {"amount_cents": amount_cents, "currency": currency, "payment_method": payment_method}
        result = _once(
            f"payments:simulated:charge:{idempotency_key}",
            request,
            lambda: replace(
                self._decide(payment_method), amount_cents=amount_cents, currency=currency.upper()
            ),
        )
        if result.reference:
            cache.set(_intent_key(result.reference), result, timeout=LEDGER_TTL.total_seconds())
        return result

    def refund(
        self, *, idempotency_key: str, reference: str, amount_cents: int, metadata: Mapping[str, str]
    ) -> RefundResult:
        """Refund at once; the same key returns the same refund."""
        request = {"reference": reference, "amount_cents": amount_cents}
        return _once(
            f"payments:simulated:refund:{idempotency_key}",
            request,
            lambda: RefundResult(refund_id=_reference("re"), status="succeeded", amount_cents=amount_cents),
        )

    def retrieve(self, *, reference: str) -> ChargeResult:
        """The charge as first answered; one this ledger never made is refused, as Stripe would."""
        result = cache.get(_intent_key(reference))
        if result is None:
            raise ProviderRejected(f"No such payment_intent: {reference!r}")
        return result

    def cancel(self, *, idempotency_key: str, reference: str) -> ChargeResult:
        """Its charges are final at once, so there is never anything left to cancel: the outcome."""
        return self.retrieve(reference=reference)

    @staticmethod
    def _decide(payment_method: str) -> ChargeResult:
        if payment_method in APPROVED_METHODS:
            return ChargeResult(
                status=ChargeStatus.SUCCEEDED, reference=_reference("pi"), provider_status="succeeded"
            )
        if payment_method in DECLINED_METHODS:
            code, decline_code, message = DECLINED_METHODS[payment_method]
            return ChargeResult(
                status=ChargeStatus.FAILED,
                reference=_reference("pi"),
                provider_status="requires_payment_method",
                failure_code=failure_code_for(code=code, decline_code=decline_code),
                failure_message=message,
                decline_code=decline_code,
            )
        return ChargeResult(
            status=ChargeStatus.FAILED,
            reference="",
            provider_status="",
            failure_code=PaymentFailureCode.INVALID_PAYMENT_METHOD,
            failure_message=(
                f"No such payment method: {payment_method!r}. The simulated provider knows Stripe's "
                "test payment methods, e.g. pm_card_visa or pm_card_chargeDeclined."
            ),
        )
