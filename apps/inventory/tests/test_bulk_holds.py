"""Holds decided in bulk (a consumer batch's run of ``booking.initiated``) answer as one at a time would."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from apps.inventory.models import Seat, SeatStatus
from apps.inventory.services import HoldRequest, seats_hold, seats_hold_many
from apps.inventory.tests.conftest import CUSTOMER, answers, new_id, publish, seat
from tests.support.envelopes import envelope
from ticketflow.messaging.dispatch import Incoming, Outcome, deliver_batch
from ticketflow.messaging.schemas import BookingInitiated
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

SEATS = [("Stalls", "A", n) for n in range(1, 5)] + [("Stalls", "B", 1), ("Stalls", "B", 2)]


def outcome(event_id: str, booking_id: str) -> tuple[Any, ...]:
    """What inventory answered one booking, in seat positions rather than ids (comparable across events)."""
    positions = {seat(event_id, *place): index for index, place in enumerate(SEATS)}
    locked = answers(Topic.SEATS_LOCKED, booking_id=booking_id)
    if locked:
        return ("locked", sorted(positions[s["seat_id"]] for s in locked[0]["seats"]))
    [failed] = answers(Topic.SEATS_LOCK_FAILED, booking_id=booking_id)
    return (
        "failed",
        failed["reason_code"],
        sorted(positions.get(s, -1) for s in failed["unavailable_seat_ids"]),
    )


def test_a_run_of_holds_answers_exactly_like_the_holds_one_by_one() -> None:
    one_by_one, in_bulk = new_id(), new_id()
    publish(one_by_one)
    publish(in_bulk)
    rng = random.Random(42)
    wishes = [rng.sample(range(len(SEATS)), rng.randint(1, 3)) for _ in range(12)]
    wishes.append([99])  # a seat that is not part of the event

    def seat_ids(event_id: str, wish: list[int]) -> list[str]:
        return [seat(event_id, *SEATS[i]) if i < len(SEATS) else str(uuid.uuid4()) for i in wish]

    singles = [new_id() for _ in wishes]
    for booking_id, wish in zip(singles, wishes, strict=True):
        seats_hold(booking_id=booking_id, event_id=one_by_one, seat_ids=seat_ids(one_by_one, wish))
    bulk = [new_id() for _ in wishes]
    holds = seats_hold_many(
        requests=[
            HoldRequest(booking_id=booking_id, event_id=in_bulk, seat_ids=seat_ids(in_bulk, wish))
            for booking_id, wish in zip(bulk, wishes, strict=True)
        ]
    )

    assert [outcome(in_bulk, b) for b in bulk] == [outcome(one_by_one, b) for b in singles]
    winners = {b: h for b, h in zip(bulk, holds, strict=True) if h is not None}
    assert 1 <= len(winners) < len(bulk)
    for seat_row in Seat.objects.filter(event_id=in_bulk, status=SeatStatus.LOCKED):
        assert winners[str(seat_row.booking_id)] == str(seat_row.hold_id)


def test_the_kernel_hands_a_batch_of_holds_to_the_bulk_handler(monkeypatch) -> None:
    event_id = new_id()
    publish(event_id)
    calls: list[int] = []
    import apps.inventory.services as services

    original = services.seats_hold_many

    def counted(**kwargs: Any) -> list[str | None]:
        calls.append(len(kwargs["requests"]))
        return original(**kwargs)

    monkeypatch.setattr(services, "seats_hold_many", counted)
    bookings = [new_id() for _ in range(5)]
    wanted = seat(event_id, *SEATS[0])
    batch = [
        Incoming(
            envelope(
                BookingInitiated(booking_id=b, event_id=event_id, seat_ids=[wanted], customer=CUSTOMER),
                aggregate_id=b,
            )
            .encode()
            .encode(),
            Topic.BOOKING_INITIATED,
            lambda *_: None,
        )
        for b in bookings
    ]

    outcomes = list(deliver_batch(batch, "inventory"))

    assert outcomes == [Outcome.APPLIED] * 5
    assert calls == [5]
    assert [outcome(event_id, b)[0] for b in bookings] == ["locked"] + ["failed"] * 4
