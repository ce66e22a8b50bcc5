"""Holding, releasing, selling and freeing seats: each hold has its own id, and late or stale
messages never take seats from the hold they do not name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.inventory.models import CancelledBooking, Seat, SeatStatus
from apps.inventory.selectors import seat_map
from apps.inventory.services import booking_seats_cancel, seats_confirm, seats_hold, seats_release
from apps.inventory.tests.conftest import (
    CUSTOMER,
    answers,
    cancelled,
    deliver,
    initiate,
    new_id,
    publish,
    seat,
)
from tests.support.envelopes import envelope
from ticketflow import seat_claims
from ticketflow.messaging import dispatch
from ticketflow.messaging.dispatch import Outcome, PermanentFailure
from ticketflow.messaging.schemas import BookingInitiated, SeatsConfirm, SeatsReacquire, SeatsRelease
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def states(event_id: str, seat_ids: list[str]) -> list[tuple[str, str | None, str | None]]:
    """(status, booking id, hold id) of each seat, in the order asked."""
    by_id = {str(s.id): s for s in Seat.objects.filter(event_id=event_id, id__in=seat_ids)}
    return [
        (
            by_id[i].status,
            str(by_id[i].booking_id) if by_id[i].booking_id else None,
            str(by_id[i].hold_id) if by_id[i].hold_id else None,
        )
        for i in seat_ids
    ]


@pytest.fixture
def on_sale(event_id: str) -> str:
    publish(event_id)
    return event_id


# --- holding -----------------------------------------------------------------------------------


def test_a_hold_locks_the_seats_and_says_so(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "B", 2), seat(on_sale, "Stalls", "A", 1)]
    before = timezone.now()

    assert initiate(booking_id=booking, event_id=on_sale, seat_ids=wanted) == Outcome.APPLIED

    [locked] = answers(Topic.SEATS_LOCKED, booking_id=booking)
    hold_id = locked["hold_id"]
    assert states(on_sale, wanted) == [(SeatStatus.LOCKED, booking, hold_id)] * 2
    assert (locked["booking_id"], locked["event_id"], locked["total_cents"], locked["currency"]) == (
        booking,
        on_sale,
        12400,
        "EUR",
    )
    assert sorted(
        (s["section"], s["row"], s["number"], s["category"], s["price_cents"]) for s in locked["seats"]
    ) == [
        ("Stalls", "A", 1, "standard", 4500),
        ("Stalls", "B", 2, "premium", 7900),
    ]
    expiry = Seat.objects.get(pk=wanted[0]).hold_expires_at
    assert before + timedelta(minutes=10) <= expiry <= timezone.now() + timedelta(minutes=10)
    assert locked["hold_expires_at"].startswith(expiry.isoformat()[:19])
    assert answers(Topic.SEATS_LOCK_FAILED) == []


def test_a_seat_someone_holds_fails_the_whole_request(on_sale: str) -> None:
    first, second = new_id(), new_id()
    taken, free = seat(on_sale, "Stalls", "A", 1), seat(on_sale, "Stalls", "A", 2)
    seats_hold(booking_id=first, event_id=on_sale, seat_ids=[taken])

    hold = seats_hold(booking_id=second, event_id=on_sale, seat_ids=[free, taken])

    assert hold is None
    assert answers(Topic.SEATS_LOCK_FAILED, booking_id=second) == [
        {
            "booking_id": second,
            "event_id": on_sale,
            "reason_code": "seats_unavailable",
            "reason": "Sorry, someone else got there first: Stalls A1 is no longer available.",
            "unavailable_seat_ids": [taken],
        }
    ]
    assert states(on_sale, [taken, free])[1] == (SeatStatus.AVAILABLE, None, None)
    # The loser's Redis claim on the free seat is gone: the next buyer is not turned away.
    assert seat_claims.claim(event_id=on_sale, seat_ids=[free], owner=new_id(), ttl_seconds=60).granted


def test_several_taken_seats_are_named_in_order(on_sale: str) -> None:
    a3, a1 = seat(on_sale, "Stalls", "A", 3), seat(on_sale, "Stalls", "A", 1)
    seats_hold(booking_id=new_id(), event_id=on_sale, seat_ids=[a3, a1])
    loser = new_id()

    seats_hold(booking_id=loser, event_id=on_sale, seat_ids=[a3, a1])

    [failed] = answers(Topic.SEATS_LOCK_FAILED, booking_id=loser)
    assert (
        failed["reason"]
        == "Sorry, someone else got there first: Stalls A1, Stalls A3 are no longer available."
    )
    assert failed["unavailable_seat_ids"] == sorted([a1, a3])


def test_seats_that_are_not_part_of_the_event_fail_the_request(on_sale: str) -> None:
    booking, stranger = new_id(), new_id()

    seats_hold(booking_id=booking, event_id=on_sale, seat_ids=[seat(on_sale, "Stalls", "A", 1), stranger])

    [failed] = answers(Topic.SEATS_LOCK_FAILED, booking_id=booking)
    assert (failed["reason_code"], failed["unavailable_seat_ids"]) == ("unknown_seats", [stranger])
    assert not Seat.objects.exclude(status=SeatStatus.AVAILABLE).exists()


@pytest.mark.parametrize(
    ("terms", "code", "reason"),
    [
        ({"status": "sold_out"}, "not_on_sale", "Tickets for this event are not on sale right now."),
        (
            {"sale_starts_at": timezone.now() + timedelta(days=1)},
            "not_on_sale",
            "Tickets for this event are not on sale right now.",
        ),
        (
            {
                "sale_ends_at": timezone.now() - timedelta(minutes=1),
                "sale_starts_at": timezone.now() - timedelta(days=1),
            },
            "not_on_sale",
            "Tickets for this event are not on sale right now.",
        ),
    ],
    ids=["sold out", "sales not started", "sales over"],
)
def test_no_hold_while_the_event_is_not_on_sale(
    event_id: str, terms: dict[str, Any], code: str, reason: str
) -> None:
    publish(event_id, **terms)
    booking = new_id()

    assert (
        seats_hold(booking_id=booking, event_id=event_id, seat_ids=[seat(event_id, "Stalls", "A", 1)]) is None
    )

    [failed] = answers(Topic.SEATS_LOCK_FAILED, booking_id=booking)
    assert (failed["reason_code"], failed["reason"]) == (code, reason)


def test_no_hold_for_an_event_inventory_does_not_know(event_id: str) -> None:
    booking = new_id()

    seats_hold(booking_id=booking, event_id=event_id, seat_ids=[seat(event_id, "Stalls", "A", 1)])

    [failed] = answers(Topic.SEATS_LOCK_FAILED, booking_id=booking)
    assert (failed["reason_code"], failed["reason"]) == ("unknown_event", "We do not know this event.")


def test_a_booking_takes_back_the_seats_it_still_holds_under_a_new_hold(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Balcony", "A", 1), seat(on_sale, "Balcony", "A", 2)]
    first = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)

    outcome = deliver(
        SeatsReacquire(booking_id=booking, event_id=on_sale, seat_ids=wanted), aggregate_id=booking
    )

    second = answers(Topic.SEATS_LOCKED, booking_id=booking)[-1]["hold_id"]
    assert outcome == Outcome.APPLIED
    assert second != first
    assert states(on_sale, wanted) == [(SeatStatus.LOCKED, booking, second)] * 2


def test_a_repeated_booking_initiated_is_answered_once(on_sale: str) -> None:
    booking = new_id()
    event = envelope(
        BookingInitiated(
            booking_id=booking,
            event_id=on_sale,
            seat_ids=[seat(on_sale, "Stalls", "A", 1)],
            customer=CUSTOMER,
        ),
        aggregate_id=booking,
    )

    outcomes = [dispatch.apply(event, "inventory"), dispatch.apply(event, "inventory")]

    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert len(answers(Topic.SEATS_LOCKED, booking_id=booking)) == 1
    assert answers(Topic.SEATS_LOCK_FAILED, booking_id=booking) == []


# --- releasing ---------------------------------------------------------------------------------


def test_a_release_frees_the_seats_of_its_hold(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "A", 1), seat(on_sale, "Stalls", "A", 2)]
    hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)

    outcome = deliver(
        SeatsRelease(
            booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted, reason="payment failed"
        ),
        aggregate_id=booking,
    )

    assert outcome == Outcome.APPLIED
    assert states(on_sale, wanted) == [(SeatStatus.AVAILABLE, None, None)] * 2
    # Another buyer gets them straight away: the released claims are gone from the guard too.
    other = new_id()
    assert seats_hold(booking_id=other, event_id=on_sale, seat_ids=wanted) is not None


def test_a_stale_release_does_not_free_a_newer_hold_of_the_same_booking(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "B", 1)]
    old_hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    new_hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)

    released = seats_release(booking_id=booking, event_id=on_sale, hold_id=old_hold, reason="hold expired")

    assert released == 0
    assert new_hold != old_hold
    assert states(on_sale, wanted) == [(SeatStatus.LOCKED, booking, new_hold)]
    # Nor may another buyer slip in on the strength of a dropped Redis claim.
    assert seats_hold(booking_id=new_id(), event_id=on_sale, seat_ids=wanted) is None


def test_a_release_leaves_sold_seats_sold(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "A", 4)]
    hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    seats_confirm(booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted)

    assert seats_release(booking_id=booking, event_id=on_sale, hold_id=hold, reason="late") == 0
    assert states(on_sale, wanted) == [(SeatStatus.RESERVED, booking, hold)]


# --- selling -----------------------------------------------------------------------------------


def test_a_confirmation_sells_the_held_seats_once(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "A", 1), seat(on_sale, "Stalls", "B", 1)]
    hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    confirm = SeatsConfirm(booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted)

    first = deliver(confirm, aggregate_id=booking)
    again = seats_confirm(booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted)

    assert (first, again) == (Outcome.APPLIED, 0)
    assert states(on_sale, wanted) == [(SeatStatus.RESERVED, booking, hold)] * 2
    assert Seat.objects.get(pk=wanted[0]).hold_expires_at is None


def test_a_confirmation_after_the_cancellation_is_ignored(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "A", 1)]
    hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    deliver(cancelled(booking_id=booking, event_id=on_sale, seat_ids=wanted), aggregate_id=booking)

    outcome = deliver(
        SeatsConfirm(booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted),
        aggregate_id=booking,
    )

    assert outcome == Outcome.APPLIED
    assert states(on_sale, wanted) == [(SeatStatus.AVAILABLE, None, None)]


def test_confirming_a_hold_that_lost_its_seats_is_a_permanent_failure(on_sale: str) -> None:
    booking, other = new_id(), new_id()
    wanted = [seat(on_sale, "Stalls", "A", 1), seat(on_sale, "Stalls", "A", 2)]
    hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    seats_release(booking_id=booking, event_id=on_sale, hold_id=hold, reason="hold expired")
    seats_hold(booking_id=other, event_id=on_sale, seat_ids=wanted[:1])

    with pytest.raises(PermanentFailure, match=f"hold {hold} no longer has all of its seats"):
        seats_confirm(booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted)

    assert states(on_sale, wanted) == [
        (SeatStatus.LOCKED, other, states(on_sale, wanted)[0][2]),
        (SeatStatus.AVAILABLE, None, None),
    ]


def test_the_kernel_dead_letters_a_confirmation_that_cannot_be_applied(on_sale: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "A", 1)]
    hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    seats_release(booking_id=booking, event_id=on_sale, hold_id=hold, reason="hold expired")
    letters: list[tuple[str, int]] = []
    message = SeatsConfirm(booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted)
    raw = envelope(message, aggregate_id=booking).encode().encode()
    outcome = dispatch.deliver(
        raw,
        message.topic,
        "inventory",
        lambda context, topic, body, error, attempts: letters.append((type(error).__name__, attempts)),
    )

    assert outcome == Outcome.DEAD_LETTERED
    assert letters == [("PermanentFailure", 1)]


# --- cancelling --------------------------------------------------------------------------------


def test_a_cancellation_frees_held_and_sold_seats_and_is_remembered(on_sale: str) -> None:
    booking = new_id()
    held, sold = seat(on_sale, "Stalls", "A", 1), seat(on_sale, "Stalls", "A", 2)
    first = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=[sold])
    seats_confirm(booking_id=booking, event_id=on_sale, hold_id=first, seat_ids=[sold])
    seats_hold(booking_id=booking, event_id=on_sale, seat_ids=[held])

    outcome = deliver(
        cancelled(booking_id=booking, event_id=on_sale, seat_ids=[held, sold]), aggregate_id=booking
    )

    assert outcome == Outcome.APPLIED
    assert states(on_sale, [held, sold]) == [(SeatStatus.AVAILABLE, None, None)] * 2
    assert CancelledBooking.objects.filter(pk=booking).exists()
    assert booking_seats_cancel(booking_id=booking, event_id=on_sale) == 0
    # The freed seats are for sale again at once (the guard's claims went with them).
    assert seats_hold(booking_id=new_id(), event_id=on_sale, seat_ids=[held, sold]) is not None


# --- the Redis guard and the cached seat map ----------------------------------------------------


def test_a_stale_claim_in_the_guard_does_not_block_a_free_seat(on_sale: str) -> None:
    wanted = [seat(on_sale, "Stalls", "A", 1)]
    # A request that crashed after claiming, before its database work.
    assert seat_claims.claim(event_id=on_sale, seat_ids=wanted, owner=new_id(), ttl_seconds=600).granted
    booking = new_id()

    hold = seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)

    assert hold is not None
    assert states(on_sale, wanted) == [(SeatStatus.LOCKED, booking, hold)]


def test_sales_go_on_when_redis_is_unreachable(on_sale: str, settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing answers
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    winner, loser = new_id(), new_id()
    wanted = [seat(on_sale, "Stalls", "A", 1)]

    first = seats_hold(booking_id=winner, event_id=on_sale, seat_ids=wanted)
    second = seats_hold(booking_id=loser, event_id=on_sale, seat_ids=wanted)

    assert first is not None
    assert second is None
    assert states(on_sale, wanted) == [(SeatStatus.LOCKED, winner, first)]
    assert seat_map(event_id=on_sale)["counts"] == {"AVAILABLE": 9, "LOCKED": 1, "RESERVED": 0, "OFFERED": 0}


@pytest.mark.parametrize("change", ["hold", "release", "confirm", "cancel"])
def test_the_cached_seat_map_is_dropped_when_a_change_commits(on_sale: str, change: str) -> None:
    booking = new_id()
    wanted = [seat(on_sale, "Stalls", "A", 1)]
    hold = None if change == "hold" else seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    before = seat_map(event_id=on_sale)["counts"]

    if change == "hold":
        seats_hold(booking_id=booking, event_id=on_sale, seat_ids=wanted)
    elif change == "release":
        seats_release(booking_id=booking, event_id=on_sale, hold_id=hold, reason="payment failed")
    elif change == "confirm":
        seats_confirm(booking_id=booking, event_id=on_sale, hold_id=hold, seat_ids=wanted)
    else:
        booking_seats_cancel(booking_id=booking, event_id=on_sale)

    after = seat_map(event_id=on_sale)["counts"]
    expected = {
        "hold": (
            {"AVAILABLE": 10, "LOCKED": 0, "RESERVED": 0, "OFFERED": 0},
            {"AVAILABLE": 9, "LOCKED": 1, "RESERVED": 0, "OFFERED": 0},
        ),
        "release": (
            {"AVAILABLE": 9, "LOCKED": 1, "RESERVED": 0, "OFFERED": 0},
            {"AVAILABLE": 10, "LOCKED": 0, "RESERVED": 0, "OFFERED": 0},
        ),
        "confirm": (
            {"AVAILABLE": 9, "LOCKED": 1, "RESERVED": 0, "OFFERED": 0},
            {"AVAILABLE": 9, "LOCKED": 0, "RESERVED": 1, "OFFERED": 0},
        ),
        "cancel": (
            {"AVAILABLE": 9, "LOCKED": 1, "RESERVED": 0, "OFFERED": 0},
            {"AVAILABLE": 10, "LOCKED": 0, "RESERVED": 0, "OFFERED": 0},
        ),
    }[change]
    assert (before, after) == expected


def test_a_failed_hold_keeps_the_cached_seat_map(on_sale: str) -> None:
    wanted = [seat(on_sale, "Stalls", "A", 1)]
    seats_hold(booking_id=new_id(), event_id=on_sale, seat_ids=wanted)
    cached = seat_map(event_id=on_sale)
    Seat.objects.filter(pk=wanted[0]).update(price_cents=1)  # behind the cache's back

    seats_hold(booking_id=new_id(), event_id=on_sale, seat_ids=wanted)

    assert seat_map(event_id=on_sale) == cached
