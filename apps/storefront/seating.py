"""The seat map as the event page draws it: seats in layout order, categories, live states.

The page receives every seat once (id, number, category, price) in the order of the event's
frozen layout, then polls a compact string of one state letter per seat in that same order:
for the 6,000-seat arena that is 6 KB per refresh instead of the full seat map, and the
browser patches only the seats whose letter changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from apps.bookings.models import BookingStatus
from apps.bookings.selectors import booking_list_for_user
from apps.storefront.display import money

AVAILABLE, HELD, SOLD, YOURS = "a", "h", "s", "y"
_STATE_OF = {"AVAILABLE": AVAILABLE, "LOCKED": HELD, "RESERVED": SOLD, "OFFERED": HELD}
ACTIVE_BOOKING = (BookingStatus.PENDING, BookingStatus.SEATS_LOCKED, BookingStatus.CONFIRMED)


def ordered_seats(*, layout: dict[str, Any] | None, seats: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The seat map's seats in the order of the event's layout (stage first, row by row)."""
    index = {(seat["section"], seat["row"], seat["number"]): seat for seat in seats}
    ordered: list[dict[str, Any]] = []
    for section in (layout or {}).get("sections", []):
        for row in section.get("rows", []):
            start = int(row.get("start", 1))
            for number in range(start, start + int(row["seats"])):
                seat = index.pop((section["name"], row["label"], number), None)
                if seat is not None:
                    ordered.append(seat)
    # Seats the layout does not name (never expected) still show, after the others.
    ordered.extend(index.values())
    return ordered


def my_seat_ids(*, user: Any, event_id: str) -> set[str]:
    """Seats the signed-in buyer asked for in their bookings of this event that are still going."""
    if not user.is_authenticated:
        return set()
    bookings = (
        booking_list_for_user(user_id=str(user.pk))
        .prefetch_related(None)
        .filter(event_id=event_id, status__in=ACTIVE_BOOKING)
        .values_list("seat_ids", flat=True)
    )
    return {str(seat_id) for seat_ids in bookings for seat_id in seat_ids}


def state_of(seat: dict[str, Any], mine: set[str]) -> str:
    state = _STATE_OF.get(seat["status"], SOLD)
    return YOURS if state != AVAILABLE and seat["id"] in mine else state


def states(seats: Iterable[dict[str, Any]], mine: set[str]) -> str:
    """One letter per seat: a(vailable), h(eld by someone), s(old), y(ours)."""
    return "".join(state_of(seat, mine) for seat in seats)


def category_label(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").strip().capitalize() or key


def plan(
    *, seats: list[dict[str, Any]], prices: dict[str, Any], currency: str, mine: set[str], max_seats: int
) -> dict[str, Any]:
    """The seat map the page's script draws: sections -> rows -> [id, number, category, price?]."""
    seen: dict[str, int] = {}
    for seat in seats:
        seen.setdefault(seat["category"], seat["price_cents"])
    category_cents = {key: prices.get(key, cents) for key, cents in seen.items()}
    ranked = sorted(category_cents, key=lambda key: (-int(category_cents[key]), key))
    number_of = {key: index for index, key in enumerate(ranked)}
    sections: list[dict[str, Any]] = []
    for seat in seats:
        if not sections or sections[-1]["name"] != seat["section"]:
            sections.append({"name": seat["section"], "rows": []})
        rows = sections[-1]["rows"]
        if not rows or rows[-1]["label"] != seat["row"]:
            rows.append({"label": seat["row"], "seats": []})
        category = number_of[seat["category"]]
        entry: list[Any] = [seat["id"], seat["number"], category]
        if seat["price_cents"] != category_cents[seat["category"]]:
            entry.append(seat["price_cents"])
        rows[-1]["seats"].append(entry)
    return {
        "currency": currency,
        "max": max_seats,
        "categories": [
            {
                "label": category_label(key),
                "cents": int(category_cents[key]),
                "price": money(int(category_cents[key]), currency),
            }
            for key in ranked
        ],
        "sections": sections,
        "states": states(seats, mine),
    }
