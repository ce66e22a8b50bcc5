"""The refund policy on the checkout and booking pages, and what a cancellation there refunds."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.selectors import booking_get
from apps.catalog.services import event_change
from apps.storefront.tests.conftest import Shop, drain, seat_id
from apps.storefront.tests.test_pages import booking_of, checkout, saga_db, signed_in, text

pytestmark = pytest.mark.embedded

POLICY = [{"hours_before": 168, "percent": 100}, {"hours_before": 48, "percent": 50}]
LONDON = zoneinfo.ZoneInfo("Europe/London")


def with_policy(shop: Shop, *, days: int):
    event = shop.event(days=days)
    event = event_change(event_id=str(event.pk), changes={"refund_policy": POLICY})
    drain()
    return event


def deadline(event, hours: int) -> str:
    return f"{timezone.localtime(event.starts_at - timedelta(hours=hours), LONDON):%-d %b %Y, %H:%M}"


@saga_db
def test_checkout_shows_the_refund_policy_in_local_time(shop: Shop) -> None:
    event = with_policy(shop, days=10)
    client = signed_in(shop.buyer())

    body = text(client.get(f"/events/{event.pk}/checkout", {"seat": [seat_id(event, "Stalls", "B", 1)]}))

    assert (
        f"<li>Full refund if you cancel by {deadline(event, 168)}.</li>"
        f"<li>50% refund if you cancel by {deadline(event, 48)}.</li>"
        f"<li>No refund if you cancel after {deadline(event, 48)}.</li>"
    ) in body


@saga_db
def test_an_event_without_steps_promises_a_full_refund_until_the_start(shop: Shop) -> None:
    event = shop.event()
    client = signed_in(shop.buyer())

    body = text(client.get(f"/events/{event.pk}/checkout", {"seat": [seat_id(event, "Stalls", "B", 1)]}))

    assert "<li>Full refund if you cancel before the event starts.</li>" in body


@saga_db
def test_cancelling_on_the_booking_page_refunds_the_policy_share(shop: Shop) -> None:
    # Given a paid booking four days before the start: the 50% step
    event = with_policy(shop, days=4)
    buyer = shop.buyer()
    client = signed_in(buyer)
    booking_id = booking_of(checkout(client, event, [seat_id(event, "Stalls", "A", 4)]))
    drain()
    booking = booking_get(booking_id=booking_id, user_id=str(buyer.pk))
    half = booking.total_cents // 2
    page = text(client.get(f"/bookings/{booking_id}"))

    # When the buyer asks to cancel, then confirms
    confirm = text(client.get(f"/bookings/{booking_id}/cancel"))
    cancelled = text(client.post(f"/bookings/{booking_id}/cancel", follow=True))
    drain()

    # Then each page names the half that comes back
    amount = f"£{half / 100:,.2f}"
    assert f"<li>50% refund if you cancel by {deadline(event, 48)}.</li>" in page
    assert f"under the event's refund policy {amount} of your payment of" in confirm
    assert (
        f"is cancelled and its seats are back on sale. {amount} of your payment will be refunded."
        in cancelled
    )
    assert f"Refund for the cancellation: <strong>{amount}</strong>" in cancelled
    after = booking_get(booking_id=booking_id, user_id=str(buyer.pk))
    assert (after.status, after.refund_cents, after.refund_state) == ("CANCELLED", half, "REFUNDED")
