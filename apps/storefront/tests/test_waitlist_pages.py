"""The waiting-list page without a browser: who may see it, and how refusals and offers read."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.bookings.services import Buyer, booking_cancel, booking_create
from apps.storefront.tests.conftest import Shop, drain, seat_id

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

ONE_ROW = "[Stalls] standard\nA: 1-2"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sell_out(shop: Shop, event) -> tuple[object, str]:
    holder = shop.buyer("Cy Holder")
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(holder.pk), email=holder.email, name=holder.name),
        event_id=str(event.pk),
        seat_ids=[seat_id(event, "Stalls", "A", n) for n in (1, 2)],
        payment_method="pm_card_visa",
    )
    drain()
    return holder, str(booking.pk)


def test_the_page_asks_visitors_to_sign_in_and_sends_buyers_to_open_seats(shop: Shop) -> None:
    event = shop.event(layout=ONE_ROW)
    url = f"/events/{event.pk}/waitlist"

    assert Client().get(url).status_code == 302
    assert (
        signed_in(shop.buyer()).get("/events/00000000-0000-0000-0000-000000000000/waitlist").status_code
        == 404
    )
    page = signed_in(shop.buyer()).get(url)
    assert page.status_code == 200
    assert "2 seats are on sale right now" in page.content.decode()
    joined = signed_in(shop.buyer()).post(url, {"action": "join", "quantity": "1"}, follow=True)
    assert (
        "2 seats are still on sale: book them instead of joining the waiting list." in joined.content.decode()
    )


def test_a_sold_out_event_links_to_its_list_and_an_offer_links_to_checkout_with_its_token(shop: Shop) -> None:
    event = shop.event(layout=ONE_ROW)
    holder, booking_id = sell_out(shop, event)
    ada = signed_in(shop.buyer())
    url = f"/events/{event.pk}/waitlist"

    assert url in ada.get(f"/events/{event.pk}").content.decode()
    refused = ada.post(url, {"action": "join", "quantity": "9"}, follow=True).content.decode()
    assert "Ask for between 1 and 4 seats." in refused
    joined = ada.post(url, {"action": "join", "quantity": "2"}, follow=True).content.decode()
    assert 'You are number <strong id="waitlist-position">1</strong> on the list, for 2 seats.' in joined
    twice = ada.post(url, {"action": "join", "quantity": "1"}, follow=True).content.decode()
    assert "You are already on this event&#x27;s waiting list." in twice

    booking_cancel(booking_id=booking_id, user_id=str(holder.pk))
    drain()
    offer = ada.get(url).content.decode()

    assert "Seats came back and are kept for you." in offer
    assert f"/events/{event.pk}/checkout?seat=" in offer
    assert "&amp;offer=" in offer
    left = ada.post(url, {"action": "leave"}, follow=True).content.decode()
    assert "You have left the waiting list." in left
