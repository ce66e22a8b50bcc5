"""What an operator watches in payments: webhooks, unfinished charges and how they end."""

from __future__ import annotations

from prometheus_client import Counter

_webhooks = Counter(
    "ticketflow_payments_webhooks_total",
    "Stripe webhook events received, by type and outcome (applied, ignored, rejected, duplicate, retry).",
    ["type", "outcome"],
)
_reconciled = Counter(
    "ticketflow_payments_reconciled_total",
    "PENDING payments the reconciliation task looked at, by what it did: settled, cancelled, "
    "resubmitted, still_pending, mismatch or error.",
    ["action"],
)
_cancelled = Counter(
    "ticketflow_payments_intents_cancelled_total",
    "Unfinished charges cancelled at the provider, by why: booking_expired, booking_cancelled, "
    "booking_ended (learnt after the charge was sent) or abandoned.",
    ["reason"],
)
_submit_failures = Counter(
    "ticketflow_payments_submit_failures_total",
    "Charges whose sending to the provider failed after they were recorded; reconciliation sends them again.",
)

_refunds = Counter(
    "ticketflow_payments_refunds_total",
    "Refunds made through the provider, by reason: booking_cancelled, seats_cancelled (a partial "
    "cancellation), late_payment.",
    ["reason"],
)


def webhook(event_type: str, outcome: str) -> None:
    _webhooks.labels(event_type, outcome).inc()


def reconciled(action: str) -> None:
    _reconciled.labels(action).inc()


def cancelled(reason: str) -> None:
    _cancelled.labels(reason).inc()


def submit_failed() -> None:
    _submit_failures.inc()


def refunded(reason: str) -> None:
    _refunds.labels(reason).inc()
