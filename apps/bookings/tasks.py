"""Periodic work of the bookings context."""

from __future__ import annotations

from celery import shared_task

from apps.bookings.services import bookings_expire_overdue


@shared_task(name="bookings.expire_overdue_holds", ignore_result=True)
def expire_overdue_holds() -> int:
    """Expire bookings whose hold ran out (Celery beat; safe on several workers)."""
    return bookings_expire_overdue()
