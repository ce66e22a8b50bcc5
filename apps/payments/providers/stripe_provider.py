"""Stripe, through the official SDK: PaymentIntents created and confirmed in one call.

Outcomes map to the provider-neutral :class:`ChargeResult`:

* ``succeeded`` -> SUCCEEDED; ``requires_action`` (3-D Secure), ``processing`` and
  ``requires_confirmation`` -> PENDING, finalised later by the Stripe webhook (or the
  reconciliation task). A PENDING result carries the intent's ``client_secret`` and
  ``next_action``: the intent is confirmed with ``use_stripe_sdk``, so the buyer's page
  finishes 3-D Secure with ``stripe.handleNextAction``;
  ``requires_payment_method`` and ``canceled`` -> FAILED with ``last_payment_error``.
* A card error (HTTP 402) -> FAILED with Stripe's code, decline code and message, and the
  PaymentIntent Stripe created for it.
* An invalid request (HTTP 400, e.g. an unknown payment method) -> FAILED: retrying the same
  request cannot succeed, and the booking must be told so it releases its seats.
* An idempotency error (the key reused with different parameters) -> ``ProviderRejected``.
* Anything else (network, 5xx, rate limits, authentication) -> ``ProviderUnavailable``, after
  the SDK's own retries with the same idempotency key, so the kernel retries the event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Annotated, Any, TypedDict

import stripe
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from apps.payments.error_codes import PaymentsErrorCode
from apps.payments.exceptions import InvalidWebhook, ProviderRejected, ProviderUnavailable
from apps.payments.providers.base import ChargeResult, ChargeStatus, RefundResult, failure_code_for
from ticketflow.messaging.codes import PaymentFailureCode

logger = logging.getLogger(__name__)

PENDING_STATUSES = frozenset({"requires_action", "processing", "requires_confirmation"})
ACCEPTED_REFUND_STATUSES = frozenset({"succeeded", "pending", "requires_action"})
# The handler holds a database transaction open during the call: fail fast rather than
# wait out the SDK's default 80 s, and let the kernel retry.
HTTP_TIMEOUT_SECONDS = 20


@lru_cache(maxsize=8)
def _client(api_key: str, api_base: str | None, max_network_retries: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=HTTP_TIMEOUT_SECONDS),
    )


def _text(value: Any) -> str:
    return str(value) if value else ""


def _amount(intent: Mapping[str, Any]) -> dict[str, Any]:
    amount = intent.get("amount")
    return {
        "amount_cents": amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        "currency": _text(intent.get("currency")).upper(),
    }


class _NextAction(TypedDict, total=False):
    next_action_type: str
    next_action_url: str


def _next_action(intent: Mapping[str, Any]) -> _NextAction:
    action = intent.get("next_action")
    if not isinstance(action, dict):
        return {}
    redirect = action.get("redirect_to_url")
    return {
        "next_action_type": _text(action.get("type")),
        "next_action_url": _text(redirect.get("url")) if isinstance(redirect, dict) else "",
    }


def intent_outcome(intent: Mapping[str, Any]) -> ChargeResult:
    """The outcome a PaymentIntent (as a plain dict, from the API or a webhook) stands for."""
    status = _text(intent.get("status"))
    reference = _text(intent.get("id"))
    amount = _amount(intent)
    if status == "succeeded":
        return ChargeResult(
            status=ChargeStatus.SUCCEEDED, reference=reference, provider_status=status, **amount
        )
    if status in PENDING_STATUSES:
        return ChargeResult(
            status=ChargeStatus.PENDING,
            reference=reference,
            provider_status=status,
            # Only an unfinished intent needs its secret on the buyer's page; none is kept after.
            client_secret=_text(intent.get("client_secret")),
            **_next_action(intent),
            **amount,
        )
    error = intent.get("last_payment_error") or {}
    code, decline_code = _text(error.get("code")), _text(error.get("decline_code"))
    if status == "canceled" and not code:
        code = PaymentFailureCode.PAYMENT_CANCELED
    return ChargeResult(
        status=ChargeStatus.FAILED,
        reference=reference,
        provider_status=status,
        failure_code=failure_code_for(code=code, decline_code=decline_code),
        failure_message=_text(error.get("message")) or f"The payment did not go through ({status}).",
        decline_code=decline_code,
        **amount,
    )


def _refused_charge(error: stripe.StripeError) -> ChargeResult:
    """A FAILED result from Stripe's error body, with the PaymentIntent it names, if any."""
    body = error.json_body if isinstance(error.json_body, dict) else {}
    details = found if isinstance(found := body.get("error"), dict) else {}
    intent = named if isinstance(named := details.get("payment_intent"), dict) else None
    decline_code = _text(details.get("decline_code"))
    return ChargeResult(
        status=ChargeStatus.FAILED,
        reference=_text(intent.get("id")) if intent else "",
        provider_status=_text(intent.get("status")) if intent else "",
        failure_code=failure_code_for(code=error.code, decline_code=decline_code),
        failure_message=_text(error.user_message) or "Stripe refused the payment.",
        decline_code=decline_code,
    )


