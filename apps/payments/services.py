"""Commands of the payments context: charge, settle, refund, and apply Stripe's webhooks.

Each command opens ``db.atomic`` on the payments alias (nested in the event handler's
transaction when a consumer calls it) and emits its event inside that transaction, so the
state change and its announcement commit together. Transitions are conditional updates on
``status`` and ``version``: MongoDB silently ignores row locks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from django.conf import settings
from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone

from apps.payments import metrics
from apps.payments.exceptions import (
    PaymentAlreadySucceeded,
    PaymentChangedConcurrently,
    PaymentNotRecordedYet,
    ProviderRejected,
    ProviderUnavailable,
    WebhooksDisabled,
)
from apps.payments.models import REFUNDABLE, Payment, PaymentStatus, Refund, StripeWebhookEvent
from apps.payments.providers import ChargeResult, ChargeStatus, get_provider
from apps.payments.providers.stripe_provider import (
    StripeEvent,
    StripeProvider,
    intent_outcome,
    livemode_of,
    webhook_event,
)
from ticketflow import db
from ticketflow.messaging.codes import PaymentFailureCode
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import (
    Customer,
    PaymentOutcome,
    PaymentProcessed,
    PaymentRefunded,
    RefundReason,
)

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
            status=cast("PaymentOutcome", payment.status),  # announced once SUCCEEDED or FAILED
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
    """Record one attempt of a booking as started, and send it to the provider once that commits.

    The attempt is written PENDING, with no provider reference, in the caller's transaction
    (the event handler's, with its inbox row); only after the commit does
    :func:`payment_submit` call the provider, with the attempt's idempotency key. So by the
    time Stripe can send a webhook for the charge, the payment it belongs to is on record
    (found by ``metadata.booking_id`` and ``attempt`` until its reference is). A process that
    dies in between leaves a started charge that :func:`payments_reconcile` sends again
    with the same key, which can only return the same charge.

    An attempt already recorded is returned as it is: nothing is charged or emitted again.
    Raises :class:`PaymentAlreadySucceeded` when another attempt of the booking succeeded.
    """
    alias = _alias()
    with db.atomic(alias):
        existing = _attempt_on_record(booking_id, attempt)
        if existing is not None:
            return existing
        _refuse_a_second_payment(booking_id, attempt)
        now = timezone.now()
        payment = Payment.objects.using(alias).create(
            booking_id=booking_id,
            attempt=attempt,
            user_id=customer.user_id,
            customer_email=customer.email,
            customer_name=customer.name,
            description=description,
            amount_cents=amount_cents,
            currency=currency,
            payment_method=payment_method,
            provider=get_provider().name,
            idempotency_key=charge_idempotency_key(booking_id=booking_id, attempt=attempt),
            status=PaymentStatus.PENDING,
            created_at=now,
            updated_at=now,
        )
        payment_id = payment.pk
        db.on_commit(lambda: _submit_after_commit(payment_id), using=alias)
    return Payment.objects.using(alias).get(pk=payment_id)


def _attempt_on_record(booking_id: str, attempt: int) -> Payment | None:
    """The attempt, if it is already recorded (a redelivered request): it is not charged again."""
    existing = Payment.objects.using(_alias()).filter(booking_id=booking_id, attempt=attempt).first()
    if existing is not None:
        logger.info(
            "payment attempt %s of booking %s is already recorded (%s); not charging again",
            attempt,
            booking_id,
            existing.status,
        )
    return existing


def _refuse_a_second_payment(booking_id: str, attempt: int) -> None:
    """Raise :class:`PaymentAlreadySucceeded` when another attempt of the booking was paid."""
    paid = Payment.objects.using(_alias()).filter(booking_id=booking_id, status__in=REFUNDABLE).first()
    if paid is not None:
        raise PaymentAlreadySucceeded(
            f"booking {booking_id} was already paid by attempt {paid.attempt} (payment {paid.id}); "
            f"refusing to charge attempt {attempt}"
        )


def _submit_after_commit(payment_id: Any) -> None:
    # Runs after the handler's commit: raising here would make the kernel take a committed
    # batch for a failed one. The payment is on record; reconciliation sends it again.
    try:
        payment_submit(payment_id=payment_id)
    except Exception:
        metrics.submit_failed()
        logger.exception(
            "payment %s could not be sent to its provider; reconciliation will retry", payment_id
        )


def _mark_submitted(payment: Payment) -> bool:
    """Commit that the charge is about to be sent; False if it must not be sent (now)."""
    alias = _alias()
    payments = Payment.objects.using(alias)
    now = timezone.now()
    with db.atomic(alias):
        # Conditional on the booking not having ended: this update and the booking-end
        # handler's "fail it unsent" update exclude each other on the row.
        first = payments.filter(
            pk=payment.pk,
            status=PaymentStatus.PENDING,
            provider_reference="",
            submitted_at__isnull=True,
            booking_ended_at__isnull=True,
        ).update(submitted_at=now, updated_at=now, version=F("version") + 1)
    if first:
        return True
    payment.refresh_from_db(using=alias)
    # Sent before (its answer may have been lost): the same key again can only learn that charge.
    return (
        payment.status == PaymentStatus.PENDING
        and not payment.provider_reference
        and bool(payment.submitted_at)
    )


def payment_submit(*, payment_id: Any) -> Payment | None:
    """Send a started charge to its provider and record the answer, outside any transaction.

    The charge is marked submitted (committed) first. The answer is recorded only onto a
    payment still PENDING without a reference: if a webhook matched it first (by its
    metadata), that outcome stands. A final answer emits ``payment.processed``; a PENDING
    one (3-D Secure) records the ``client_secret`` and ``next_action`` the buyer's page
    needs. If the booking ended meanwhile, a PENDING charge is cancelled straight away.

    Safe to call again (reconciliation does): the idempotency key makes the provider
    return the same charge. A provider that refuses the request for good (a key reused
    with other parameters) makes the attempt FAILED; an unreachable one raises
    ``ProviderUnavailable`` and leaves the payment started, for reconciliation.
    """
    alias = _alias()
    payment = Payment.objects.using(alias).filter(pk=payment_id).first()
    if payment is None or payment.status != PaymentStatus.PENDING or payment.provider_reference:
        return payment
    if not _mark_submitted(payment):
        return payment
    payment.refresh_from_db(using=alias)
    provider = get_provider(payment.provider)
    try:
        result = provider.charge(
            idempotency_key=payment.idempotency_key,
            amount_cents=payment.amount_cents,
            currency=payment.currency,
            payment_method=payment.payment_method,
            description=payment.description,
            metadata={"booking_id": payment.booking_id, "attempt": str(payment.attempt)},
        )
    except ProviderRejected as error:
        logger.error("the provider refused payment %s for good: %s", payment.pk, error)
        result = ChargeResult(
            status=ChargeStatus.FAILED,
            reference="",
            provider_status="",
            failure_code=PaymentFailureCode.PROVIDER_REJECTED,
            failure_message="The payment provider refused this payment.",
        )
    payment = _record_answer(payment, result)
    if payment.status == PaymentStatus.PENDING and payment.booking_ended_at is not None:
        _cancel_pending(payment, reason="booking_ended")
        payment.refresh_from_db(using=alias)
    return payment


def _record_answer(payment: Payment, result: ChargeResult) -> Payment:
    alias = _alias()
    payments = Payment.objects.using(alias)
    final = result.status is not ChargeStatus.PENDING
    with db.atomic(alias):
        now = timezone.now()
        changed = payments.filter(pk=payment.pk, status=PaymentStatus.PENDING, provider_reference="").update(
            status=PaymentStatus(result.status.value),
            provider_reference=result.reference,
            provider_status=result.provider_status,
            client_secret="" if final else result.client_secret,
            next_action_type="" if final else result.next_action_type,
            next_action_url="" if final else result.next_action_url,
            failure_code=result.failure_code,
            failure_message=result.failure_message,
            decline_code=result.decline_code,
            completed_at=now if final else None,
            updated_at=now,
            version=F("version") + 1,
        )
        payment.refresh_from_db(using=alias)
        if not changed:
            logger.info("payment %s was settled before its provider's answer was recorded", payment.pk)
        elif final:
            _announce_outcome(payment, using=alias)
        else:
            logger.info(
                "payment %s of booking %s waits for the customer (%s)",
                payment.pk,
                payment.booking_id,
                result.provider_status,
            )
    return payment


def mismatch_of(payment: Payment, result: ChargeResult) -> str:
    """Why the provider's charge cannot be this payment's (amount or currency differ), or ""."""
    if result.amount_cents is not None and result.amount_cents != payment.amount_cents:
        return f"amount {result.amount_cents} != {payment.amount_cents}"
    if result.currency and result.currency != payment.currency.upper():
        return f"currency {result.currency} != {payment.currency}"
    return ""


def payment_settle(*, payment: Payment, result: ChargeResult) -> bool:
    """Give a PENDING payment its final outcome and announce it, exactly once.

    The transition is one conditional update (``status`` still PENDING), so of a webhook,
    the reconciliation task and the buyer's refresh racing, one wins and the others change
    nothing. A payment matched by its metadata takes the result's reference. Returns False,
    changing nothing, when ``result`` is still pending or the payment was already settled.
    """
    if result.status is ChargeStatus.PENDING:
        return False
    alias = _alias()
    payments = Payment.objects.using(alias)
    with db.atomic(alias):
        now = timezone.now()
        changed = payments.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
            status=PaymentStatus(result.status.value),
            provider_reference=result.reference or payment.provider_reference,
            provider_status=result.provider_status,
            client_secret="",
            next_action_type="",
            next_action_url="",
            failure_code=result.failure_code,
            failure_message=result.failure_message,
            decline_code=result.decline_code,
            completed_at=now,
            updated_at=now,
            version=F("version") + 1,
        )
        if not changed:
            return False
        payment.refresh_from_db(using=alias)
        _announce_outcome(payment, using=alias)
    return True


def _cancel_pending(payment: Payment, *, reason: str) -> str:
    """Cancel a PENDING charge at its provider and settle it by the answer; what happened.

    ``cancelled`` (now FAILED), ``succeeded`` (it had already taken the money: SUCCEEDED is
    announced and the booking saga refunds or re-seats it, see docs/api.md),
    ``still_pending`` (the provider is still processing) or ``mismatch``.
    """
    result = get_provider(payment.provider).cancel(
        idempotency_key=f"{payment.idempotency_key}-cancel", reference=payment.provider_reference
    )
    problem = mismatch_of(payment, result)
    if problem:
        logger.error(
            "payment %s: the provider's charge contradicts it (%s); not settled", payment.pk, problem
        )
        return "mismatch"
    if result.status is ChargeStatus.PENDING:
        return "still_pending"
    payment_settle(payment=payment, result=result)
    if result.status is ChargeStatus.SUCCEEDED:
        logger.warning("payment %s had already succeeded when its booking ended", payment.pk)
        return "succeeded"
    metrics.cancelled(reason)
    logger.info("payment %s of booking %s cancelled (%s)", payment.pk, payment.booking_id, reason)
    return "cancelled"


def _fail_unsent(payment: Payment) -> bool:
    """Fail a PENDING charge that was never sent (its booking ended); False if it was sent."""
    alias = _alias()
    with db.atomic(alias):
        now = timezone.now()
        failed = (
            Payment.objects.using(alias)
            .filter(
                pk=payment.pk, status=PaymentStatus.PENDING, provider_reference="", submitted_at__isnull=True
            )
            .update(
                status=PaymentStatus.FAILED,
                failure_code=PaymentFailureCode.BOOKING_ENDED,
                failure_message="The booking ended before the payment was sent.",
                completed_at=now,
                updated_at=now,
                version=F("version") + 1,
            )
        )
        if failed:
            payment.refresh_from_db(using=alias)
            _announce_outcome(payment, using=alias)
    return bool(failed)


BookingEnd = Literal["booking_expired", "booking_cancelled"]


def payments_end_for_booking(*, booking_id: str, reason: BookingEnd) -> list[str]:
    """The booking expired or was cancelled: none of its unfinished charges may take money now.

    Every payment of the booking is marked ``booking_ended_at``. A PENDING one that was
    never sent fails at once (``booking_ended``, announced), with no provider call; one with
    a provider reference is cancelled there (``payment.processed`` FAILED, which bookings
    ignores for an ended booking), or, if the customer finished paying just before, settled
    SUCCEEDED so the saga refunds it. One sent whose answer is not recorded yet is cancelled
    by :func:`payment_submit` when the answer comes, or by reconciliation. A provider that
    cannot be reached is left to reconciliation (logged). Returns what happened to each.

    Idempotent: a second call finds nothing PENDING and changes nothing.
    """
    alias = _alias()
    payments = Payment.objects.using(alias)
    outcomes: list[str] = []
    with db.atomic(alias):
        now = timezone.now()
        payments.filter(booking_id=booking_id, booking_ended_at__isnull=True).update(
            booking_ended_at=now, updated_at=now, version=F("version") + 1
        )
        for payment in list(payments.filter(booking_id=booking_id, status=PaymentStatus.PENDING)):
            if not payment.provider_reference:
                outcomes.append("failed_unsent" if _fail_unsent(payment) else "in_flight")
                continue
            try:
                outcomes.append(_cancel_pending(payment, reason=reason))
            except ProviderUnavailable as error:
                logger.warning("payment %s not cancelled yet (%s); reconciliation will", payment.pk, error)
                outcomes.append("error")
    return outcomes


def payment_refresh(*, payment: Payment) -> Payment:
    """Ask the provider where a PENDING charge stands now and settle it if it is final.

    For the buyer's page after 3-D Secure, so the outcome does not wait for the webhook.
    A settled payment, or one not sent yet, is returned unchanged without asking. An
    answer whose amount or currency contradicts the payment is not applied (logged).
    """
    if payment.status != PaymentStatus.PENDING or not payment.provider_reference:
        return payment
    result = get_provider(payment.provider).retrieve(reference=payment.provider_reference)
    problem = mismatch_of(payment, result)
    if problem:
        logger.error(
            "payment %s: the provider's charge contradicts it (%s); not settled", payment.pk, problem
        )
    else:
        payment_settle(payment=payment, result=result)
    payment.refresh_from_db(using=_alias())
    return payment


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    """What one reconciliation run did, by action (the ``action`` label of its metric)."""

    actions: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.actions.values())


def _option(name: str, default: int) -> int:
    return int(settings.PAYMENTS.get(name, default))


def payments_reconcile(*, now: datetime | None = None, limit: int = 200) -> ReconcileReport:
    """Bring PENDING payments that have waited too long to an end (Celery beat).

    * started but never answered (no reference, sent or not, older than
      ``RESUBMIT_AFTER_SECONDS``): sent again with the same idempotency key;
    * the booking ended: cancelled at the provider;
    * waiting longer than ``RECONCILE_AFTER_SECONDS`` (a lost webhook): read from the
      provider and settled if final; still unfinished after ``ABANDON_AFTER_SECONDS``
      (longer than any hold): cancelled.

    Each payment is handled on its own; one failing is logged and counted (``error``) and
    the rest go on. Safe on several workers: every transition is a conditional update.
    """
    now = now or timezone.now()
    resubmit_before = now - timedelta(seconds=_option("RESUBMIT_AFTER_SECONDS", 60))
    reconcile_before = now - timedelta(seconds=_option("RECONCILE_AFTER_SECONDS", 600))
    abandon_before = now - timedelta(seconds=_option("ABANDON_AFTER_SECONDS", 2 * 3600))
    pending = Payment.objects.using(_alias()).filter(status=PaymentStatus.PENDING)
    candidates = list(
        pending.filter(
            Q(provider_reference="", created_at__lt=resubmit_before)
            | Q(booking_ended_at__isnull=False)
            | Q(updated_at__lt=reconcile_before)
        ).order_by("created_at")[:limit]
    )
    actions: dict[str, int] = {}
    for payment in candidates:
        try:
            action = _reconcile_one(payment, abandon_before=abandon_before, resubmit_before=resubmit_before)
        except Exception:
            logger.exception("reconciling payment %s failed", payment.pk)
            action = "error"
        metrics.reconciled(action)
        actions[action] = actions.get(action, 0) + 1
    if actions:
        logger.info("reconciled %s pending payments: %s", len(candidates), actions)
    return ReconcileReport(actions=actions)


def _reconcile_one(payment: Payment, *, abandon_before: datetime, resubmit_before: datetime) -> str:
    if not payment.provider_reference:
        if payment.booking_ended_at is not None and _fail_unsent(payment):
            return "cancelled"
        if payment.submitted_at is not None and payment.submitted_at >= resubmit_before:
            return "still_pending"  # its first call may still be under way
        submitted = payment_submit(payment_id=payment.pk)
        return "resubmitted" if submitted is not None and submitted.provider_reference else "still_pending"
    if payment.booking_ended_at is not None or payment.created_at < abandon_before:
        outcome = _cancel_pending(
            payment, reason="abandoned" if payment.booking_ended_at is None else "booking_ended"
        )
        return {"cancelled": "cancelled", "succeeded": "settled"}.get(outcome, outcome)
    result = get_provider(payment.provider).retrieve(reference=payment.provider_reference)
    problem = mismatch_of(payment, result)
    if problem:
        logger.error("payment %s: the provider's charge contradicts it (%s)", payment.pk, problem)
        return "mismatch"
    if payment_settle(payment=payment, result=result):
        return "settled"
    # Touch it so the next run waits RECONCILE_AFTER_SECONDS again before asking.
    Payment.objects.using(_alias()).filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
        updated_at=timezone.now()
    )
    return "still_pending"


def refund_idempotency_key(*, payment: Payment, request_id: str) -> str:
    """The provider idempotency key of one refund request of one payment.

    A request without an id keeps the key of the one refund a payment had before requests
    were named, so a request in flight across an upgrade is still refunded once.
    """
    return f"{payment.idempotency_key}-refund" + (f"-{request_id}" if request_id else "")


def payment_refund(
    *,
    booking_id: str,
    reason_code: RefundReason,
    reason: str,
    amount_cents: int | None = None,
    refund_request_id: str | None = None,
) -> list[Payment]:
    """Refund the booking's succeeded payment for one request, once, and announce ``payment.refunded``.

    ``amount_cents`` (the refund policy's share) caps what this request refunds in all;
    None refunds everything still held. No payment is ever refunded more than was paid: each
    gives at most what it still holds. A booking normally has one succeeded payment; should
    several attempts have succeeded, they are refunded in turn, since the request names only
    the booking.

    Each refund is recorded as a :class:`Refund` of its payment for ``refund_request_id``,
    and goes through the provider that took the charge with an idempotency key per payment
    and request, so a redelivered request, or a rolled-back transaction retried, refunds
    nothing more. A payment becomes PARTIALLY_REFUNDED for a partial cancellation's request
    (``seats_cancelled``) that leaves money on it, REFUNDED otherwise. Returns the payments
    refunded now: none when nothing succeeded or this request was refunded already (logged).
    Raises ``ProviderUnavailable`` (the kernel retries the event) and ``ProviderRejected``.
    """
    alias = _alias()
    payments = Payment.objects.using(alias)
    refunds = Refund.objects.using(alias)
    request_id = refund_request_id or ""
    refunded: list[Payment] = []
    with db.atomic(alias):
        held = list(payments.filter(booking_id=booking_id, status__in=REFUNDABLE).order_by("attempt"))
        done = {
            refund.payment_id: refund.amount_cents
            for refund in refunds.filter(payment_id__in=[p.pk for p in held], request_id=request_id)
        }
        left = None if amount_cents is None else amount_cents - sum(done.values())
        for payment in held:
            if payment.pk in done:
                continue
            still_held = payment.amount_cents - payment.refunded_cents
            amount = still_held if left is None else min(left, still_held)
            if amount <= 0:
                continue
            if left is not None:
                left -= amount
            refund = get_provider(payment.provider).refund(
                idempotency_key=refund_idempotency_key(payment=payment, request_id=request_id),
                reference=payment.provider_reference,
                amount_cents=amount,
                metadata={
                    "booking_id": booking_id,
                    "reason_code": reason_code,
                    "reason": reason[:500],
                    "refund_request_id": request_id,
                },
            )
            if refund.amount_cents is not None and refund.amount_cents != amount:
                logger.error(
                    "payment %s: asked the provider to refund %s, it refunds %s (%s); recording its amount",
                    payment.pk,
                    amount,
                    refund.amount_cents,
                    refund.refund_id,
                )
                amount = refund.amount_cents
            total = payment.refunded_cents + amount
            final = total >= payment.amount_cents or reason_code != "seats_cancelled"
            now = timezone.now()
            changed = payments.filter(pk=payment.pk, version=payment.version, status__in=REFUNDABLE).update(
                status=PaymentStatus.REFUNDED if final else PaymentStatus.PARTIALLY_REFUNDED,
                refunded_cents=total,
                refund_id=refund.refund_id,
                refund_reason_code=reason_code,
                refunded_at=now,
                updated_at=now,
                version=F("version") + 1,
            )
            if not changed:
                # Retrying is safe: the provider returns this same refund for the same key.
                raise PaymentChangedConcurrently(f"payment {payment.id} changed while being refunded")
            refunds.create(
                payment_id=payment.pk,
                booking_id=booking_id,
                request_id=request_id,
                amount_cents=amount,
                reason_code=reason_code,
                provider_refund_id=refund.refund_id,
                created_at=now,
            )
            payment.refresh_from_db(using=alias)
            emit(
                PaymentRefunded(
                    booking_id=booking_id,
                    payment_id=str(payment.id),
                    refund_id=refund.refund_id,
                    amount_cents=amount,
                    currency=payment.currency,
                    reason_code=reason_code,
                    customer=_customer_of(payment),
                    refund_request_id=refund_request_id,
                ),
                aggregate_id=booking_id,
                using=alias,
            )
            db.on_commit(lambda: metrics.refunded(reason_code), using=alias)
            refunded.append(payment)
    if not refunded:
        logger.info(
            "booking %s has nothing (more) to refund for request %r (%s: %s)",
            booking_id,
            request_id,
            reason_code,
            reason,
        )
    return refunded


def payment_mark_refunded(*, payment: Payment, refund_id: str) -> bool:
    """Record a full refund made outside the saga (e.g. in Stripe's dashboard); emits nothing.

    ``payment.refunded`` carries a saga reason (a cancelled booking, a late payment) that such
    a refund does not have. Returns False when the payment holds no money any more.
    """
    alias = _alias()
    now = timezone.now()
    with db.atomic(alias):
        changed = (
            Payment.objects.using(alias)
            .filter(pk=payment.pk, status__in=REFUNDABLE)
            .update(
                status=PaymentStatus.REFUNDED,
                refunded_cents=F("amount_cents"),
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
    """``applied``, ``ignored`` (not ours, or nothing to change), ``rejected`` (the event
    contradicts the payment: amount, currency or livemode) or ``duplicate``."""


@dataclass(frozen=True, slots=True)
class _Verdict:
    payment: Payment | None
    outcome: str
    detail: str = ""


def _stripe_payment(reference: Any) -> Payment | None:
    if not isinstance(reference, str) or not reference:
        return None
    return (
        Payment.objects.using(_alias())
        .filter(provider=StripeProvider.name, provider_reference=reference)
        .first()
    )


def _payment_by_metadata(body: dict[str, Any]) -> Payment | None:
    """The attempt an intent's metadata names, while its reference is not recorded yet."""
    metadata = found if isinstance(found := body.get("metadata"), dict) else {}
    booking_id, attempt = metadata.get("booking_id"), str(metadata.get("attempt") or "")
    if not isinstance(booking_id, str) or not booking_id or not attempt.isdigit():
        return None
    return (
        Payment.objects.using(_alias())
        .filter(
            provider=StripeProvider.name, booking_id=booking_id, attempt=int(attempt), provider_reference=""
        )
        .first()
    )


def _names_a_booking(body: dict[str, Any]) -> bool:
    metadata = body.get("metadata")
    return isinstance(metadata, dict) and bool(metadata.get("booking_id"))


def _latest_refund_id(charge: dict[str, Any]) -> str:
    """The charge's newest refund id when the event carries its refunds (older API versions)."""
    refunds = charge.get("refunds")
    data = refunds.get("data") if isinstance(refunds, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return str(data[0].get("id") or "")
    return ""


def _recent(event: StripeEvent) -> bool:
    """Young enough that an intent we do not know yet may still be recorded: Stripe should retry."""
    window = _option("WEBHOOK_UNKNOWN_INTENT_RETRY_SECONDS", 3600)
    return event.created is None or event.created >= timezone.now().timestamp() - window


def _apply_stripe_event(event: StripeEvent) -> _Verdict:
    """What the event does; raises :class:`PaymentNotRecordedYet` for an intent of ours not on record."""
    body = event.data.object
    expected_livemode = livemode_of(settings.PAYMENTS["STRIPE_SECRET_KEY"] or "")
    if event.livemode is not None and event.livemode != expected_livemode:
        mode = "live" if event.livemode else "test"
        return _Verdict(None, StripeWebhookEvent.Outcome.REJECTED, f"a {mode}-mode event for this server")
    if event.type in STRIPE_INTENT_EVENTS:
        payment = _stripe_payment(body.get("id")) or _payment_by_metadata(body)
        if payment is None:
            if _names_a_booking(body) and _recent(event):
                raise PaymentNotRecordedYet(details={"payment_intent": str(body.get("id") or "")})
            return _Verdict(None, StripeWebhookEvent.Outcome.IGNORED, "no payment has this PaymentIntent")
        result = intent_outcome(body)
        problem = mismatch_of(payment, result)
        if problem:
            return _Verdict(payment, StripeWebhookEvent.Outcome.REJECTED, problem)
        if payment_settle(payment=payment, result=result):
            return _Verdict(payment, StripeWebhookEvent.Outcome.APPLIED)
        return _Verdict(
            payment, StripeWebhookEvent.Outcome.IGNORED, f"the payment is {payment.status} already"
        )
    # Partial refunds also send charge.refunded; only a full one ("refunded": true) counts.
    if event.type == "charge.refunded" and body.get("refunded") is True:
        payment = _stripe_payment(body.get("payment_intent"))
        if payment is None:
            return _Verdict(None, StripeWebhookEvent.Outcome.IGNORED, "no payment has this PaymentIntent")
        currency = str(body.get("currency") or "").upper()
        if currency and currency != payment.currency.upper():
            return _Verdict(
                payment, StripeWebhookEvent.Outcome.REJECTED, f"currency {currency} != {payment.currency}"
            )
        if payment_mark_refunded(payment=payment, refund_id=_latest_refund_id(body)):
            return _Verdict(payment, StripeWebhookEvent.Outcome.APPLIED)
        return _Verdict(payment, StripeWebhookEvent.Outcome.IGNORED, f"the payment is {payment.status}")
    return _Verdict(None, StripeWebhookEvent.Outcome.IGNORED, "not an event type TicketFlow applies")


def _metric_type(event_type: str) -> str:
    return event_type if event_type in STRIPE_INTENT_EVENTS or event_type == "charge.refunded" else "other"


def stripe_webhook_receive(*, payload: bytes, signature: str | None) -> WebhookReceipt:
    """Verify a Stripe webhook and apply its event once.

    ``payment_intent.succeeded`` / ``payment_failed`` / ``canceled`` settle a pending payment
    and announce its outcome; ``charge.refunded`` (full refunds) marks a succeeded payment
    refunded. The payment is found by the intent's id, or, before that id is recorded, by
    the attempt its ``metadata`` names (``booking_id``, ``attempt``). An intent event naming
    a booking but matching no payment raises :class:`PaymentNotRecordedYet` (409, nothing
    recorded) so that Stripe retries, for ``WEBHOOK_UNKNOWN_INTENT_RETRY_SECONDS`` after
    the event was created; after that, or without a booking in the metadata, it is
    recorded as ignored. An event whose livemode, amount or currency contradicts the
    payment is recorded as rejected and changes nothing (a retry could not change it).

    The event id is recorded in the transaction of the effect, so a repeat (Stripe retries,
    or two deliveries racing) changes nothing. Raises ``InvalidWebhook`` for a bad
    signature or body, ``WebhooksDisabled`` without a secret.
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
    kind = _metric_type(event.type)
    if seen.filter(stripe_event_id=event.id).exists():
        metrics.webhook(kind, "duplicate")
        return WebhookReceipt(event_id=event.id, type=event.type, outcome="duplicate")
    try:
        with db.atomic(alias):
            verdict = _apply_stripe_event(event)
            record = seen.create(
                stripe_event_id=event.id,
                type=event.type,
                outcome=verdict.outcome,
                payment_id=verdict.payment.pk if verdict.payment else None,
                detail=verdict.detail,
            )
    except PaymentNotRecordedYet:
        metrics.webhook(kind, "retry")
        logger.warning("Stripe event %s names a payment not recorded yet; asking Stripe to retry", event.id)
        raise
    except IntegrityError:
        # The same event, delivered concurrently, committed first: its effect stands and ours
        # rolled back with this transaction.
        if seen.filter(stripe_event_id=event.id).exists():
            metrics.webhook(kind, "duplicate")
            return WebhookReceipt(event_id=event.id, type=event.type, outcome="duplicate")
        raise
    metrics.webhook(kind, record.outcome)
    if record.outcome == StripeWebhookEvent.Outcome.REJECTED:
        logger.error("Stripe event %s (%s) rejected: %s", event.id, event.type, record.detail)
    return WebhookReceipt(event_id=event.id, type=event.type, outcome=record.outcome)
