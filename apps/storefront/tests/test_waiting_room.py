"""The waiting room pages: to the seat map and a confirmed booking, with JavaScript and without.

The browser test saves its screenshots under artifacts/screenshots/.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect
from redis.exceptions import RedisError

from apps.bookings.selectors import booking_list_for_user
from apps.catalog.services import event_change, event_queue_pause
from apps.storefront.tests.conftest import Browsing, Shop, drain, screenshot, seat_id, wait_until
from apps.storefront.tests.test_browser import log_in, pay, pick, settled
from apps.waitingroom import services as waitingroom
from apps.waitingroom.models import QueuedEvent

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


@pytest.fixture(autouse=True)
def _fresh_queues() -> Iterator[None]:
    yield
    with contextlib.suppress(RedisError, OSError):
        waitingroom.queue_clear()


def queued(shop: Shop, **knobs: Any) -> Any:
    event = shop.event(name="Flash Sale Strings")
    event = event_change(event_id=str(event.pk), changes={"queue_enabled": True, **knobs})
    drain()
    # A background relay (the saga fixture) may be the one applying it.
    wait_until(lambda: QueuedEvent.objects.filter(pk=event.pk, queue_enabled=True).exists())
    waitingroom._settings_cache.clear()
    return event


def test_without_javascript_a_buyer_refreshes_from_the_queue_to_a_booking(shop: Shop) -> None:
    event = queued(shop, queue_paused=True)
    buyer = shop.buyer("Barbara Liskov")
    client = Client()
    client.force_login(buyer)
    seat = seat_id(event, "Stalls", "A", 3)

    gated = client.get(f"/events/{event.pk}")
    refused = client.post(
        f"/events/{event.pk}/checkout",
        {"seat": [seat], "payment_method": "pm_card_visa", "token": uuid.uuid4().hex},
    )
    room = client.get(f"/events/{event.pk}/queue")
    joined = client.post(f"/events/{event.pk}/queue", {"action": "join"})
    waiting = client.get(joined["Location"]).content.decode()
    event_queue_pause(event_id=str(event.pk), paused=False)
    drain()
    waitingroom.queue_admit(event_id=str(event.pk))  # what beat does every two seconds
    admitted = client.get(f"/events/{event.pk}/queue")
    seat_map = client.get(admitted["Location"]).content.decode()
    booked = client.post(
        f"/events/{event.pk}/checkout",
        {"seat": [seat], "payment_method": "pm_card_visa", "token": uuid.uuid4().hex},
    )

    assert (gated.status_code, gated["Location"]) == (302, f"/events/{event.pk}/queue")
    assert refused["Location"] == f"/events/{event.pk}/queue"
    assert "Join the queue" in room.content.decode()
    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+"></noscript>', waiting)
    assert 'id="queue-position">1<' in waiting
    assert "<progress" in waiting
    assert "The queue is paused" in waiting
    assert admitted["Location"] == f"/events/{event.pk}"
    assert 'id="shopping-window"' in seat_map
    assert "data-deadline" in seat_map
    assert booked.status_code == 302
    assert booked["Location"].startswith("/bookings/")
    assert len(booking_list_for_user(user_id=str(buyer.pk))) == 1


@pytest.mark.browser
def test_a_buyer_waits_in_the_room_then_books_and_is_confirmed(
    shop: Shop, saga: Any, browsing: Browsing
) -> None:
    event = queued(shop, queue_paused=True, admit_per_minute=60)
    ahead, buyer = shop.buyer("Ada Lovelace"), shop.buyer("Grace Hopper")
    waitingroom.queue_join(event_id=str(event.pk), user_id=str(ahead.pk))
    page = browsing.session()
    log_in(page, buyer.email, next_path=f"/events/{event.pk}")

    # Sent to the waiting room, joins behind Ada while the queue is paused
    expect(page).to_have_url(re.compile(rf"/events/{event.pk}/queue$"))
    page.get_by_role("button", name="Join the queue").click()
    expect(page.locator("#queue-position")).to_have_text("2")
    expect(page.locator("#queue-ahead")).to_have_text("1 person is ahead of you.")
    expect(page.get_by_role("progressbar", name="Progress to the front")).to_be_visible()
    screenshot(page, "20-waiting-room")

    # Ada gives up her place and the queue resumes: the page moves on by itself to the seat map
    waitingroom.queue_leave(event_id=str(event.pk), user_id=str(ahead.pk))
    event_queue_pause(event_id=str(event.pk), paused=False)
    expect(page).to_have_url(re.compile(rf"/events/{event.pk}$"), timeout=20_000)
    expect(page.locator("#shopping-window")).to_contain_text("Your shopping window ends in")
    expect(page.locator("#seatmap")).to_have_attribute("data-ready", "true")
    screenshot(page, "21-admitted-seat-map")

    pick(page, "Stalls row A seat 4")
    pay(page, "pm_card_visa")
    settled(page, "CONFIRMED")
    expect(page.get_by_role("heading", name="You\u2019re going!")).to_be_visible()
    screenshot(page, "22-confirmed-after-the-queue")
    assert page.js_errors == []
