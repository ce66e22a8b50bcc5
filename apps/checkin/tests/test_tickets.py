"""Tickets follow the booking saga: one signed ticket per seat, revoked on cancel or refund."""

from __future__ import annotations

import uuid

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization

from apps.checkin import signing
from apps.checkin.models import CheckinEvent, TicketStatus
from apps.checkin.tests.conftest import Booking, book, deliver, events_of
from ticketflow.messaging import dispatch
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def test_a_confirmed_booking_gets_one_signed_ticket_per_seat_announced_with_the_booking_facts() -> None:
    booking = book(seats=3)

    tickets = booking.tickets()
    event = CheckinEvent.objects.get(pk=booking.event_id)
    assert [t.seat_label for t in tickets] == [f"Stalls, row A, seat {n}" for n in (1, 2, 3)]
    assert {t.status for t in tickets} == {TicketStatus.VALID}
    for ticket in tickets:
        parsed = signing.secret_parse(ticket.secret)
        assert (parsed.ticket_id, parsed.event_id) == (str(ticket.pk), booking.event_id)
        assert signing.secret_verify(parsed, public_key=event.public_key)
        assert len(ticket.secret) == 130
        assert ticket.fingerprint == signing.fingerprint(ticket.secret)
    [issued] = events_of(Topic.TICKETS_ISSUED)
    assert issued["reference"] == "TF-7Q2K-9MRX"
    assert [t["secret"] for t in issued["tickets"]] == [t.secret for t in tickets]
    assert issued["total_cents"] == 12600


def test_the_private_key_is_stored_sealed_and_bound_to_its_event() -> None:
    booking = book(seats=1)

    event = CheckinEvent.objects.get(pk=booking.event_id)
    private = signing._private_key(booking.event_id, event.sealed_private_key)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    assert raw not in signing.unb64url(event.sealed_private_key)
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert signing.b64url(public) == event.public_key
    # Moved to another event's row, the sealed key does not open.
    with pytest.raises(InvalidTag):
        signing._private_key(str(uuid.uuid4()), event.sealed_private_key)


def test_a_second_delivery_of_the_confirmation_issues_nothing_more() -> None:
    booking = book(seats=2)
    first = [t.secret for t in booking.tickets()]

    assert deliver(booking.confirmed()) == dispatch.Outcome.APPLIED  # a replay past the inbox

    assert [t.secret for t in booking.tickets()] == first
    assert len(events_of(Topic.TICKETS_ISSUED)) == 1


def test_two_bookings_of_one_event_share_its_key_pair() -> None:
    first = book(seats=1)
    second = book(event_id=first.event_id, seats=1)

    assert CheckinEvent.objects.count() == 1
    public = CheckinEvent.objects.get().public_key
    for booking in (first, second):
        assert signing.secret_verify(signing.secret_parse(booking.tickets()[0].secret), public_key=public)


@pytest.mark.parametrize(
    ("withdraw", "reason"), [("cancelled", "booking_cancelled"), ("refunded", "payment_refunded")]
)
def test_cancelling_or_refunding_revokes_every_ticket_once(withdraw: str, reason: str) -> None:
    booking = book(seats=2)

    deliver(getattr(booking, withdraw)())
    deliver(getattr(booking, withdraw)())

    assert {(t.status, t.revoked_reason) for t in booking.tickets()} == {(TicketStatus.REVOKED, reason)}
    [revoked] = events_of(Topic.TICKETS_REVOKED)
    assert sorted(revoked["ticket_ids"]) == sorted(str(t.pk) for t in booking.tickets())
    assert revoked["reason_code"] == reason


def test_a_confirmation_arriving_after_the_cancellation_issues_no_ticket() -> None:
    booking = Booking(
        booking_id="6f1c1c1e-4c43-4a36-8d8b-0d6b0c1f0a11",
        event_id="2b7d2f1e-5e0d-4f77-9b2d-3f0a9c1e2d33",
        seats=2,
    )

    deliver(booking.cancelled())
    deliver(booking.confirmed())

    assert booking.tickets() == []
    assert events_of(Topic.TICKETS_ISSUED) == []
    assert events_of(Topic.TICKETS_REVOKED) == []
