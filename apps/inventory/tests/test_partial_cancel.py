"""A partial cancellation (``booking.seats-cancelled``) frees exactly its seats; the booking lives on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.inventory.models import CancelledBooking, Seat, SeatStatus
from apps.inventory.services import SeatsNotConfirmedYet, seats_confirm, seats_hold
from apps.inventory.tests.conftest import CUSTOMER, deliver, new_id, publish, seat
from ticketflow import seat_claims
from ticketflow.messaging.dispatch import Outcome
from ticketflow.messaging.schemas import BookingSeatsCancelled, SeatLabel, SeatsConfirm

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def seats_cancelled(*, booking_id: str, event_id: str, seat_ids: list[str]) -> BookingSeatsCancelled:
    return BookingSeatsCancelled(
        booking_id=booking_id,
        reference="TF-ABC123",
        event_id=event_id,
        event_name="Jazz Night",
        event_starts_at=timezone.now() + timedelta(days=10),
        venue_name="Apollo",
        customer=CUSTOMER,
        cancellation_id=new_id(),
        seat_ids=seat_ids,
        seats=[
            SeatLabel(seat_id=seat_id, section="Stalls", row="A", number=n, price_cents=4500)
            for n, seat_id in enumerate(seat_ids, 1)
        ],
        refund_percent=100,
        refund_cents=4500 * len(seat_ids),
        currency="EUR",
    )


def owners(event_id: str, seat_ids: list[str]) -> list[tuple[str, str | None]]:
    by_id = {str(s.id): s for s in Seat.objects.filter(event_id=event_id, id__in=seat_ids)}
    return [(by_id[i].status, str(by_id[i].booking_id) if by_id[i].booking_id else None) for i in seat_ids]


@pytest.fixture
def sold(event_id: str) -> tuple[str, str, list[str]]:
    """A booking's three seats, held and sold (its ``seats.confirm`` applied)."""
    publish(event_id)
    booking = new_id()
    seats = [seat(event_id, "Stalls", "A", n) for n in (1, 2, 3)]
    hold_id = seats_hold(booking_id=booking, event_id=event_id, seat_ids=seats)
    seats_confirm(booking_id=booking, event_id=event_id, hold_id=hold_id, seat_ids=seats)
    return event_id, booking, seats


def test_exactly_the_cancelled_seats_go_back_on_sale_and_the_booking_is_not_marked_cancelled(sold) -> None:
    event_id, booking, seats = sold

    first = deliver(
        seats_cancelled(booking_id=booking, event_id=event_id, seat_ids=seats[:2]), aggregate_id=booking
    )
    # A copy that gets past the inbox (a replay) finds nothing of the booking's left to free.
    again = deliver(
        seats_cancelled(booking_id=booking, event_id=event_id, seat_ids=seats[:2]), aggregate_id=booking
    )

    assert (first, again) == (Outcome.APPLIED, Outcome.APPLIED)
    assert owners(event_id, seats) == [
        (SeatStatus.AVAILABLE, None),
        (SeatStatus.AVAILABLE, None),
        (SeatStatus.RESERVED, booking),
    ]
    assert not CancelledBooking.objects.filter(pk=booking).exists()
    # The freed seats can be bought at once: their sold markers at the door went with them.
    assert seat_claims.claim(event_id=event_id, seat_ids=seats[:2], owner=new_id(), ttl_seconds=5).granted
    assert seats_hold(booking_id=new_id(), event_id=event_id, seat_ids=seats[:2]) is not None


def test_a_seat_sold_to_someone_else_since_is_left_alone(sold) -> None:
    event_id, booking, seats = sold
    deliver(seats_cancelled(booking_id=booking, event_id=event_id, seat_ids=seats[:1]), aggregate_id=booking)
    other = new_id()
    hold_id = seats_hold(booking_id=other, event_id=event_id, seat_ids=seats[:1])
    seats_confirm(booking_id=other, event_id=event_id, hold_id=hold_id, seat_ids=seats[:1])

    deliver(seats_cancelled(booking_id=booking, event_id=event_id, seat_ids=seats[:1]), aggregate_id=booking)

    assert owners(event_id, seats[:1]) == [(SeatStatus.RESERVED, other)]


def test_a_cancellation_ahead_of_its_confirmation_waits_for_it(event_id: str) -> None:
    # Given seats still only held: the booking's seats.confirm has not been applied yet
    publish(event_id)
    booking = new_id()
    seats = [seat(event_id, "Stalls", "A", n) for n in (1, 2)]
    hold_id = seats_hold(booking_id=booking, event_id=event_id, seat_ids=seats)

    # When the partial cancellation overtakes it, it fails (the kernel retries it) and changes nothing
    with pytest.raises(SeatsNotConfirmedYet):
        deliver(
            seats_cancelled(booking_id=booking, event_id=event_id, seat_ids=seats[:1]), aggregate_id=booking
        )
    assert owners(event_id, seats) == [(SeatStatus.LOCKED, booking)] * 2

    # Then once the confirmation is applied, the retry frees the seat
    deliver(
        SeatsConfirm(booking_id=booking, event_id=event_id, hold_id=hold_id, seat_ids=seats),
        aggregate_id=booking,
    )
    retried = deliver(
        seats_cancelled(booking_id=booking, event_id=event_id, seat_ids=seats[:1]), aggregate_id=booking
    )
    assert retried == Outcome.APPLIED
    assert owners(event_id, seats) == [(SeatStatus.AVAILABLE, None), (SeatStatus.RESERVED, booking)]
