"""Commands of the payments context: charge, settle, refund, and apply Stripe's webhooks.

Each command opens ``db.atomic`` on the payments alias (nested in the event handler's
transaction when a consumer calls it) and emits its event inside that transaction, so the
state change and its announcement commit together. Transitions are conditional updates on
``status`` and ``version``: MongoDB silently ignores row locks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.db.models import F
from django.utils import timezone

from apps.payments.exceptions import PaymentAlreadySucceeded, PaymentChangedConcurrently, WebhooksDisabled
from apps.payments.models import Payment, PaymentStatus, StripeWebhookEvent
from apps.payments.providers import ChargeResult, ChargeStatus, get_provider
from apps.payments.providers.stripe_provider import StripeEvent, StripeProvider, intent_outcome, webhook_event
from ticketflow import db
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import Customer, PaymentProcessed, PaymentRefunded, RefundReason

logger = logging.getLogger(__name__)

STRIPE_INTENT_EVENTS = frozenset(
    {"payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled"}
)


def _alias() -> str:
    return db.alias_for("payments")


def charge_idempotency_key(*, booking_id: str, attempt: int) -> str:
    """The provider idempotency key of one attempt: a redelivery can never charge a second time."""
    return f"ticketflow-booking-{booking_id}-attempt-{attempt}"


def _customer_of(payment: Payment) -> Customer:
    return Customer(user_id=payment.user_id, email=payment.customer_email, name=payment.customer_name)


def _announce_outcome(payment: Payment, *, using: str) -> None:
    emit(
        PaymentProcessed(
            booking_id=payment.booking_id,
            payment_id=str(payment.id),
            attempt=payment.attempt,
            status=payment.status,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            provider=payment.provider,
            failure_code=payment.failure_code or None,
            failure_message=payment.failure_message or None,
        ),
        aggregate_id=payment.booking_id,
        using=using,
    )


def payment_charge(
    *,
    booking_id: str,
    attempt: int,
    payment_method: str,
    amount_cents: int,
    currency: str,
    customer: Customer,
    description: str,
) -> Payment:
    """Charge one attempt of a booking at most once, record it, and announce a final outcome.

    The configured provider is called with the attempt's idempotency key inside this
    transaction; if the transaction then rolls back, calling again returns the same charge.
    A SUCCEEDED or FAILED outcome emits ``payment.processed``; a PENDING one (the customer
    must authenticate, e.g. 3-D Secure) emits nothing until the provider's webhook settles it.

    An attempt already recorded is returned as it is: nothing is charged or emitted again.
    Raises :class:`PaymentAlreadySucceeded` when another attempt of the booking succeeded.
    """
    alias = _alias()
    payments = Payment.objects.using(alias)
    with db.atomic(alias):
        existing = payments.filter(booking_id=booking_id, attempt=attempt).first()
        if existing is not None:
            logger.info(
                "payment attempt %s of booking %s is already recorded (%s); not charging again",
                attempt,
                booking_id,
                existing.status,
            )
            return existing
        paid = payments.filter(booking_id=booking_id, status=PaymentStatus.SUCCEEDED).first()
        if paid is not None:
            raise PaymentAlreadySucceeded(
                f"booking {booking_id} was already paid by attempt {paid.attempt} (payment {paid.id}); "
                f"refusing to charge attempt {attempt}"
            )
        provider = get_provider()
        key = charge_idempotency_key(booking_id=booking_id, attempt=attempt)
        result = provider.charge(
            idempotency_key=key,
            amount_cents=amount_cents,
            currency=currency,
            payment_method=payment_method,
            description=description,
            metadata={"booking_id": booking_id, "attempt": str(attempt)},
        )
        now = timezone.now()
        payment = payments.create(
            booking_id=booking_id,
            attempt=attempt,
            user_id=customer.user_id,
            customer_email=customer.email,
            customer_name=customer.name,
            description=description,
            amount_cents=amount_cents,
            currency=currency,
            payment_method=payment_method,
            provider=provider.name,
            provider_reference=result.reference,
            provider_status=result.provider_status,
            idempotency_key=key,
            status=PaymentStatus(result.status.value),
            failure_code=result.failure_code,
            failure_message=result.failure_message,
            decline_code=result.decline_code,
            created_at=now,
            updated_at=now,
            completed_at=None if result.status is ChargeStatus.PENDING else now,
        )
        if payment.status == PaymentStatus.PENDING:
            logger.info(
                "payment %s of booking %s waits for the customer (%s)",
                payment.id,
                booking_id,
                result.provider_status,
            )
        else:
            _announce_outcome(payment, using=alias)
    return payment


def payment_settle(*, payment: Payment, result: ChargeResult) -> bool:
    """Give a PENDING payment its final outcome and announce it, exactly once.

    Returns False, changing nothing, when ``result`` is still pending or the payment was
    already settled. Raises :class:`PaymentChangedConcurrently` if it changed under us
    while still pending.
    """
    if result.status is ChargeStatus.PENDING:
        return False
    alias = _alias()
    payments = Payment.objects.using(alias)
    with db.atomic(alias):
        now = timezone.now()
        changed = payments.filter(
            pk=payment.pk, version=payment.version, status=PaymentStatus.PENDING
        ).update(
            status=PaymentStatus(result.status.value),
            provider_status=result.provider_status,
            failure_code=result.failure_code,
            failure_message=result.failure_message,
            decline_code=result.decline_code,
            completed_at=now,
            updated_at=now,
            version=F("version") + 1,
        )
        if not changed:
            if payments.filter(pk=payment.pk, status=PaymentStatus.PENDING).exists():
                raise PaymentChangedConcurrently(f"payment {payment.id} changed while being settled")
            return False
        payment.refresh_from_db(using=alias)
        _announce_outcome(payment, using=alias)
    return True


def payment_refund(*, booking_id: str, reason_code: RefundReason, reason: str) -> list[Payment]:
    """Refund the booking's succeeded payment once and announce ``payment.refunded``.

    A booking normally has at most one succeeded payment; should several attempts have
    succeeded, each is refunded, since the request names only the booking. Each refund goes
    through the provider that took the charge, with an idempotency key per payment, so a
    rolled-back transaction retried refunds once. Returns the payments refunded now: none
    when nothing succeeded or everything is refunded already (logged).
    """
    alias = _alias()
    payments = Payment.objects.using(alias)
    refunded: list[Payment] = []
    with db.atomic(alias):
        for payment in list(payments.filter(booking_id=booking_id, status=PaymentStatus.SUCCEEDED)):
            refund = get_provider(payment.provider).refund(
                idempotency_key=f"{payment.idempotency_key}-refund",
                reference=payment.provider_reference,
                amount_cents=payment.amount_cents,
                metadata={"booking_id": booking_id, "reason_code": reason_code, "reason": reason[:500]},
            )
            now = timezone.now()
            changed = payments.filter(
                pk=payment.pk, version=payment.version, status=PaymentStatus.SUCCEEDED
            ).update(
                status=PaymentStatus.REFUNDED,
                refund_id=refund.refund_id,
                refund_reason_code=reason_code,
                refunded_at=now,
                updated_at=now,
                version=F("version") + 1,
            )
            if not changed:
                # Retrying is safe: the provider returns this same refund for the same key.
                raise PaymentChangedConcurrently(f"payment {payment.id} changed while being refunded")
            payment.refresh_from_db(using=alias)
            emit(
                PaymentRefunded(
                    booking_id=booking_id,
                    payment_id=str(payment.id),
                    refund_id=refund.refund_id,
                    amount_cents=payment.amount_cents,
                    currency=payment.currency,
                    reason_code=reason_code,
                    customer=_customer_of(payment),
                ),
                aggregate_id=booking_id,
                using=alias,
            )
            refunded.append(payment)
    if not refunded:
        logger.info("booking %s has no succeeded payment to refund (%s: %s)", booking_id, reason_code, reason)
    return refunded


def payment_mark_refunded(*, payment: Payment, refund_id: str) -> bool:
    """Record a refund made outside the saga (e.g. in Stripe's dashboard); emits nothing.

    ``payment.refunded`` carries a saga reason (a cancelled booking, a late payment) that such
    a refund does not have. Returns False when the payment is not a succeeded one.
    """
    alias = _alias()
    now = timezone.now()
    with db.atomic(alias):
        changed = (
            Payment.objects.using(alias)
            .filter(pk=payment.pk, status=PaymentStatus.SUCCEEDED)
            .update(
                status=PaymentStatus.REFUNDED,
                refund_id=refund_id,
                refunded_at=now,
                updated_at=now,
                version=F("version") + 1,
            )
        )
    return bool(changed)


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """What the webhook endpoint answers Stripe."""

    event_id: str
    type: str
    outcome: str
    """``applied``, ``ignored`` (not ours, or nothing to change) or ``duplicate``."""


def _stripe_payment(reference: Any) -> Payment | None:
    if not isinstance(reference, str) or not reference:
        return None
    return (
        Payment.objects.using(_alias())
        .filter(provider=StripeProvider.name, provider_reference=reference)
        .first()
    )


def _latest_refund_id(charge: dict[str, Any]) -> str:
    """The charge's newest refund id when the event carries its refunds (older API versions)."""
    refunds = charge.get("refunds")
    data = refunds.get("data") if isinstance(refunds, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return str(data[0].get("id") or "")
    return ""


def _apply_stripe_event(event: StripeEvent) -> Payment | None:
    """The payment the event changed, if any."""
    body = event.data.object
    if event.type in STRIPE_INTENT_EVENTS:
        payment = _stripe_payment(body.get("id"))
        if payment is not None and payment_settle(payment=payment, result=intent_outcome(body)):
            return payment
        return None
    # Partial refunds also send charge.refunded; only a full one ("refunded": true) counts.
    if event.type == "charge.refunded" and body.get("refunded") is True:
        payment = _stripe_payment(body.get("payment_intent"))
        if payment is not None and payment_mark_refunded(payment=payment, refund_id=_latest_refund_id(body)):
            return payment
    return None


def stripe_webhook_receive(*, payload: bytes, signature: str | None) -> WebhookReceipt:
    """Verify a Stripe webhook and apply its event once.

    ``payment_intent.succeeded`` / ``payment_failed`` / ``canceled`` settle a pending payment
    and announce its outcome; ``charge.refunded`` (full refunds) marks a succeeded payment
    refunded. Other types, and events about payments TicketFlow does not know or that are
    settled already, are recorded as ignored. The event id is recorded in the transaction of
    the effect, so a repeat (Stripe retries, or two deliveries racing) changes nothing.
    Raises ``InvalidWebhook`` for a bad signature or body, ``WebhooksDisabled`` without a secret.
    """
    options = settings.PAYMENTS
    secret = options["STRIPE_WEBHOOK_SECRET"]
    if not secret:
        raise WebhooksDisabled()
    event = webhook_event(
        payload=payload,
        signature=signature,
        secret=secret,
        tolerance=int(options["WEBHOOK_TOLERANCE_SECONDS"]),
    )
    alias = _alias()
    seen = StripeWebhookEvent.objects.using(alias)
    if seen.filter(stripe_event_id=event.id).exists():
        return WebhookReceipt(event_id=event.id, type=event.type, outcome="duplicate")
    try:
        with db.atomic(alias):
            payment = _apply_stripe_event(event)
            record = seen.create(
                stripe_event_id=event.id,
                type=event.type,
                outcome=StripeWebhookEvent.Outcome.APPLIED if payment else StripeWebhookEvent.Outcome.IGNORED,
                payment_id=payment.pk if payment else None,
            )
    except IntegrityError:
        # The same event, delivered concurrently, committed first: its effect stands and ours
        # rolled back with this transaction.
        if seen.filter(stripe_event_id=event.id).exists():
            return WebhookReceipt(event_id=event.id, type=event.type, outcome="duplicate")
        raise
    return WebhookReceipt(event_id=event.id, type=event.type, outcome=record.outcome)
