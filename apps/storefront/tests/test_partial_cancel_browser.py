"""Cancelling one seat of two in a real browser: tick it, confirm, and read what happened.

Headless Chromium against the live server; the saga's events are applied with ``drain()``.
Screenshots of each step land under artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from apps.bookings.models import Booking
from apps.bookings.services import Buyer, booking_create
from apps.checkin.models import Ticket
from apps.checkin.services import scan_redeem
from apps.inventory.models import Seat, SeatStatus
from apps.storefront.tests.conftest import Browsing, Shop, drain, screenshot, seat_id
from apps.storefront.tests.test_browser import log_in
from apps.storefront.tests.test_refund_policy_pages import with_policy

pytestmark = [
    pytest.mark.browser,
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def test_a_buyer_cancels_one_seat_of_two_and_sees_the_refund_total_and_timeline(
    shop: Shop, browsing: Browsing
) -> None:
    # Given Ada's confirmed booking of two £42 seats, four days out: the 50% step
    event = with_policy(shop, days=4)
    ada = shop.buyer()
    gone, kept = (seat_id(event, "Stalls", "A", n) for n in (1, 2))
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(ada.pk), email=ada.email, name=ada.name),
        event_id=str(event.pk),
        seat_ids=[gone, kept],
        payment_method="pm_card_visa",
    )
    drain()
    page = browsing.session()
    log_in(page, ada.email, next_path=f"/bookings/{booking.pk}")
    expect(page.locator(".booking")).to_have_attribute("data-status", "CONFIRMED")
    expect(page.locator(".ticket-card")).to_have_count(2)

    # When she ticks the first seat and asks to cancel it
    seats = page.locator("#cancel-seats-form")
    expect(seats.get_by_role("row", name="Stalls, row A, seat 1")).to_contain_text("£21.00")
    seats.get_by_label("Stalls, row A, seat 1").check()
    screenshot(page, "partial-cancel-1-pick")
    page.get_by_role("button", name="Cancel selected seats…").click()

    # Then she is asked first, with the seat and its refund named
    expect(page.get_by_role("heading", name="Cancel 1 of 2 seats?")).to_be_visible()
    expect(page.get_by_text("£21.00 of its price of £42.00 (50%) is refunded")).to_be_visible()
    screenshot(page, "partial-cancel-2-confirm")

    # When she confirms
    page.get_by_role("button", name="Yes, cancel this seat").click()
    expect(
        page.get_by_text("is cancelled and back on sale. £21.00 of its price will be refunded.")
    ).to_be_visible()
    drain()
    page.reload()

    # Then the booking goes on with one seat: the total, the refund and the timeline say so
    expect(page.locator(".booking")).to_have_attribute("data-status", "CONFIRMED")
    expect(page.locator("[data-cancelled-seat]")).to_contain_text("Stalls, row A, seat 1")
    expect(page.locator("[data-cancelled-seat]")).to_contain_text("Cancelled")
    expect(page.locator("#booking-total")).to_have_text("£42.00")
    expect(page.locator("#refund-amount")).to_have_text("Refund for the cancelled seats: £21.00 (refunded)")
    expect(page.locator(".ticket-card")).to_have_count(1)
    expect(page.locator(".ticket-card")).to_contain_text("Stalls, row A, seat 2")
    page.get_by_text("Activity").click()
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text(
        "Seats cancelled: cancelled 1 of 2 seats (Stalls, row A, seat 1) by the buyer; refunding 50%, 21.00 GBP"
    )
    expect(timeline).to_contain_text("Refund issued: refunded 21.00 GBP for the 1 cancelled seat")
    screenshot(page, "partial-cancel-3-done")
    assert page.js_errors == []

    # And behind the page: the seat is on sale again, only its ticket is refused at the door
    assert Booking.objects.get(pk=booking.pk).seat_ids == [kept]
    assert Seat.objects.get(pk=gone).status == SeatStatus.AVAILABLE
    assert Seat.objects.get(pk=kept).status == SeatStatus.RESERVED
    tickets = {ticket.seat_id: ticket.secret for ticket in Ticket.objects.filter(booking_id=booking.pk)}
    assert scan_redeem(event_id=str(event.pk), secret=tickets[gone], nonce="door:1").result == "revoked"
    assert scan_redeem(event_id=str(event.pk), secret=tickets[kept], nonce="door:2").result == "ok"
