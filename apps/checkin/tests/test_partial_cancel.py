"""A partial cancellation revokes its seats' tickets only; the booking's others still admit."""

from __future__ import annotations

import uuid

import pytest

from apps.checkin.models import Ticket, TicketStatus
from apps.checkin.services import scan_redeem
from apps.checkin.tests.conftest import STARTS_AT, Booking, book, deliver, events_of
from ticketflow.messaging import dispatch
from ticketflow.messaging.schemas import BookingSeatsCancelled, PaymentRefunded, SeatLabel
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def seats_cancelled(booking: Booking, seat_ids: list[str]) -> BookingSeatsCancelled:
    confirmed = booking.confirmed()
    return BookingSeatsCancelled(
        **confirmed.model_dump(include={"booking_id", "reference", "event_id", "event_name", "venue_name"}),
        event_starts_at=STARTS_AT,
        customer=confirmed.customer,
        cancellation_id=str(uuid.uuid4()),
        seat_ids=seat_ids,
        seats=[
            SeatLabel(seat_id=seat_id, section="Stalls", row="A", number=n, price_cents=4200)
            for n, seat_id in enumerate(seat_ids, 1)
        ],
        refund_percent=50,
        refund_cents=2100 * len(seat_ids),
        currency="GBP",
    )


def partial_refund(booking: Booking) -> PaymentRefunded:
    return booking.refunded().model_copy(update={"reason_code": "seats_cancelled", "amount_cents": 2100})


def test_only_the_cancelled_seats_tickets_are_revoked_and_announced_once() -> None:
    # Given a booking of three seats with its tickets
    booking = book(seats=3)
    tickets = booking.tickets()
    cancelled = [tickets[0].seat_id, tickets[2].seat_id]

    # When two of its seats are cancelled, the event arriving twice (a replay past the inbox)
    assert deliver(seats_cancelled(booking, cancelled)) == dispatch.Outcome.APPLIED
    assert deliver(seats_cancelled(booking, cancelled)) == dispatch.Outcome.APPLIED
    # And their refund arrives
    assert deliver(partial_refund(booking)) == dispatch.Outcome.APPLIED

    # Then exactly those tickets are revoked, once; the third still admits at the door
    statuses = {t.seat_id: (t.status, t.revoked_reason) for t in booking.tickets()}
    assert statuses == {
        tickets[0].seat_id: (TicketStatus.REVOKED, "seats_cancelled"),
        tickets[1].seat_id: (TicketStatus.VALID, ""),
        tickets[2].seat_id: (TicketStatus.REVOKED, "seats_cancelled"),
    }
    [revoked] = events_of(Topic.TICKETS_REVOKED)
    assert (sorted(revoked["ticket_ids"]), revoked["reason_code"]) == (
        sorted([str(tickets[0].pk), str(tickets[2].pk)]),
        "seats_cancelled",
    )
    kept = scan_redeem(event_id=booking.event_id, secret=tickets[1].secret, nonce="gate-1:0001")
    gone = scan_redeem(event_id=booking.event_id, secret=tickets[0].secret, nonce="gate-1:0002")
    assert (kept.result, gone.result) == ("ok", "revoked")


def test_a_partial_cancellation_ahead_of_the_confirmation_leaves_its_seats_without_tickets() -> None:
    # Given a booking whose confirmation checkin has not applied yet
    booking = Booking(booking_id=str(uuid.uuid4()), event_id=str(uuid.uuid4()), seats=2)
    confirmed = booking.confirmed()
    gone, kept = (seat.seat_id for seat in confirmed.seats)

    # When the partial cancellation overtakes it
    assert deliver(seats_cancelled(booking, [gone])) == dispatch.Outcome.APPLIED
    assert deliver(confirmed) == dispatch.Outcome.APPLIED

    # Then only the seat that is left gets a ticket, and the announcement says so
    assert [t.seat_id for t in Ticket.objects.filter(booking_id=booking.booking_id)] == [kept]
    [issued] = events_of(Topic.TICKETS_ISSUED)
    assert ([s["seat_id"] for s in issued["seats"]], issued["total_cents"]) == ([kept], 4200)
    assert [t["seat_id"] for t in issued["tickets"]] == [kept]


def test_a_whole_booking_refund_still_revokes_every_ticket() -> None:
    booking = book(seats=2)

    deliver(booking.refunded())

    assert {t.status for t in booking.tickets()} == {TicketStatus.REVOKED}
