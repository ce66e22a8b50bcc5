"""Purchase limits at the door: seats per buyer per event, and unpaid bookings per buyer.

A buyer turned away for a limit gets ``409`` with nothing written and no seat kept from
anyone. The races run real clients on threads against the real services (PostgreSQL row
locks, Redis claims) and again on the embedded default (SQLite, the claim file).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from apps.bookings import services
from apps.bookings.models import ACTIVE, UNPAID, BookableEvent, Booking, BookingStatus
from apps.bookings.services import bookable_event_apply_snapshot, booking_cancel
from apps.bookings.tests.support import (
    ARENA,
    EVENT_ID,
    arena,
    book,
    claimable,
    client_for,
    error_of,
    snapshot,
)
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.schemas import EventCreated

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]
racing_db = pytest.mark.django_db(databases=["default", "documents"], transaction=True)

OTHER_EVENTS = ["1e9f2c4a-5b6d-4e7f-8a9b-0c1d2e3f4a51", "2f0a3d5b-6c7e-4f80-9bac-1d2e3f4a5b62"]


def turned_away(reason: str) -> float:
    return REGISTRY.get_sample_value("ticketflow_bookings_turned_away_total", {"reason": reason}) or 0.0


def active_seats(user: Any, event_id: str = EVENT_ID) -> int:
    booked = Booking.objects.filter(user_id=user.id, event_id=event_id, status__in=ACTIVE)
    return sum(len(seats) for seats in booked.values_list("seat_ids", flat=True))


def race(count: int, request: Callable[[int], Any]) -> list[Any]:
    """Run ``request(n)`` for every n below ``count``, each on its own thread, released at once."""
    barrier = threading.Barrier(count)

    def run(number: int) -> Any:
        try:
            barrier.wait(timeout=30)
            return request(number)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


# --- seats per buyer per event ------------------------------------------------------------------


def test_a_buyer_at_the_events_limit_is_answered_409_and_nothing_is_written() -> None:
    # Given the default limit (twice the 2 seats per booking) and a buyer who holds 4 seats
    seats = arena()
    ada, ada_user = client_for("ada@example.com")
    assert [book(ada, seats[0:2]).status_code, book(ada, seats[2:4]).status_code] == [202, 202]
    written = OutboxMessage.objects.using("default").count()
    refused = turned_away("purchase_limit_reached")

    # When she asks for one more
    response = book(ada, seats[4:5])

    # Then she is told why, and nothing exists for the request
    error = error_of(response)
    assert error["code"] == "purchase_limit_reached"
    assert error["details"] == {"limit": 4, "active": 4, "requested": 1}
    assert error["message"] == (
        "Each buyer may have at most 4 seats for this event and you already have 4: "
        "cancel one of your bookings to choose other seats."
    )
    assert Booking.objects.filter(user_id=ada_user.id).count() == 2
    assert OutboxMessage.objects.using("default").count() == written
    assert turned_away("purchase_limit_reached") == refused + 1
    # ...and the seat she asked for was never kept from anyone else.
    assert claimable(seats[4:5])
    bob, _ = client_for("bob@example.com")
    assert book(bob, seats[4:5]).status_code == 202


def test_the_organisers_limit_replaces_the_default_and_says_what_is_left() -> None:
    seats = arena(max_active_seats_per_buyer=3)
    ada, _ = client_for("ada@example.com")
    assert book(ada, seats[0:2]).status_code == 202

    error = error_of(book(ada, seats[2:4]))

    assert error["details"] == {"limit": 3, "active": 2, "requested": 2}
    assert error["message"].endswith("you already have 2: you can book 1 more seat.")
    assert book(ada, seats[2:3]).status_code == 202


def test_bookings_that_ended_stop_counting_and_other_events_do_not_count() -> None:
    seats = arena()
    other_seats = arena(OTHER_EVENTS[0])
    ada, ada_user = client_for("ada@example.com")
    first = book(ada, seats[0:2]).json()["id"]
    assert book(ada, seats[2:4]).status_code == 202
    assert book(ada, other_seats[0:2], event_id=OTHER_EVENTS[0]).status_code == 202
    assert error_of(book(ada, seats[4:5]))["code"] == "purchase_limit_reached"

    booking_cancel(booking_id=first, user_id=str(ada_user.id))

    assert book(ada, seats[4:6]).status_code == 202
    assert active_seats(ada_user) == 4
    assert error_of(book(ada, seats[6:7]))["details"]["active"] == 4
    # Failed and expired bookings free their place the same way, the moment their status changes.
    for status in (BookingStatus.FAILED, BookingStatus.EXPIRED):
        Booking.objects.filter(
            pk=Booking.objects.filter(user_id=ada_user.id, status__in=ACTIVE).first().pk
        ).update(status=status)
    assert book(ada, seats[6:8]).status_code == 202


def test_an_idempotent_retry_returns_the_booking_and_does_not_count_twice() -> None:
    seats = arena()
    ada, _ = client_for("ada@example.com")
    first = book(ada, seats[0:2], key="order-1")
    assert book(ada, seats[2:4], key="order-2").status_code == 202

    retry = book(ada, seats[0:2], key="order-1")

    assert (retry.status_code, retry["Idempotent-Replayed"]) == (202, "true")
    assert retry.json()["id"] == first.json()["id"]


def test_a_buyer_who_reaches_the_limit_while_claiming_is_refused_and_lets_the_seats_go(monkeypatch) -> None:
    # Given a buyer whose other request gets in between the first look and the locked count
    seats = arena()
    ada, ada_user = client_for("ada@example.com")
    assert book(ada, seats[0:2]).status_code == 202
    admit = services._admit

    def admit_while_another_gets_in(event: BookableEvent, **kwargs: Any) -> None:
        admit(event, **kwargs)
        monkeypatch.setattr(services, "_admit", admit)
        assert book(ada, seats[10:12]).status_code == 202

    monkeypatch.setattr(services, "_admit", admit_while_another_gets_in)

    # When her request's count runs under the lock
    error = error_of(book(ada, seats[2:4]))

    # Then it is refused, and the seats it had claimed are free for anyone
    assert error["details"] == {"limit": 4, "active": 4, "requested": 2}
    assert active_seats(ada_user) == 4
    assert claimable(seats[2:4])


# --- unpaid bookings across events --------------------------------------------------------------


def test_too_many_unpaid_bookings_across_events_are_refused_until_one_is_paid(settings) -> None:
    settings.MAX_UNPAID_BOOKINGS_PER_BUYER = 2
    seats = arena()
    other_seats = arena(OTHER_EVENTS[0])
    ada, ada_user = client_for("ada@example.com")
    assert book(ada, seats[0:1]).status_code == 202
    assert book(ada, other_seats[0:1], event_id=OTHER_EVENTS[0]).status_code == 202
    refused = turned_away("too_many_unpaid_bookings")

    error = error_of(book(ada, seats[1:2]))

    assert error["code"] == "too_many_unpaid_bookings"
    assert error["details"] == {"limit": 2, "unpaid": 2}
    assert "2 bookings waiting for payment" in error["message"]
    assert turned_away("too_many_unpaid_bookings") == refused + 1
    assert claimable(seats[1:2])
    # A paid booking is no longer a hold: the next one gets in.
    Booking.objects.filter(user_id=ada_user.id, event_id=OTHER_EVENTS[0]).update(
        status=BookingStatus.CONFIRMED
    )
    assert book(ada, seats[1:2]).status_code == 202


# --- the event's setting reaches bookings -------------------------------------------------------


def test_the_snapshot_carries_the_limit_and_an_older_snapshot_without_it_means_the_default() -> None:
    arena(max_active_seats_per_buyer=7, max_seats_per_booking=3)
    assert BookableEvent.objects.get(pk=EVENT_ID).active_seats_limit == 7

    older = snapshot(layout=ARENA, max_seats_per_booking=3, revision=2).model_dump(mode="json")
    del older["max_active_seats_per_buyer"]
    bookable_event_apply_snapshot(snapshot=EventCreated.model_validate(older))

    event = BookableEvent.objects.get(pk=EVENT_ID)
    assert (event.max_active_seats_per_buyer, event.active_seats_limit) == (None, 6)


# --- races --------------------------------------------------------------------------------------


@racing_db
def test_racing_requests_of_one_buyer_for_different_seats_never_pass_the_limit() -> None:
    # Given one buyer with 24 clients, each asking at the same instant for a seat nobody has
    seats = arena()
    clients = [client_for("hoarder@example.com")]
    clients += [(APIClient(), clients[0][1]) for _ in range(23)]
    for client, user in clients[1:]:
        client.force_authenticate(user)

    answers = race(24, lambda n: book(clients[n][0], [seats[n]]))

    # Then exactly the limit's worth got in, every other was told why, and no loser kept a seat
    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {202: 4, 409: 20}
    assert {error_of(a)["code"] for a in answers if a.status_code == 409} == {"purchase_limit_reached"}
    user = clients[0][1]
    assert active_seats(user) == 4
    assert OutboxMessage.objects.using("default").filter(topic="ticketflow.booking.initiated").count() == 4
    booked = {seat for seats_of in Booking.objects.values_list("seat_ids", flat=True) for seat in seats_of}
    assert claimable([seat for seat in seats[:24] if seat not in booked])


@racing_db
def test_racing_requests_across_events_never_pass_the_unpaid_cap(settings) -> None:
    settings.MAX_UNPAID_BOOKINGS_PER_BUYER = 3
    seats = {event_id: arena(event_id) for event_id in (EVENT_ID, *OTHER_EVENTS)}
    events = list(seats)
    client, user = client_for("hoarder@example.com")

    def one(number: int) -> Any:
        racer = APIClient()
        racer.force_authenticate(user)
        event_id = events[number % 3]
        return book(racer, [seats[event_id][number]], event_id=event_id)

    answers = race(18, one)

    assert Counter(answer.status_code for answer in answers) == {202: 3, 409: 15}
    assert Booking.objects.filter(user_id=user.id, status__in=UNPAID).count() == 3
    assert client is not None


@racing_db
def test_copies_of_one_idempotent_request_racing_at_the_limit_are_one_booking_not_refusals() -> None:
    # Given a buyer one booking below the limit, whose client sends the same request 8 times
    seats = arena()
    ada, user = client_for("ada@example.com")
    assert book(ada, seats[0:2]).status_code == 202

    def copy(_number: int) -> Any:
        racer = APIClient()
        racer.force_authenticate(user)
        return book(racer, seats[2:4], key="flaky-network")

    answers = race(8, copy)

    # Then every copy is answered with the one booking: copies that waited do not count it again
    assert [answer.status_code for answer in answers] == [202] * 8
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert active_seats(user) == 4
