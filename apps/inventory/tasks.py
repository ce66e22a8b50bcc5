"""Periodic work of the inventory context."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from apps.inventory.models import SaleEvent
from apps.inventory.services import seat_claims_reconcile, seat_holds_release_lapsed
from apps.inventory.waitlist import waitlist_offers_lapse


@shared_task(name="inventory.reconcile_seat_claims", ignore_result=True)
def reconcile_seat_claims() -> int:
    """Drop seat claims that the seats' rows contradict, for every event still running."""
    running = SaleEvent.objects.filter(ends_at__gt=timezone.now()).values_list("event_id", flat=True)
    return sum(seat_claims_reconcile(event_id=str(event_id)) for event_id in running)


@shared_task(name="inventory.release_lapsed_holds", ignore_result=True)
def release_lapsed_holds() -> int:
    """Free seats whose hold lapsed without a release (beat and the relay's sweeper; safe on several)."""
    return seat_holds_release_lapsed()


@shared_task(name="inventory.lapse_waitlist_offers", ignore_result=True)
def lapse_waitlist_offers() -> int:
    """Pass the seats of waiting-list offers whose time is up to the next buyer (safe on several)."""
    return waitlist_offers_lapse()
