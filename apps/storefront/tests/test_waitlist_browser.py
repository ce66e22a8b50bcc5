"""The waiting list in a real browser: a sold-out event, joining its list, the offer when two
seats come back, booking them through checkout, then cancelling one of the two, which goes
to the next buyer on the list.

Headless Chromium against the live server; the saga's events are applied with ``drain()``.
Screenshots of the list, the offer and the booking land under artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.bookings.models import Booking
from apps.bookings.services import Buyer, booking_cancel, booking_create
from apps.inventory.models import Seat, SeatStatus, WaitlistEntry
from apps.inventory.waitlist import Buyer as WaitingBuyer
from apps.inventory.waitlist import waitlist_join
from apps.storefront.tests.conftest import Browsing, Shop, drain, screenshot, seat_id
from apps.storefront.tests.test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

SMALL_HALL = "[Stalls] standard\nA: 1-4"


def buy(shop_buyer, event, seats: list[str]) -> str:
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(shop_buyer.pk), email=shop_buyer.email, name=shop_buyer.name),
        event_id=str(event.pk),
        seat_ids=seats,
        payment_method="pm_card_visa",
    )
    return str(booking.pk)


def test_a_buyer_joins_the_waiting_list_books_the_offer_then_cancels_one_seat_of_two(
    shop: Shop, browsing: Browsing
) -> None:
    event = shop.event(name="Sold Out Strings", layout=SMALL_HALL)
    seats = [seat_id(event, "Stalls", "A", n) for n in (1, 2, 3, 4)]
    first, second = shop.buyer("Cy First"), shop.buyer("Dee Second")
    buy(first, event, seats[:2])
    giving_back = buy(second, event, seats[2:])
    drain()
    ada = shop.buyer()

    page = browsing.session()
    log_in(page, ada.email, next_path=f"/events/{event.pk}")
    expect(page.get_by_text("This event is sold out.")).to_be_visible()
    page.locator("#waitlist-link").click()
    page.get_by_label("Seats").select_option("2")
    page.get_by_role("button", name="Join the waiting list").click()
    expect(page.get_by_text("You are on the waiting list.")).to_be_visible()
    expect(page.locator("#waitlist-position")).to_have_text("1")
    screenshot(page, "waitlist-joined")
    bea = shop.buyer("Bea Next")
    waitlist_join(
        event_id=str(event.pk),
        buyer=WaitingBuyer(user_id=str(bea.pk), email=bea.email, name=bea.name),
        quantity=1,
    )

    booking_cancel(booking_id=giving_back, user_id=str(second.pk))
    drain()
    page.reload()

    expect(page.locator("#waitlist-offer")).to_contain_text("Seats came back and are kept for you.")
    expect(page.get_by_label("Seats offered to you")).to_contain_text("Stalls, row A, seat 3")
    expect(page.get_by_label("Seats offered to you")).to_contain_text("Stalls, row A, seat 4")
    expect(page.locator("[role=timer]")).to_have_text(re.compile(r"^(29|30):\d\d$"))
    screenshot(page, "waitlist-offer")
    page.get_by_role("link", name="Book these seats").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    page.locator("input[name=payment_method][value=pm_card_visa]").check()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page).to_have_url(re.compile(r"/bookings/[0-9a-f-]{36}$"))
    drain()
    page.reload()

    expect(page.locator("#booking-live")).to_have_attribute("data-status", "CONFIRMED")
    booked = Booking.objects.get(user_id=ada.pk)
    assert sorted(booked.seat_ids) == sorted(seats[2:])
    screenshot(page, "waitlist-booked")

    page.locator("#cancel-seats-form").get_by_label("Stalls, row A, seat 3").check()
    page.get_by_role("button", name="Cancel selected seats…").click()
    expect(page.get_by_role("heading", name="Cancel 1 of 2 seats?")).to_be_visible()
    page.get_by_role("button", name="Yes, cancel this seat").click()
    drain()
    page.reload()

    expect(page.locator("[data-cancelled-seat]")).to_contain_text("Stalls, row A, seat 3")
    expect(page.locator("#booking-total")).to_have_text("£42.00")
    expect(page.locator(".ticket-card")).to_have_count(1)
    screenshot(page, "waitlist-cancelled-one")
    assert Booking.objects.get(pk=booked.pk).seat_ids == [seats[3]]
    # The seat given back went to the next buyer waiting, not back on sale.
    assert Seat.objects.get(pk=seats[2]).status == SeatStatus.OFFERED
    assert WaitlistEntry.objects.get(user_id=bea.pk).offer_seat_ids == [seats[2]]
    assert page.js_errors == []
