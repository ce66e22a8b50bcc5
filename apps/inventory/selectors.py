"""Reads of the inventory context: the seat map of an event, cached.

The seat map is the hottest read of a flash sale. It is cached for a few seconds and
dropped whenever a seat of the event changes (after the change commits). With Redis the
drop is seen by every process at once; with the embedded default's local-memory cache
each process has its own copy, so the short lifetime bounds how stale another process's
copy can be.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.cache import caches
from django.db.models import Count

from apps.inventory.models import SaleEvent, Seat, SeatStatus
from ticketflow.values import decimal_amount, is_uuid

SEAT_MAP_SECONDS = 5


def _key(event_id: str) -> str:
    return f"inventory:seatmap:{event_id}"


def seat_map(*, event_id: str) -> dict[str, Any] | None:
    """Every seat of the event with its status and price, plus counts; None for an unknown event."""
    if not is_uuid(event_id):
        return None
    cached = _cache_get(_key(event_id))
    if cached is not None:
        return cached
    sale = SaleEvent.objects.filter(pk=event_id).first()
    if sale is None:
        return None
    seats = [
        {
            "id": str(seat_id),
            "section": section,
            "row": row,
            "number": number,
            "category": category,
            "status": status,
            "price_cents": cents,
            "price": decimal_amount(cents),
            "hold_expires_at": hold_expires_at.isoformat() if hold_expires_at else None,
        }
        for seat_id, section, row, number, category, status, cents, hold_expires_at in Seat.objects.filter(
            event_id=event_id
        )
        .order_by("section", "row", "number")
        .values_list("id", "section", "row", "number", "category", "status", "price_cents", "hold_expires_at")
    ]
    counts = dict.fromkeys(SeatStatus.values, 0)
    for seat in seats:
        counts[str(seat["status"])] += 1
    result = {
        "event_id": str(sale.event_id),
        "currency": sale.currency,
        "capacity": len(seats),
        "counts": counts,
        "seats": seats,
    }
    # A cache outage only costs speed: the seat map comes from the database.
    with contextlib.suppress(Exception):
        caches["default"].set(_key(event_id), result, timeout=SEAT_MAP_SECONDS)
    return result


def _cache_get(key: str) -> Any:
    try:
        return caches["default"].get(key)
    except Exception:
        return None


def seat_map_forget(*, event_id: str) -> None:
    """Drop the cached seat map after a change (best effort: it expires anyway)."""
    # A cache outage must not undo a committed sale; the entry expires anyway.
    with contextlib.suppress(Exception):
        caches["default"].delete(_key(event_id))


def availability(*, event_ids: list[str]) -> dict[str, dict[str, int]]:
    """Seat counts by status for several events (listings, badges)."""
    counts: dict[str, dict[str, int]] = {str(e): dict.fromkeys(SeatStatus.values, 0) for e in event_ids}
    rows = (
        Seat.objects.filter(event_id__in=[e for e in event_ids if is_uuid(e)])
        .values("event_id", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[str(row["event_id"])][row["status"]] = row["n"]
    return counts
