"""Scalping through the storefront: the checkout meets the API's purchase limits and throttle.

A buyer who hoards through ``POST /api/bookings`` and then switches to the checkout page (or
the other way round) meets the same per-event seat limit and the same ``booking`` rate
counter, one per account, and the page says why with the order still on it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.bookings.selectors import booking_list_for_user
from apps.storefront.tests.conftest import Shop, seat_id
from apps.storefront.tests.test_pages import booking_of, checkout, saga_db, signed_in, text

pytestmark = [pytest.mark.embedded, saga_db]


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def api_book(client: APIClient, event: Any, seats: list[str]) -> Any:
    return client.post(
        "/api/bookings",
        {"event_id": str(event.pk), "seat_ids": seats, "payment_method": "pm_card_visa"},
        format="json",
    )


def stalls(event: Any, *numbers: int) -> list[str]:
    return [seat_id(event, "Stalls", "A", number) for number in numbers]


def assert_order_kept(response: Any, event: Any, seats: list[str]) -> None:
    """The page shows the order as it was posted: the seats, ready to pay again."""
    body = text(response)
    for number, seat in enumerate(seats, start=7):
        assert f'name="seat" value="{seat}"' in body
        assert f"Stalls, row A, seat {number}" in body
    assert 'name="payment_method" value="pm_card_visa" checked' in body


def test_hoarding_through_the_api_then_the_checkout_is_refused_on_both(shop: Shop) -> None:
    # Given an event allowing 2 seats per booking (so 4 per buyer) and a buyer who took 4 by API
    event = shop.event(max_seats=2)
    hoarder = shop.buyer("Sam Scalper")
    api = api_for(hoarder)
    assert api_book(api, event, stalls(event, 1, 2)).status_code == 202
    assert api_book(api, event, stalls(event, 3, 4)).status_code == 202

    # When the API refuses the next one and the buyer tries the storefront instead
    refused = api_book(api, event, stalls(event, 5))
    page = checkout(signed_in(hoarder), event, stalls(event, 7, 8))

    # Then both refuse it for the same reason, and the page keeps the order
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "purchase_limit_reached"
    assert refused.json()["error"]["details"] == {"limit": 4, "active": 4, "requested": 1}
    assert page.status_code == 409
    assert (
        "Each buyer may have at most 4 seats for this event and you already have 4: "
        "cancel one of your bookings to choose other seats." in text(page)
    )
    assert 'href="/bookings">See My bookings</a>' in text(page)
    assert_order_kept(page, event, stalls(event, 7, 8))
    assert booking_list_for_user(user_id=str(hoarder.pk)).count() == 2


def test_hoarding_through_the_checkout_then_the_api_is_refused_on_both(shop: Shop) -> None:
    event = shop.event(max_seats=2)
    hoarder = shop.buyer("Sam Scalper")
    page = signed_in(hoarder)
    booking_of(checkout(page, event, stalls(event, 1, 2)))
    booking_of(checkout(page, event, stalls(event, 3)))

    over = checkout(page, event, stalls(event, 7, 8))
    api = api_book(api_for(hoarder), event, stalls(event, 5, 6))

    assert over.status_code == 409
    assert "you already have 3: you can book 1 more seat." in text(over)
    assert_order_kept(over, event, stalls(event, 7, 8))
    assert api.status_code == 409
    assert api.json()["error"]["details"] == {"limit": 4, "active": 3, "requested": 2}
    # One more seat is still within the limit, on either channel.
    booking_of(checkout(page, event, stalls(event, 7)))
    assert booking_list_for_user(user_id=str(hoarder.pk)).count() == 3


def test_the_checkout_counts_against_the_apis_booking_throttle_one_counter_per_account(
    shop: Shop, settings: Any
) -> None:
    # Given a booking rate of 3 a minute, and a buyer who used 2 of them through the API
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "booking": "3/m"}
    event = shop.event()
    buyer = shop.buyer("Sam Scalper")
    api = api_for(buyer)
    assert api_book(api, event, stalls(event, 1)).status_code == 202
    assert api_book(api, event, stalls(event, 2)).status_code == 202
    page = signed_in(buyer)
    booking_of(checkout(page, event, stalls(event, 3)))

    # When the buyer presses Pay once more
    throttled = checkout(page, event, stalls(event, 7, 8), token=uuid.uuid4().hex)

    # Then the page answers 429 with Retry-After, keeps the order, and books nothing
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert "You are placing bookings faster than we allow. Your seats are still selected" in text(throttled)
    assert_order_kept(throttled, event, stalls(event, 7, 8))
    assert booking_list_for_user(user_id=str(buyer.pk)).count() == 3
    # ...the API shares the counter, and another buyer has a counter of their own.
    assert api_book(api, event, stalls(event, 9)).status_code == 429
    booking_of(checkout(signed_in(shop.buyer("Ada Lovelace")), event, stalls(event, 9)))


def test_looking_at_the_checkout_does_not_count_against_the_throttle(shop: Shop, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "booking": "1/m"}
    event = shop.event()
    page: Client = signed_in(shop.buyer())

    for _ in range(3):
        assert page.get(f"/events/{event.pk}/checkout", {"seat": stalls(event, 1)}).status_code == 200

    booking_of(checkout(page, event, stalls(event, 1)))
