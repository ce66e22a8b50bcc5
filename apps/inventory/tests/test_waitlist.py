"""The waiting list: seats that come back go to the buyers waiting, first come first served,
one offer per seat at a time, before they go back on open sale.

Seats come back here the way they do in the saga: a booking's ``booking.cancelled`` (or
``seats.release``) applied through the kernel. Buyers book an offer with the booking id it
was made for, as ``POST /api/bookings`` does with the offer's token.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.inventory.models import Seat, SeatStatus, WaitlistEntry, WaitlistStatus
from apps.inventory.tests.conftest import answers, cancelled, deliver, initiate, new_id, publish, seat
from apps.inventory.waitlist import (
    Buyer,
    waitlist_join,
    waitlist_leave,
    waitlist_offers_lapse,
    waitlist_place,
)
from ticketflow import seat_claims, waitlist_offers
from ticketflow.errors import ApplicationError
from ticketflow.messaging.dispatch import Outcome
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

HALL = {
    "sections": [
        {"name": "Stalls", "category": "standard", "rows": [{"label": "A", "seats": 3}]},
        {"name": "Balcony", "category": "standard", "rows": [{"label": "A", "seats": 1}]},
    ]
}
PRICES = {"standard": 3000}
LATER = timedelta(hours=1)


def buyer(name: str) -> Buyer:
    return Buyer(user_id=str(uuid.uuid4()), email=f"{name.lower()}@example.com", name=name)


def stalls(event_id: str, number: int) -> str:
    return seat(event_id, "Stalls", "A", number)


def balcony(event_id: str) -> str:
    return seat(event_id, "Balcony", "A", 1)


def sold_out(event_id: str) -> dict[str, str]:
    """Every seat held, one booking per seat; returns seat id -> booking id."""
    publish(event_id, layout=HALL, prices=PRICES, max_seats_per_booking=2)
    holders = {}
    for seat_id in [stalls(event_id, n) for n in (1, 2, 3)] + [balcony(event_id)]:
        holders[seat_id] = new_id()
        assert initiate(booking_id=holders[seat_id], event_id=event_id, seat_ids=[seat_id]) == Outcome.APPLIED
    return holders


def give_back(event_id: str, holders: dict[str, str], *seat_ids: str) -> None:
    """The bookings of these seats are cancelled: their seats come back."""
    for seat_id in seat_ids:
        payload = cancelled(booking_id=holders[seat_id], event_id=event_id, seat_ids=[seat_id])
        assert deliver(payload, aggregate_id=holders[seat_id]) == Outcome.APPLIED


def code(call) -> str:
    with pytest.raises(ApplicationError) as refused:
        call()
    return refused.value.code


def entry_of(who: Buyer, event_id: str) -> WaitlistEntry:
    return WaitlistEntry.objects.filter(event_id=event_id, user_id=who.user_id).latest("joined_at")


def test_joining_is_refused_while_seats_are_on_sale_and_for_requests_that_cannot_be_served(
    event_id: str,
) -> None:
    ada = buyer("Ada")
    publish(event_id, layout=HALL, prices=PRICES, max_seats_per_booking=2)

    assert code(lambda: waitlist_join(event_id=event_id, buyer=ada, quantity=1)) == "not_sold_out"
    for seat_id in [stalls(event_id, n) for n in (1, 2, 3)]:
        initiate(booking_id=new_id(), event_id=event_id, seat_ids=[seat_id])
    # The stalls are gone, the balcony is not: a list for the stalls only is open.
    assert code(lambda: waitlist_join(event_id=event_id, buyer=ada, quantity=1)) == "not_sold_out"
    assert code(lambda: waitlist_join(event_id=event_id, buyer=ada, quantity=1, section="Balcony")) == (
        "not_sold_out"
    )
    assert (
        code(lambda: waitlist_join(event_id=event_id, buyer=ada, quantity=3, section="Stalls")) == "invalid"
    )
    assert (
        code(lambda: waitlist_join(event_id=event_id, buyer=ada, quantity=0, section="Stalls")) == "invalid"
    )
    assert code(lambda: waitlist_join(event_id=event_id, buyer=ada, quantity=1, section="Roof")) == "invalid"
    assert code(lambda: waitlist_join(event_id=new_id(), buyer=ada, quantity=1)) == "not_found"

    entry = waitlist_join(event_id=event_id, buyer=ada, quantity=2, section="Stalls")

    assert (entry.status, entry.quantity, entry.section) == (WaitlistStatus.WAITING, 2, "Stalls")
    assert code(lambda: waitlist_join(event_id=event_id, buyer=ada, quantity=1, section="Stalls")) == (
        "already_waiting"
    )
    assert waitlist_place(event_id=event_id, user_id=ada.user_id).position == 1
    waitlist_leave(event_id=event_id, user_id=ada.user_id)
    assert code(lambda: waitlist_leave(event_id=event_id, user_id=ada.user_id)) == "not_found"
    # Having left, the buyer may join again.
    assert waitlist_join(event_id=event_id, buyer=ada, quantity=1, section="Stalls").status == "WAITING"


def test_a_seat_that_comes_back_is_kept_for_the_head_of_the_list_not_put_on_sale(event_id: str) -> None:
    holders = sold_out(event_id)
    ada, bea = buyer("Ada"), buyer("Bea")
    waitlist_join(event_id=event_id, buyer=ada, quantity=1)
    waitlist_join(event_id=event_id, buyer=bea, quantity=1)
    back = stalls(event_id, 2)

    give_back(event_id, holders, back)

    offer = entry_of(ada, event_id)
    row = Seat.objects.get(pk=back)
    assert (offer.status, offer.offer_seat_ids) == (WaitlistStatus.OFFERED, [back])
    assert (row.status, str(row.booking_id), str(row.hold_id)) == (
        SeatStatus.OFFERED,
        str(offer.offer_booking_id),
        str(offer.offer_id),
    )
    assert abs(row.hold_expires_at - (timezone.now() + timedelta(minutes=30))) < timedelta(seconds=30)
    assert entry_of(bea, event_id).status == WaitlistStatus.WAITING
    assert waitlist_place(event_id=event_id, user_id=bea.user_id).position == 1
    [made] = answers(Topic.WAITLIST_OFFER_MADE)
    assert (made["entry_id"], made["customer"]["email"], made["total_cents"]) == (
        str(offer.id),
        ada.email,
        3000,
    )
    assert made["offer_url"].endswith(f"/events/{event_id}/waitlist")
    # The door turns everyone else away from it...
    assert seat_claims.holders(event_id=event_id)[back] == str(offer.offer_booking_id)
    assert not seat_claims.claim(event_id=event_id, seat_ids=[back], owner=new_id(), ttl_seconds=60).granted
    # ...and so does the database, for a booking that slipped past the door.
    stranger = new_id()
    initiate(booking_id=stranger, event_id=event_id, seat_ids=[back])
    [refused] = answers(Topic.SEATS_LOCK_FAILED, booking_id=stranger)
    assert refused["reason_code"] == "seats_unavailable"

    initiate(booking_id=str(offer.offer_booking_id), event_id=event_id, seat_ids=[back])

    [held] = answers(Topic.SEATS_LOCKED, booking_id=str(offer.offer_booking_id))
    assert [s["seat_id"] for s in held["seats"]] == [back]
    assert Seat.objects.get(pk=back).status == SeatStatus.LOCKED
    assert entry_of(ada, event_id).status == WaitlistStatus.BOOKED


def test_an_unanswered_offer_passes_down_a_list_of_three_then_goes_back_on_sale(event_id: str) -> None:
    holders = sold_out(event_id)
    waiting = [buyer("Ada"), buyer("Bea"), buyer("Cy")]
    for who in waiting:
        waitlist_join(event_id=event_id, buyer=who, quantity=1)
    back = stalls(event_id, 1)

    give_back(event_id, holders, back)
    offered_to = []
    for _ in waiting:
        [offered] = WaitlistEntry.objects.filter(event_id=event_id, status=WaitlistStatus.OFFERED)
        offered_to.append(offered.email)
        assert Seat.objects.get(pk=back).booking_id == offered.offer_booking_id
        assert seat_claims.holders(event_id=event_id)[back] == str(offered.offer_booking_id)
        assert waitlist_offers_lapse(now=timezone.now() + LATER) == 1

    assert offered_to == [who.email for who in waiting]
    assert [e.status for e in WaitlistEntry.objects.filter(event_id=event_id).order_by("joined_at")] == [
        WaitlistStatus.LAPSED
    ] * 3
    assert Seat.objects.get(pk=back).status == SeatStatus.AVAILABLE
    assert back not in seat_claims.holders(event_id=event_id)
    assert [m["customer"]["email"] for m in answers(Topic.WAITLIST_OFFER_MADE)] == offered_to
    # A lapsed offer's booking id no longer gets the seat: it went back on sale to anyone.
    late = WaitlistEntry.objects.get(event_id=event_id, email=waiting[0].email)
    assert waitlist_offers_lapse(now=timezone.now() + LATER) == 0
    assert late.offer_booking_id is not None


def test_entries_the_seats_do_not_fit_keep_their_place_and_sections_are_kept_apart(event_id: str) -> None:
    holders = sold_out(event_id)
    pair, balcony_fan, single = buyer("Pair"), buyer("Fan"), buyer("Single")
    waitlist_join(event_id=event_id, buyer=pair, quantity=2)
    waitlist_join(event_id=event_id, buyer=balcony_fan, quantity=1, section="Balcony")
    waitlist_join(event_id=event_id, buyer=single, quantity=1)

    give_back(event_id, holders, stalls(event_id, 3))

    # One stalls seat: too few for the pair, not in the fan's section: the single gets it.
    assert entry_of(single, event_id).offer_seat_ids == [stalls(event_id, 3)]
    assert entry_of(pair, event_id).status == entry_of(balcony_fan, event_id).status == WaitlistStatus.WAITING
    assert waitlist_place(event_id=event_id, user_id=pair.user_id).position == 1

    give_back(event_id, holders, stalls(event_id, 1))
    # Nobody waiting can use one stalls seat now: it goes on sale...
    assert Seat.objects.get(pk=stalls(event_id, 1)).status == SeatStatus.AVAILABLE
    give_back(event_id, holders, stalls(event_id, 2))
    give_back(event_id, holders, balcony(event_id))

    # ...until a second one comes back: together they make the pair's two seats.
    assert sorted(entry_of(pair, event_id).offer_seat_ids) == sorted(
        [stalls(event_id, 1), stalls(event_id, 2)]
    )
    assert entry_of(balcony_fan, event_id).offer_seat_ids == [balcony(event_id)]


def test_a_release_of_several_seats_serves_an_entry_that_wants_several(event_id: str) -> None:
    publish(event_id, layout=HALL, prices=PRICES, max_seats_per_booking=2)
    group = new_id()
    initiate(booking_id=group, event_id=event_id, seat_ids=[stalls(event_id, 1), stalls(event_id, 2)])
    for seat_id in (stalls(event_id, 3), balcony(event_id)):
        initiate(booking_id=new_id(), event_id=event_id, seat_ids=[seat_id])
    pair = buyer("Pair")
    waitlist_join(event_id=event_id, buyer=pair, quantity=2)

    payload = cancelled(
        booking_id=group, event_id=event_id, seat_ids=[stalls(event_id, 1), stalls(event_id, 2)]
    )
    deliver(payload, aggregate_id=group)

    assert sorted(entry_of(pair, event_id).offer_seat_ids) == sorted(
        [stalls(event_id, 1), stalls(event_id, 2)]
    )


def test_leaving_with_an_open_offer_passes_the_seats_on_at_once(event_id: str) -> None:
    holders = sold_out(event_id)
    ada, bea = buyer("Ada"), buyer("Bea")
    waitlist_join(event_id=event_id, buyer=ada, quantity=1)
    waitlist_join(event_id=event_id, buyer=bea, quantity=1)
    give_back(event_id, holders, stalls(event_id, 1))

    left = waitlist_leave(event_id=event_id, user_id=ada.user_id)

    assert left.status == WaitlistStatus.LEFT
    assert entry_of(bea, event_id).offer_seat_ids == [stalls(event_id, 1)]
    assert seat_claims.holders(event_id=event_id)[stalls(event_id, 1)] == str(
        entry_of(bea, event_id).offer_booking_id
    )


def test_an_offer_whose_time_is_up_books_nothing_even_before_the_sweep(event_id: str) -> None:
    holders = sold_out(event_id)
    ada = buyer("Ada")
    waitlist_join(event_id=event_id, buyer=ada, quantity=1)
    give_back(event_id, holders, stalls(event_id, 1))
    entry = entry_of(ada, event_id)
    Seat.objects.filter(pk=stalls(event_id, 1)).update(hold_expires_at=timezone.now() - timedelta(seconds=1))

    initiate(booking_id=str(entry.offer_booking_id), event_id=event_id, seat_ids=[stalls(event_id, 1)])

    [refused] = answers(Topic.SEATS_LOCK_FAILED, booking_id=str(entry.offer_booking_id))
    assert refused["reason_code"] == "seats_unavailable"
    assert entry_of(ada, event_id).status == WaitlistStatus.OFFERED


def test_the_offer_token_names_the_booking_and_only_its_buyer_may_use_it(event_id: str) -> None:
    holders = sold_out(event_id)
    ada = buyer("Ada")
    waitlist_join(event_id=event_id, buyer=ada, quantity=1)
    give_back(event_id, holders, stalls(event_id, 1))

    place = waitlist_place(event_id=event_id, user_id=ada.user_id)

    offer = waitlist_offers.require(place.offer_token, user_id=ada.user_id, event_id=event_id)
    assert (offer.booking_id, offer.seat_ids) == (str(place.entry.offer_booking_id), (stalls(event_id, 1),))
    assert [s.id for s in place.offered_seats] == [uuid.UUID(stalls(event_id, 1))]
    assert code(lambda: waitlist_offers.require(place.offer_token, user_id=new_id(), event_id=event_id)) == (
        "offer_not_yours"
    )
    assert code(
        lambda: waitlist_offers.require(place.offer_token, user_id=ada.user_id, event_id=new_id())
    ) == ("invalid_offer")
    assert code(
        lambda: waitlist_offers.require(
            place.offer_token[:-3] + "abc", user_id=ada.user_id, event_id=event_id
        )
    ) == ("invalid_offer")
    ended = offer.expires_at + 1
    assert code(
        lambda: waitlist_offers.require(place.offer_token, user_id=ada.user_id, event_id=event_id, now=ended)
    ) == ("offer_expired")
