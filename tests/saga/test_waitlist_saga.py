"""The waiting list across contexts, through the API: a sold-out event, a buyer who waits,
a cancellation whose seat is offered to them (and emailed), and the booking they make with
the offer, while everyone else is turned away from that seat.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings.models import Booking, BookingStatus
from apps.bookings.services import booking_cancel
from apps.inventory.models import Seat, SeatStatus, WaitlistEntry
from apps.inventory.waitlist import waitlist_offers_lapse
from apps.notifications import consumers as notifications
from apps.notifications.models import Notification
from tests.support.saga import book
from ticketflow.messaging.dispatch import Outcome, apply
from ticketflow.messaging.envelope import decode
from ticketflow.messaging.handlers import subscribers
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def error(response, status: int) -> str:
    assert response.status_code == status, response.content
    return response.json()["error"]["code"]


def waitlist(event_id: str) -> str:
    return f"/api/events/{event_id}/waitlist"


@pytest.fixture
def sold_out(broker, concert, make_buyer):
    """The concert's ten seats sold: 4 + 4 + 1 + 1; returns the one-seat bookings' (buyer, id)."""
    for seats in (concert.seat_ids[:4], concert.seat_ids[4:8]):
        book(make_buyer("Bulk"), concert, seats)
    singles = []
    for seat_id in concert.seat_ids[8:]:
        buyer = make_buyer("Solo")
        singles.append((buyer, book(buyer, concert, [seat_id])))
    broker.settle()
    assert Booking.objects.filter(status=BookingStatus.CONFIRMED).count() == 4
    mail.outbox.clear()
    return singles


def test_a_cancelled_seat_is_offered_to_the_waiting_buyer_who_books_it_with_the_offer(
    broker, concert, sold_out, make_buyer
) -> None:
    ada, outsider = make_buyer("Ada"), make_buyer("Out")
    (solo, solo_booking), _ = sold_out
    joined = client_of(ada).post(waitlist(concert.event_id), {"quantity": 1}, format="json")
    assert joined.status_code == 201, joined.content
    assert (joined.json()["status"], joined.json()["position"], joined.json()["offer"]) == (
        "WAITING",
        1,
        None,
    )

    booking_cancel(booking_id=solo_booking, user_id=str(solo.id))
    broker.settle()

    place = client_of(ada).get(waitlist(concert.event_id)).json()
    back = concert.seat_ids[8]
    assert place["status"] == "OFFERED"
    assert [seat["id"] for seat in place["offer"]["seats"]] == [back]
    [email] = [m for m in mail.outbox if "are yours to book" in m.subject]
    assert email.to == [ada.email]
    assert email.subject.startswith("Seats for Test Concert are yours to book until")
    assert f"/events/{concert.event_id}/waitlist" in email.body
    # Everyone else is turned away at the door, the offer's token is only Ada's.
    grab = client_of(outsider).post(
        "/api/bookings",
        {"event_id": concert.event_id, "seat_ids": [back], "payment_method": "pm_card_visa"},
        format="json",
    )
    assert error(grab, 409) == "seats_unavailable"
    stolen = {
        "event_id": concert.event_id,
        "seat_ids": [back],
        "payment_method": "pm_card_visa",
        "waitlist_offer": place["offer"]["token"],
    }
    assert error(client_of(outsider).post("/api/bookings", stolen, format="json"), 403) == "offer_not_yours"
    forged = {**stolen, "waitlist_offer": place["offer"]["token"][:-4] + "AAAA"}
    assert error(client_of(ada).post("/api/bookings", forged, format="json"), 400) == "invalid_offer"

    booked = client_of(ada).post("/api/bookings", {**stolen}, format="json")
    again = client_of(ada).post("/api/bookings", {**stolen}, format="json")
    broker.settle()

    assert booked.status_code == 202, booked.content
    assert again.json()["id"] == booked.json()["id"]
    booking = Booking.objects.get(pk=booked.json()["id"])
    assert (booking.status, booking.seat_ids) == (BookingStatus.CONFIRMED, [back])
    assert Seat.objects.get(pk=back).status == SeatStatus.RESERVED
    assert client_of(ada).get(waitlist(concert.event_id)).json()["status"] == "BOOKED"
    assert Booking.objects.filter(user_id=outsider.id).count() == 0


def test_joining_is_refused_while_seats_are_on_sale_and_answers_clear_errors(
    broker, concert, make_buyer
) -> None:
    ada = make_buyer("Ada")
    url = waitlist(concert.event_id)

    assert error(client_of(ada).post(url, {"quantity": 1}, format="json"), 409) == "not_sold_out"
    assert error(APIClient().post(url, {"quantity": 1}, format="json"), 401) == "not_authenticated"
    assert error(client_of(ada).post(url, {"quantity": "two"}, format="json"), 400) == "invalid"
    assert error(client_of(ada).post(url, {}, format="json"), 400) == "invalid"
    assert (
        error(client_of(ada).post(waitlist(str(uuid.uuid4())), {"quantity": 1}, format="json"), 404)
        == "not_found"
    )
    assert error(client_of(ada).post(waitlist("nope"), {"quantity": 1}, format="json"), 404) == "not_found"
    assert error(client_of(ada).get(url), 404) == "not_found"
    assert error(client_of(ada).delete(url), 404) == "not_found"


def test_an_unanswered_offer_passes_to_the_next_buyer_and_their_emails_say_so(
    broker, concert, sold_out, make_buyer
) -> None:
    ada, bea = make_buyer("Ada"), make_buyer("Bea")
    (solo, solo_booking), _ = sold_out
    for who in (ada, bea):
        assert (
            client_of(who).post(waitlist(concert.event_id), {"quantity": 1}, format="json").status_code == 201
        )
    booking_cancel(booking_id=solo_booking, user_id=str(solo.id))
    broker.settle()
    token = client_of(ada).get(waitlist(concert.event_id)).json()["offer"]["token"]

    waitlist_offers_lapse(now=timezone.now() + timedelta(hours=1))
    broker.settle()

    assert client_of(ada).get(waitlist(concert.event_id)).json()["status"] == "LAPSED"
    assert client_of(bea).get(waitlist(concert.event_id)).json()["status"] == "OFFERED"
    assert [m.to for m in mail.outbox if "are yours to book" in m.subject] == [[ada.email], [bea.email]]
    late = client_of(ada).post(
        "/api/bookings",
        {
            "event_id": concert.event_id,
            "seat_ids": [concert.seat_ids[8]],
            "payment_method": "pm_card_visa",
            "waitlist_offer": token,
        },
        format="json",
    )
    # Ada's token has not run out by its own clock, but the seat is kept for Bea now.
    assert error(late, 409) == "seats_unavailable"
    assert Seat.objects.get(pk=concert.seat_ids[8]).status == SeatStatus.OFFERED


def test_every_event_of_the_waiting_list_delivered_twice_changes_nothing(
    broker, concert, sold_out, make_buyer
) -> None:
    ada = make_buyer("Ada")
    (solo, solo_booking), _ = sold_out
    client_of(ada).post(waitlist(concert.event_id), {"quantity": 1}, format="json")
    booking_cancel(booking_id=solo_booking, user_id=str(solo.id))
    broker.settle()
    offer = client_of(ada).get(waitlist(concert.event_id)).json()["offer"]
    client_of(ada).post(
        "/api/bookings",
        {
            "event_id": concert.event_id,
            "seat_ids": [s["id"] for s in offer["seats"]],
            "payment_method": "pm_card_visa",
            "waitlist_offer": offer["token"],
        },
        format="json",
    )
    broker.settle()
    flow = [
        row
        for alias in ("default", "documents")
        for row in OutboxMessage.objects.using(alias).filter(
            topic__in=(Topic.BOOKING_CANCELLED, Topic.WAITLIST_OFFER_MADE, Topic.BOOKING_INITIATED)
        )
    ]
    assert {row.topic for row in flow} == {
        Topic.BOOKING_CANCELLED,
        Topic.WAITLIST_OFFER_MADE,
        Topic.BOOKING_INITIATED,
    }

    def state() -> tuple:
        return (
            sorted(Seat.objects.values_list("id", "status", "booking_id", "version")),
            sorted(WaitlistEntry.objects.values_list("id", "status", "version", "offer_id")),
            sorted(Booking.objects.values_list("id", "status", "version")),
            sorted(Notification.objects.values_list("kind", flat=True)),
            len(mail.outbox),
        )

    before = state()
    for row in flow:
        envelope = decode(row.body)
        for context in subscribers(row.topic):
            assert apply(envelope, context) == Outcome.DUPLICATE
            if context == "notifications" and row.topic == Topic.WAITLIST_OFFER_MADE:
                notifications.on_waitlist_offer_made(envelope)
            elif context == "inventory" and row.topic == Topic.BOOKING_CANCELLED:
                # Past the inbox: the cancelled booking has no seats left to free or offer.
                apply(dataclasses.replace(envelope, id=uuid.uuid4()), context)
    broker.settle()

    assert state() == before
    assert before[3].count("waitlist_offered") == 1
