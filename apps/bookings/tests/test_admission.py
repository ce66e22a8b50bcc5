"""Admission at the door and the long poll: losers answered at once, outcomes without polling.

These run on the real services (Redis claims, Redis announcements, PostgreSQL) and again on
the embedded default (the shared SQLite claim file, database checks).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from rest_framework.test import APIClient

from apps.bookings.models import BookableEvent, Booking, BookingStatus
from apps.bookings.services import booking_cancel
from apps.bookings.tests.support import EVENT_ID, SEATS, client_for
from ticketflow import seat_claims
from ticketflow.messaging.models import OutboxMessage

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def book(client: APIClient, seats: list[str]):
    return client.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": seats, "payment_method": "pm_card_visa"},
        format="json",
    )


def test_a_loser_is_answered_409_with_the_taken_seats_and_nothing_is_written(
    on_sale: BookableEvent,
) -> None:
    ada, _ = client_for("ada@example.com")
    bob, bob_user = client_for("bob@example.com")
    winner = book(ada, SEATS[:2])
    written = OutboxMessage.objects.using("default").count()

    loser = book(bob, SEATS[1:3])

    assert (winner.status_code, loser.status_code) == (202, 409)
    assert winner["Retry-After"] == "1"
    error = loser.json()["error"]
    assert error["code"] == "seats_unavailable"
    assert error["details"] == {"unavailable_seat_ids": [SEATS[1]]}
    assert "someone else got there first" in error["message"]
    assert not Booking.objects.filter(user_id=bob_user.id).exists()
    assert OutboxMessage.objects.using("default").count() == written
    # All or nothing: the free seat Bob asked for was not kept from anyone.
    assert book(bob, SEATS[2:3]).status_code == 202


def test_the_same_idempotent_request_racing_itself_is_one_booking_not_a_loser(
    on_sale: BookableEvent,
) -> None:
    ada, _ = client_for("ada@example.com")

    first = ada.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": "pm_card_visa"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    # A retry whose first copy is still in flight finds the claim its own, not someone else's.
    claim = seat_claims.claim(event_id=EVENT_ID, seat_ids=SEATS[:1], owner=first.json()["id"], ttl_seconds=60)

    assert first.status_code == 202
    assert claim.granted


def test_claims_are_released_when_the_booking_ends_and_sold_seats_stay_refused(
    on_sale: BookableEvent,
) -> None:
    ada, ada_user = client_for("ada@example.com")
    bob, _ = client_for("bob@example.com")
    booking_id = book(ada, SEATS[:1]).json()["id"]
    other = seat_claims.claim(event_id=EVENT_ID, seat_ids=SEATS[:1], owner="someone", ttl_seconds=60)
    assert other.taken == SEATS[:1]

    # Inventory drops the claims of a booking that ends (here: what its consumer does on cancel).
    booking_cancel(booking_id=booking_id, user_id=str(ada_user.id))
    seat_claims.release(event_id=EVENT_ID, seat_ids=SEATS[:1], owner=booking_id)
    assert book(bob, SEATS[:1]).status_code == 202

    # A sold marker outlives the hold, and only its own booking's release removes it.
    seat_claims.mark_sold(event_id=EVENT_ID, seat_ids=SEATS[3:4], owner="sold-one", ttl_seconds=3600)
    assert book(bob, SEATS[3:4]).status_code == 409
    seat_claims.release(event_id=EVENT_ID, seat_ids=SEATS[3:4], owner="another")
    assert book(bob, SEATS[3:4]).status_code == 409
    seat_claims.release(event_id=EVENT_ID, seat_ids=SEATS[3:4], owner="sold-one")
    assert book(bob, SEATS[3:4]).status_code == 202


def test_a_claim_whose_saga_never_arrives_expires_by_itself(on_sale: BookableEvent) -> None:
    assert seat_claims.claim(event_id=EVENT_ID, seat_ids=SEATS[:1], owner="lost", ttl_seconds=0.3).granted
    assert seat_claims.claim(event_id=EVENT_ID, seat_ids=SEATS[:1], owner="next", ttl_seconds=60).taken

    time.sleep(0.5)

    assert seat_claims.claim(event_id=EVENT_ID, seat_ids=SEATS[:1], owner="next", ttl_seconds=60).granted


def test_when_the_claim_store_is_down_the_door_steps_aside(on_sale: BookableEvent, monkeypatch) -> None:
    def unreachable() -> object:
        raise ConnectionError("claim store unreachable")

    monkeypatch.setattr(seat_claims, "_store", unreachable)
    ada, _ = client_for("ada@example.com")
    bob, _ = client_for("bob@example.com")

    # Both get in: inventory's row locks decide between them, as without the door.
    assert (book(ada, SEATS[:1]).status_code, book(bob, SEATS[:1]).status_code) == (202, 202)


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_racing_buyers_get_each_seat_once_at_the_door(on_sale: BookableEvent) -> None:
    clients = [client_for(f"buyer{n}@example.com")[0] for n in range(24)]
    barrier = threading.Barrier(len(clients))

    def buy(number: int) -> int:
        try:
            barrier.wait(timeout=30)
            return book(clients[number], [SEATS[number % 4]]).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(len(clients)) as pool:
        answers = Counter(pool.map(buy, range(len(clients))))

    assert answers == {202: 4, 409: 20}
    booked = Booking.objects.values_list("seat_ids", flat=True)
    assert sorted(seat for seats in booked for seat in seats) == sorted(SEATS[:4])


# --- the long poll --------------------------------------------------------------------------


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_a_long_poll_answers_as_soon_as_the_status_changes(on_sale: BookableEvent) -> None:
    ada, ada_user = client_for("ada@example.com")
    booking_id = book(ada, SEATS[:1]).json()["id"]

    def cancel_soon() -> None:
        time.sleep(0.4)
        try:
            booking_cancel(booking_id=booking_id, user_id=str(ada_user.id))
        finally:
            connections.close_all()

    canceller = threading.Thread(target=cancel_soon)
    began = time.monotonic()
    canceller.start()
    response = ada.get(f"/api/bookings/{booking_id}", {"wait": 10, "status": "PENDING"})
    elapsed = time.monotonic() - began
    canceller.join()

    assert response.status_code == 200
    assert response.json()["status"] == BookingStatus.CANCELLED
    assert 0.3 < elapsed < 3, f"answered after {elapsed:.2f}s"


def test_a_long_poll_with_nothing_new_answers_after_the_wait(on_sale: BookableEvent) -> None:
    ada, _ = client_for("ada@example.com")
    booking_id = book(ada, SEATS[:1]).json()["id"]

    began = time.monotonic()
    response = ada.get(f"/api/bookings/{booking_id}", {"wait": 1, "status": "PENDING"})
    elapsed = time.monotonic() - began

    assert response.status_code == 200
    assert response.json()["status"] == BookingStatus.PENDING
    assert 0.9 < elapsed < 3


def test_a_long_poll_for_a_status_already_left_answers_at_once(on_sale: BookableEvent) -> None:
    ada, _ = client_for("ada@example.com")
    booking_id = book(ada, SEATS[:1]).json()["id"]

    began = time.monotonic()
    response = ada.get(f"/api/bookings/{booking_id}", {"wait": 20, "status": "SEATS_LOCKED"})

    assert response.json()["status"] == BookingStatus.PENDING
    assert time.monotonic() - began < 1


@pytest.mark.parametrize("wait", ["26", "-1", "soon", "nan"])
def test_a_wait_out_of_range_is_a_clear_400(on_sale: BookableEvent, wait: str) -> None:
    ada, _ = client_for("ada@example.com")
    booking_id = book(ada, SEATS[:1]).json()["id"]

    response = ada.get(f"/api/bookings/{booking_id}", {"wait": wait, "status": "PENDING"})

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"fields": {"wait": ["0 to 25"]}}


def test_a_long_poll_on_someone_elses_booking_is_404_without_waiting(on_sale: BookableEvent) -> None:
    ada, _ = client_for("ada@example.com")
    bob, _ = client_for("bob@example.com")
    booking_id = book(ada, SEATS[:1]).json()["id"]

    began = time.monotonic()
    response = bob.get(f"/api/bookings/{booking_id}", {"wait": 5, "status": "PENDING"})

    assert response.status_code == 404
    assert time.monotonic() - began < 1
