"""Periodic work of the bookings context."""

from __future__ import annotations

from celery import shared_task

from apps.bookings.services import bookings_expire_overdue, bookings_time_out_pending


@shared_task(name="bookings.expire_overdue_holds", ignore_result=True)
def expire_overdue_holds() -> int:
    """Expire bookings whose hold ran out (beat and the relay's sweeper; safe on several workers)."""
    return bookings_expire_overdue()


@shared_task(name="bookings.time_out_pending", ignore_result=True)
def time_out_pending() -> int:
    """Fail bookings stuck PENDING past their timeout (beat and the relay's sweeper; safe on several)."""
    return bookings_time_out_pending()
