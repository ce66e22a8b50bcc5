"""Periodic work of the payments context."""

from __future__ import annotations

from celery import shared_task

from apps.payments.services import payments_reconcile


@shared_task(name="payments.reconcile_pending", ignore_result=True)
def reconcile_pending_payments() -> int:
    """Settle, resend or cancel PENDING payments that waited too long (Celery beat; safe on several workers)."""
    return payments_reconcile().total
