"""A saga event that is dead-lettered leaks nothing: the sweeps end the booking and free its seats.

``booking.initiated`` or ``seats.locked`` given up on leaves a booking PENDING and, for the
second, seats LOCKED with nobody to release them. The bookings sweep ends such a booking
FAILED (``timed_out``); inventory's sweep frees seats whose hold lapsed without a release;
replaying the dead letter afterwards only compensates (``seats.release``), through the
outbox, and never takes seats from a later buyer.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from apps.bookings import services as booking_services
from apps.bookings.models import Booking, BookingStatus
from apps.bookings.services import bookings_time_out_pending
from apps.inventory import services as inventory_services
from apps.inventory.models import Seat, SeatStatus
from apps.inventory.services import seat_holds_release_lapsed
from relay.engine import Relay
from tests.support.broker import ManualBroker
from tests.support.saga import OnSale, book
from ticketflow.messaging.dispatch import PermanentFailure
from ticketflow.messaging.models import DeadLetter, OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = pytest.mark.django_db(databases=["default", "documents"], transaction=True)


def broken(*_args: object, **_kwargs: object) -> None:
    raise PermanentFailure("a bug in this release")


def topics_of(booking_id: str) -> list[str]:
    rows = OutboxMessage.objects.using("default").filter(aggregate_id=booking_id).order_by("position")
    return list(rows.values_list("topic", flat=True))


def seat_states(seat_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    rows = Seat.objects.filter(id__in=seat_ids).values_list("id", "status", "booking_id")
    return {str(seat): (status, str(owner) if owner else None) for seat, status, owner in rows}


def past_the_pending_timeout() -> timezone.datetime:
    return timezone.now() + settings.BOOKING_PENDING_TIMEOUT + timedelta(seconds=1)


def past_the_hold_and_grace() -> timezone.datetime:
    # The concert holds seats for 10 minutes.
    return timezone.now() + timedelta(minutes=10) + settings.HOLD_SWEEP_GRACE + timedelta(seconds=1)


@pytest.mark.embedded
def test_a_dead_lettered_booking_initiated_times_out_and_its_replay_compensates(
    concert: OnSale, make_buyer, inprocess_relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = make_buyer("Ada")
    seats = concert.seat_ids[:2]
    # Given inventory dead-letters the booking's booking.initiated
    with monkeypatch.context() as patch:
        patch.setattr(inventory_services, "seats_hold", broken)
        patch.setattr(inventory_services, "seats_hold_many", broken)
        booking_id = book(ada, concert, seats)
        inprocess_relay.drain()
    [letter] = DeadLetter.objects.using("default").filter(topic=Topic.BOOKING_INITIATED)
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.PENDING

    # When the sweep runs past the PENDING timeout, twice
    ended = [bookings_time_out_pending(now=past_the_pending_timeout()) for _ in range(2)]

    # Then the booking failed once, and said so through the outbox
    assert ended == [1, 0]
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.failure_code) == (BookingStatus.FAILED, "timed_out")
    assert topics_of(booking_id) == [Topic.BOOKING_INITIATED, Topic.BOOKING_FAILED]
    inprocess_relay.drain()

    # And when the fixed inventory replays the dead letter, the hold it takes is given back
    call_command("replay", "--dead-letters", "--context", "inventory")
    inprocess_relay.drain()
    assert DeadLetter.objects.using("default").get(pk=letter.pk).redriven_at is not None
    assert seat_states(seats) == dict.fromkeys(seats, (SeatStatus.AVAILABLE, None))
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.FAILED
    assert topics_of(booking_id) == [
        Topic.BOOKING_INITIATED,
        Topic.BOOKING_FAILED,
        Topic.SEATS_LOCKED,
        Topic.SEATS_RELEASE,
    ]


@pytest.mark.embedded
def test_a_dead_lettered_seats_locked_leaks_no_seat_and_its_replay_takes_none_from_the_next_buyer(
    concert: OnSale, make_buyer, inprocess_relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada, bob = make_buyer("Ada"), make_buyer("Bob")
    seats = concert.seat_ids[:2]
    # Given bookings dead-letters the seats.locked of Ada's hold
    with monkeypatch.context() as patch:
        patch.setattr(booking_services, "booking_on_seats_locked", broken)
        ada_booking = book(ada, concert, seats)
        inprocess_relay.drain()
    assert DeadLetter.objects.using("default").filter(topic=Topic.SEATS_LOCKED).count() == 1
    assert seat_states(seats) == dict.fromkeys(seats, (SeatStatus.LOCKED, ada_booking))

    # When the bookings sweep and, past the hold and its grace, inventory's sweep run (twice)
    assert bookings_time_out_pending(now=past_the_pending_timeout()) == 1
    assert seat_holds_release_lapsed(now=timezone.now() + timedelta(minutes=10)) == 0  # within the grace
    released = [seat_holds_release_lapsed(now=past_the_hold_and_grace()) for _ in range(2)]
    inprocess_relay.drain()

    # Then the seats are on sale again, once, and the booking failed
    assert released == [2, 0]
    assert seat_states(seats) == dict.fromkeys(seats, (SeatStatus.AVAILABLE, None))
    assert Booking.objects.get(pk=ada_booking).status == BookingStatus.FAILED

    # And Bob can buy them; the replayed seats.locked afterwards releases only Ada's old hold
    bob_booking = book(bob, concert, seats)
    inprocess_relay.drain()
    assert Booking.objects.get(pk=bob_booking).status == BookingStatus.CONFIRMED
    call_command("replay", "--dead-letters", "--context", "bookings")
    inprocess_relay.drain()
    assert seat_states(seats) == dict.fromkeys(seats, (SeatStatus.RESERVED, bob_booking))
    assert Booking.objects.get(pk=ada_booking).status == BookingStatus.FAILED
    assert topics_of(ada_booking) == [
        Topic.BOOKING_INITIATED,
        Topic.SEATS_LOCKED,
        Topic.BOOKING_FAILED,
        Topic.SEATS_RELEASE,
    ]


@pytest.mark.embedded
def test_a_booking_answered_in_time_is_left_alone_by_both_sweeps(
    broker: ManualBroker, concert: OnSale, make_buyer
) -> None:
    booking_id = book(make_buyer("Ada"), concert, concert.seat_ids[:1])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])

    assert bookings_time_out_pending(now=past_the_pending_timeout()) == 0
    assert seat_holds_release_lapsed(now=timezone.now() + timedelta(minutes=5)) == 0
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.SEATS_LOCKED
    assert Seat.objects.get(pk=concert.seat_ids[0]).status == SeatStatus.LOCKED


@pytest.mark.services
def test_four_inventory_sweeps_racing_release_each_lapsed_seat_exactly_once(
    broker: ManualBroker, concert: OnSale, make_buyer
) -> None:
    fans = [make_buyer(f"Fan{i}") for i in range(len(concert.seat_ids))]
    for fan, seat in zip(fans, concert.seat_ids, strict=True):
        book(fan, concert, [seat])
    broker.settle(skip=[Topic.SEATS_LOCKED])  # every seats.locked lost
    assert Seat.objects.filter(event_id=concert.event_id, status=SeatStatus.LOCKED).count() == 10
    later = past_the_hold_and_grace()
    counts: list[int] = []
    start = threading.Barrier(4)

    def sweep() -> None:
        start.wait()
        try:
            counts.append(seat_holds_release_lapsed(now=later, limit=3))
            counts.append(seat_holds_release_lapsed(now=later))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 10
    assert set(Seat.objects.filter(event_id=concert.event_id).values_list("status", flat=True)) == {
        SeatStatus.AVAILABLE
    }
