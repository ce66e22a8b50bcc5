"""Cancelling some seats on the booking page, without JavaScript: pick, confirm, see what happened."""

from __future__ import annotations

import pytest

from apps.bookings.selectors import booking_get
from apps.storefront.tests.conftest import Shop, drain, seat_id
from apps.storefront.tests.test_pages import booking_of, checkout, saga_db, signed_in, text
from apps.storefront.tests.test_refund_policy_pages import with_policy

pytestmark = pytest.mark.embedded


def confirmed(shop: Shop, seats: int = 2):
    """A buyer's confirmed booking of Stalls A1.. at £42 each, four days out (the 50% step)."""
    event = with_policy(shop, days=4)
    buyer = shop.buyer()
    client = signed_in(buyer)
    chosen = [seat_id(event, "Stalls", "A", n) for n in range(1, seats + 1)]
    booking_id = booking_of(checkout(client, event, chosen))
    drain()
    return client, buyer, booking_id, chosen


@saga_db
def test_the_booking_page_offers_each_seat_with_what_cancelling_it_refunds_now(shop: Shop) -> None:
    client, _, booking_id, seats = confirmed(shop)

    page = text(client.get(f"/bookings/{booking_id}"))

    assert f'<form method="get" action="/bookings/{booking_id}/cancel" id="cancel-seats-form"' in page
    for number, seat in enumerate(seats, 1):
        row = (
            f'<td><label class="pick"><input type="checkbox" name="seat" value="{seat}"> '
            f"Stalls, row A, seat {number}</label></td>"
            '<td class="num muted">£21.00</td><td class="num">£42.00</td>'
        )
        assert row in page, row
    assert "Cancelling now refunds 50% of a seat's price." in page


@saga_db
def test_one_seat_bookings_offer_no_seat_checkboxes(shop: Shop) -> None:
    client, _, booking_id, _ = confirmed(shop, seats=1)

    page = text(client.get(f"/bookings/{booking_id}"))

    assert "cancel-seats-form" not in page
    assert 'id="cancel-link"' in page


@saga_db
def test_picking_a_seat_asks_first_then_cancels_it_and_the_page_says_what_happened(shop: Shop) -> None:
    # Given a confirmed booking of two seats at £42, four days out (50%)
    client, buyer, booking_id, (gone, kept) = confirmed(shop)

    # When the buyer ticks the first seat, then confirms
    confirm = text(client.get(f"/bookings/{booking_id}/cancel", {"partial": "1", "seat": [gone]}))
    done = client.post(f"/bookings/{booking_id}/cancel", {"seat": [gone]}, follow=True)
    drain()
    page = text(client.get(f"/bookings/{booking_id}"))

    # Then the confirmation names the seat and its refund, and only that seat is cancelled
    assert '<h1 id="cancel-title">Cancel 1 of 2 seats?</h1>' in confirm
    assert "<li>Stalls, row A, seat 1</li>" in confirm
    assert "Under the event's refund policy £21.00 of its price of £42.00 (50%) is refunded." in confirm
    assert f'<input type="hidden" name="seat" value="{gone}">' in confirm
    reference = booking_get(booking_id=booking_id, user_id=str(buyer.pk)).reference
    assert (
        f"1 seat of booking {reference} is cancelled and back on sale. £21.00 of its price will be refunded."
        in text(done)
    )
    booking = booking_get(booking_id=booking_id, user_id=str(buyer.pk))
    assert (booking.status, booking.seat_ids, booking.total_cents) == ("CONFIRMED", [kept], 4200)
    # And the page shows the seat cancelled, the new total, the refund and the timeline step
    assert (
        '<tr class="is-cancelled" data-cancelled-seat><td>Stalls, row A, seat 1 '
        '<span class="badge badge--ticket-revoked">Cancelled</span></td><td class="num"><del>£42.00</del></td></tr>'
    ) in page
    assert '<strong id="booking-total">£42.00</strong>' in page
    assert (
        'Refund for the cancelled seats: <strong>£21.00</strong> <span class="muted">(refunded)</span>'
        in page
    )
    assert (
        "Seats cancelled: cancelled 1 of 2 seats (Stalls, row A, seat 1) by the buyer; refunding 50%, 21.00 GBP"
        in page
    )
    assert "Refund issued: refunded 21.00 GBP for the 1 cancelled seat" in page
    # One seat left: nothing more to pick, the whole booking can still be cancelled
    assert "cancel-seats-form" not in page
    assert 'id="cancel-link"' in page


@saga_db
def test_picking_every_seat_is_the_whole_booking_and_picking_none_asks_again(shop: Shop) -> None:
    client, _, booking_id, seats = confirmed(shop)

    nothing = client.get(f"/bookings/{booking_id}/cancel", {"partial": "1"}, follow=True)
    everything = text(client.get(f"/bookings/{booking_id}/cancel", {"partial": "1", "seat": seats}))

    assert nothing.redirect_chain == [(f"/bookings/{booking_id}", 302)]
    assert "Choose the seats to cancel first." in text(nothing)
    assert '<h1 id="cancel-title">Cancel this booking?</h1>' in everything


@saga_db
def test_a_seat_that_is_not_the_bookings_is_refused_and_nothing_changes(shop: Shop) -> None:
    client, buyer, booking_id, seats = confirmed(shop)
    version = booking_get(booking_id=booking_id, user_id=str(buyer.pk)).version

    asked = client.get(
        f"/bookings/{booking_id}/cancel", {"partial": "1", "seat": ["not-a-seat"]}, follow=True
    )
    posted = client.post(f"/bookings/{booking_id}/cancel", {"seat": [seats[0], "not-a-seat"]}, follow=True)

    assert "Some of those seats are not in this booking any more; choose again." in text(asked)
    assert "Some of these seats are not seats of this booking." in text(posted)
    assert booking_get(booking_id=booking_id, user_id=str(buyer.pk)).version == version
