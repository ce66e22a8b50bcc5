"""What every payment provider offers: charge once per idempotency key, refund once per key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ticketflow.messaging.codes import PaymentFailureCode

# Stripe asks merchants not to tell customers these decline reasons (they tip off fraudsters);
# the customer hears a generic decline and only staff see the issuer's code.
CONFIDENTIAL_DECLINE_CODES = frozenset(
    {"fraudulent", "lost_card", "stolen_card", "pickup_card", "merchant_blacklist"}
)


class ChargeStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PENDING = "PENDING"


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The provider's answer to a charge; the same key always yields an equal result."""

    status: ChargeStatus
    reference: str
    """The provider's charge id ("" when the provider created none, e.g. an unknown payment method)."""
    provider_status: str
    failure_code: str = ""
    """A stable, customer-safe reason: ``card_declined``, ``insufficient_funds``, ``expired_card``..."""
    failure_message: str = ""
    decline_code: str = ""
    """The issuer's raw decline code, possibly confidential."""
    client_secret: str = ""
    """What the customer's browser needs to finish a PENDING charge (``stripe.handleNextAction``)."""
    next_action_type: str = ""
    """What the customer must do, e.g. ``use_stripe_sdk`` (3-D Secure) or ``redirect_to_url``."""
    next_action_url: str = ""
    """Where to send the customer for a ``redirect_to_url`` action."""
    amount_cents: int | None = None
    """The amount the provider holds for this charge, when it says (cross-checked before settling)."""
    currency: str = ""
    """The charge's ISO 4217 currency as the provider reports it, upper case ("" when unknown)."""


@dataclass(frozen=True, slots=True)
class RefundResult:
    """The provider accepted a refund (it may still settle later: ``status`` "pending")."""

    refund_id: str
    status: str
    amount_cents: int | None = None
    """What the provider says it refunds, when it says (recorded rather than what was asked)."""


class PaymentProvider(Protocol):
    """A payment service provider, called inside the handler's database transaction.

    Both calls must be idempotent by ``idempotency_key``: if the transaction rolls back after
    the provider accepted a request, the redelivered event repeats the call with the same key
    and must get the same charge or refund back, never a second one.
    """

    name: str

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
        """Charge ``payment_method`` and confirm at once; a decline is a FAILED result, not an error.

        Raises ``ProviderUnavailable`` for transient failures and ``ProviderRejected`` for
        requests the provider will never accept.
        """
        ...

    def refund(
        self, *, idempotency_key: str, reference: str, amount_cents: int, metadata: Mapping[str, str]
    ) -> RefundResult:
        """Refund ``amount_cents`` of the charge ``reference``; raises like :meth:`charge`."""
        ...

    def retrieve(self, *, reference: str) -> ChargeResult:
        """The charge ``reference`` as the provider sees it now; raises like :meth:`charge`."""
        ...

    def cancel(self, *, idempotency_key: str, reference: str) -> ChargeResult:
        """Cancel the unfinished charge ``reference`` so it can never take the money.

        Returns the charge afterwards: FAILED once cancelled, or the outcome it reached
        first (a charge that already SUCCEEDED cannot be cancelled; it must be refunded).
        Raises like :meth:`charge`.
        """
        ...


def failure_code_for(*, code: str | None, decline_code: str | None) -> str:
    """The customer-safe failure code of a decline, the same whichever provider declined.

    The issuer's decline code is the most specific reason (``insufficient_funds``) unless it
    is the generic one or confidential; then Stripe's error code (``card_declined``) is used.
    """
    if decline_code and decline_code != "generic_decline" and decline_code not in CONFIDENTIAL_DECLINE_CODES:
        return decline_code
    return code or PaymentFailureCode.PAYMENT_FAILED
