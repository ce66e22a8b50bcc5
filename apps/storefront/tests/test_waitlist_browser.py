"""The waiting list in a real browser: a sold-out event, joining its list, the offer when two
seats come back, and booking them through checkout.

Headless Chromium against the live server; the saga's events are applied with ``drain()``.
Screenshots of the list, the offer and the booking land under artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from apps.bookings.models import Booking
from apps.bookings.services import Buyer, booking_cancel, booking_create
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


def test_a_buyer_joins_the_waiting_list_gets_an_offer_and_books_it(shop: Shop, browsing: Browsing) -> None:
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
