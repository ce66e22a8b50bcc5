"""Inventory follows the catalog's announcements: seats appear, prices and terms follow, in revision order."""

from __future__ import annotations

import pytest

from apps.inventory.models import SaleEvent, Seat, SeatStatus
from apps.inventory.selectors import seat_map
from apps.inventory.services import sale_event_apply_snapshot, seats_confirm, seats_hold
from apps.inventory.tests.conftest import (
    PRICES,
    deliver,
    new_id,
    publish,
    seat,
    snapshot,
    updated,
)
from ticketflow.messaging.dispatch import Outcome

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def prices_by_seat(event_id: str) -> dict[tuple[str, str, int], tuple[str, int]]:
    return {
        (s.section, s.row, s.number): (s.status, s.price_cents)
        for s in Seat.objects.filter(event_id=event_id)
    }


def test_the_first_announcement_creates_one_available_seat_per_seat_of_the_layout(event_id: str) -> None:
    outcome = deliver(snapshot(event_id), aggregate_id=event_id)

    assert outcome == Outcome.APPLIED
    sale = SaleEvent.objects.get(pk=event_id)
    assert (sale.name, sale.status, sale.currency, sale.capacity, sale.revision, sale.hold_minutes) == (
        "Jazz Night",
        "on_sale",
        "EUR",
        10,
        1,
        10,
    )
    seats = list(Seat.objects.filter(event_id=event_id).order_by("section", "row", "number"))
    assert [(s.section, s.row, s.number, s.category, s.price_cents, s.status) for s in seats] == [
        ("Balcony", "A", 1, "economy", 2500, SeatStatus.AVAILABLE),
        ("Balcony", "A", 2, "economy", 2500, SeatStatus.AVAILABLE),
        *[("Stalls", "A", n, "standard", 4500, SeatStatus.AVAILABLE) for n in range(1, 5)],
        *[("Stalls", "B", n, "premium", 7900, SeatStatus.AVAILABLE) for n in range(1, 5)],
    ]
    assert str(seats[0].id) == seat(event_id, "Balcony", "A", 1)


def test_a_second_copy_of_the_announcement_changes_nothing(event_id: str) -> None:
    publish(event_id)
    seats_hold(booking_id=new_id(), event_id=event_id, seat_ids=[seat(event_id, "Stalls", "A", 1)])
    before = prices_by_seat(event_id)

    again = sale_event_apply_snapshot(snapshot=snapshot(event_id))

    assert again is False
    assert prices_by_seat(event_id) == before
    assert Seat.objects.filter(event_id=event_id).count() == 10


def test_an_update_re_prices_only_the_seats_still_on_sale(event_id: str) -> None:
    publish(event_id)
    held, sold, free = (seat(event_id, "Stalls", "A", n) for n in (1, 2, 3))
    seats_hold(booking_id=new_id(), event_id=event_id, seat_ids=[held])
    buyer = new_id()
    hold_id = seats_hold(booking_id=buyer, event_id=event_id, seat_ids=[sold])
    seats_confirm(booking_id=buyer, event_id=event_id, hold_id=hold_id, seat_ids=[sold])

    outcome = deliver(
        updated(
            event_id,
            revision=2,
            prices={**PRICES, "standard": 5000},
            max_seats_per_booking=4,
            name="Jazz Night II",
        ),
        aggregate_id=event_id,
    )

    assert outcome == Outcome.APPLIED
    by_id = {str(s.id): s for s in Seat.objects.filter(event_id=event_id)}
    assert (by_id[held].status, by_id[held].price_cents) == (SeatStatus.LOCKED, 4500)
    assert (by_id[sold].status, by_id[sold].price_cents) == (SeatStatus.RESERVED, 4500)
    assert (by_id[free].status, by_id[free].price_cents, by_id[free].version) == (
        SeatStatus.AVAILABLE,
        5000,
        2,
    )
    assert {s.price_cents for s in by_id.values() if s.category == "premium"} == {7900}
    sale = SaleEvent.objects.get(pk=event_id)
    assert (sale.revision, sale.max_seats_per_booking, sale.name) == (2, 4, "Jazz Night II")


def test_an_update_that_overtakes_the_creation_creates_the_seats(event_id: str) -> None:
    early = deliver(updated(event_id, revision=2, prices={**PRICES, "economy": 2000}), aggregate_id=event_id)
    late = deliver(snapshot(event_id, revision=1), aggregate_id=event_id)

    assert (early, late) == (Outcome.APPLIED, Outcome.APPLIED)
    assert SaleEvent.objects.get(pk=event_id).revision == 2
    assert Seat.objects.filter(event_id=event_id).count() == 10
    assert set(
        Seat.objects.filter(event_id=event_id, category="economy").values_list("price_cents", flat=True)
    ) == {2000}


def test_an_older_revision_after_a_newer_one_is_ignored(event_id: str) -> None:
    publish(event_id)
    sale_event_apply_snapshot(snapshot=updated(event_id, revision=3, prices={**PRICES, "standard": 6000}))

    stale = sale_event_apply_snapshot(
        snapshot=updated(event_id, revision=2, prices={**PRICES, "standard": 5000}, status="sold_out")
    )

    assert stale is False
    sale = SaleEvent.objects.get(pk=event_id)
    assert (sale.revision, sale.status) == (3, "on_sale")
    assert set(
        Seat.objects.filter(event_id=event_id, category="standard").values_list("price_cents", flat=True)
    ) == {6000}


def test_an_update_drops_the_cached_seat_map(event_id: str) -> None:
    publish(event_id)
    assert {
        s["price_cents"] for s in seat_map(event_id=event_id)["seats"] if s["category"] == "standard"
    } == {4500}

    sale_event_apply_snapshot(snapshot=updated(event_id, revision=2, prices={**PRICES, "standard": 5100}))

    assert {
        s["price_cents"] for s in seat_map(event_id=event_id)["seats"] if s["category"] == "standard"
    } == {5100}


def test_a_status_change_stops_sales(event_id: str) -> None:
    publish(event_id)
    sale_event_apply_snapshot(snapshot=updated(event_id, revision=2, status="cancelled"))
    buyer = new_id()

    hold = seats_hold(booking_id=buyer, event_id=event_id, seat_ids=[seat(event_id, "Stalls", "A", 1)])

    assert hold is None
    assert not Seat.objects.filter(event_id=event_id).exclude(status=SeatStatus.AVAILABLE).exists()