class StripeProvider:
    """Charges and refunds through the Stripe API (or anything speaking it, like stripe-mock)."""

    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str | None = None, max_network_retries: int = 2) -> None:
        self._client = _client(api_key, api_base or None, max_network_retries)

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
        """Create and confirm a card PaymentIntent; see the module docstring for the mapping."""
        params: Any = {
            "amount": amount_cents,
            "currency": currency.lower(),
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "confirm": True,
            # 3-D Secure is finished in the buyer's browser with stripe.handleNextAction.
            "use_stripe_sdk": True,
            "description": description,
            "metadata": dict(metadata),
        }
        try:
            intent = self._client.v1.payment_intents.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError as error:
            return _refused_charge(error)
        except stripe.IdempotencyError as error:
            raise ProviderRejected(
                f"Stripe refused the idempotency key {idempotency_key}: {error}"
            ) from error
        except stripe.InvalidRequestError as error:
            logger.error("Stripe refused the charge %s: %s", idempotency_key, error)
            result = _refused_charge(error)
            if error.param == "payment_method":
                return replace(result, failure_code=PaymentFailureCode.INVALID_PAYMENT_METHOD)
            return result
        except stripe.StripeError as error:
            raise ProviderUnavailable(
                f"Stripe did not take the charge {idempotency_key}: {error!r}"
            ) from error
        return intent_outcome(intent.to_dict())

    def refund(
        self, *, idempotency_key: str, reference: str, amount_cents: int, metadata: Mapping[str, str]
    ) -> RefundResult:
        """Refund the PaymentIntent ``reference``; a refused refund raises ``ProviderRejected``."""
        params: Any = {"payment_intent": reference, "amount": amount_cents, "metadata": dict(metadata)}
        try:
            refund = self._client.v1.refunds.create(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except (stripe.InvalidRequestError, stripe.IdempotencyError, stripe.CardError) as error:
            raise ProviderRejected(f"Stripe refused the refund {idempotency_key}: {error}") from error
        except stripe.StripeError as error:
            raise ProviderUnavailable(
                f"Stripe did not take the refund {idempotency_key}: {error!r}"
            ) from error
        if refund.status not in ACCEPTED_REFUND_STATUSES:
            raise ProviderRejected(f"Stripe refund {refund.id} for {reference} is {refund.status}")
        amount = getattr(refund, "amount", None)
        return RefundResult(
            refund_id=refund.id,
            status=refund.status or "",
            amount_cents=amount if isinstance(amount, int) else None,
        )

    def retrieve(self, *, reference: str) -> ChargeResult:
        """The PaymentIntent ``reference`` now; an unknown one raises ``ProviderRejected``."""
        try:
            intent = self._client.v1.payment_intents.retrieve(reference)
        except (stripe.InvalidRequestError, stripe.IdempotencyError, stripe.CardError) as error:
            raise ProviderRejected(f"Stripe cannot read the PaymentIntent {reference}: {error}") from error
        except stripe.StripeError as error:
            raise ProviderUnavailable(f"Stripe did not answer for {reference}: {error!r}") from error
        return intent_outcome(intent.to_dict())

    def cancel(self, *, idempotency_key: str, reference: str) -> ChargeResult:
        """Cancel the PaymentIntent ``reference`` (reason ``abandoned``).

        Stripe refuses to cancel an intent that succeeded (or is processing) with
        ``payment_intent_unexpected_state`` and the intent in the error: that intent's
        outcome is returned, so the caller learns the money was taken.
        """
        params: Any = {"cancellation_reason": "abandoned"}
        try:
            intent = self._client.v1.payment_intents.cancel(
                reference, params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as error:
            body = error.json_body if isinstance(error.json_body, dict) else {}
            details = found if isinstance(found := body.get("error"), dict) else {}
            current = details.get("payment_intent")
            if isinstance(current, dict) and current.get("id"):
                return intent_outcome(current)
            if error.code == "payment_intent_unexpected_state":
                return self.retrieve(reference=reference)
            raise ProviderRejected(f"Stripe refused to cancel {reference}: {error}") from error
        except (stripe.IdempotencyError, stripe.CardError) as error:
            raise ProviderRejected(f"Stripe refused to cancel {reference}: {error}") from error
        except stripe.StripeError as error:
            raise ProviderUnavailable(f"Stripe did not cancel {reference}: {error!r}") from error
        return intent_outcome(intent.to_dict())


def livemode_of(api_key: str) -> bool:
    """Whether ``api_key`` is a live-mode Stripe key (``sk_live_...`` / ``rk_live_...``)."""
    return api_key.startswith(("sk_live_", "rk_live_"))


class _StripeEventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    object: dict[str, Any]


class StripeEvent(BaseModel):
    """The parts of a Stripe webhook event TicketFlow reads."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Annotated[str, Field(min_length=1, max_length=255)]
    type: Annotated[str, Field(min_length=1, max_length=128)]
    data: _StripeEventData
    livemode: bool | None = None
    created: int | None = None
    """When Stripe created the event (Unix seconds): bounds how long an unknown intent is retried."""


def webhook_event(*, payload: bytes, signature: str | None, secret: str, tolerance: int) -> StripeEvent:
    """Verify a webhook's ``Stripe-Signature`` and read its event; ``InvalidWebhook`` if either fails.

    The signature (HMAC-SHA256 over ``"<t>.<body>"``, ``t`` at most ``tolerance`` seconds old)
    is checked by the SDK's ``WebhookSignature.verify_header``, the check
    ``stripe.Webhook.construct_event`` performs. The body is then validated here rather than
    by ``construct_event``, which fails with an ``AttributeError`` (a 500) on JSON that is
    not an object.
    """
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance)
    except UnicodeDecodeError:
        raise InvalidWebhook(
            "The webhook body is not UTF-8 text.", code=PaymentsErrorCode.MALFORMED_WEBHOOK
        ) from None
    except stripe.SignatureVerificationError as error:
        raise InvalidWebhook(
            "The Stripe-Signature header is missing, expired or does not match the body.",
            code=PaymentsErrorCode.INVALID_SIGNATURE,
            details={"reason": error.user_message},
        ) from None
    try:
        return StripeEvent.model_validate_json(payload)
    except ValidationError as error:
        raise InvalidWebhook(
            "The webhook body is not a Stripe event.",
            code=PaymentsErrorCode.MALFORMED_WEBHOOK,
            details={"reason": error.errors(include_url=False, include_input=False)[0]["msg"]},
        ) from None
