"""The booking's copy of its tickets, from checkin's events, whatever order they arrive in."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings.services import Buyer, bookable_event_apply_snapshot, booking_create
from apps.bookings.tests.test_api import EVENT_ID, SEATS, snapshot
from tests.support.envelopes import envelope
from ticketflow.messaging import dispatch
from ticketflow.messaging.schemas import (
    Customer,
    IssuedTicket,
    Payload,
    SeatLabel,
    TicketScanned,
    TicketsIssued,
    TicketsRevoked,
)

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

SECRET = "A" * 130


def deliver(payload: Payload) -> None:
    outcome = dispatch.apply(envelope(payload, aggregate_id=payload.booking_id), "bookings")
    assert outcome == dispatch.Outcome.APPLIED


@pytest.fixture
def booked() -> tuple[APIClient, str, list[str]]:
    """A buyer's booking of two seats, and the ids checkin gave their tickets."""
    bookable_event_apply_snapshot(snapshot=snapshot())
    user = get_user_model().objects.create_user(email="ada@example.com", password="x", name="Ada")
    booking, _ = booking_create(
        buyer=Buyer(user_id=str(user.pk), email=user.email, name=user.name),
        event_id=EVENT_ID,
        seat_ids=SEATS[:2],
        payment_method="pm_card_visa",
    )
    client = APIClient()
    client.force_authenticate(user)
    return client, str(booking.pk), [str(uuid.uuid4()), str(uuid.uuid4())]


def issued(booking_id: str, ticket_ids: list[str]) -> TicketsIssued:
    return TicketsIssued(
        booking_id=booking_id,
        reference="TF-7Q2K-9MRX",
        event_id=EVENT_ID,
        event_name="Quartet",
        event_starts_at=timezone.now(),
        venue_name="Hall",
        customer=Customer(user_id="u", email="ada@example.com", name="Ada"),
        seats=[
            SeatLabel(seat_id=s, section="Hall", row="A", number=n, price_cents=2000)
            for n, s in enumerate(SEATS[:2], 1)
        ],
        total_cents=4000,
        currency="EUR",
        tickets=[
            IssuedTicket(ticket_id=t, seat_id=s, secret=SECRET)
            for t, s in zip(ticket_ids, SEATS[:2], strict=True)
        ],
    )


def scanned(booking_id: str, ticket_id: str) -> TicketScanned:
    return TicketScanned(
        booking_id=booking_id,
        event_id=EVENT_ID,
        ticket_id=ticket_id,
        seat_id=SEATS[0],
        scan_id=str(uuid.uuid4()),
        type="entry",
        result="ok",
        accepted=True,
        forced=False,
        scanned_at=timezone.now(),
    )


def tickets(client: APIClient, booking_id: str) -> list[tuple[str, str]]:
    return [(t["id"], t["status"]) for t in client.get(f"/api/bookings/{booking_id}").json()["tickets"]]


def test_issued_then_scanned_then_revoked(booked) -> None:
    client, booking_id, ids = booked

    deliver(issued(booking_id, ids))
    deliver(issued(booking_id, ids))  # a replay past the inbox
    deliver(scanned(booking_id, ids[0]))
    after_scan = tickets(client, booking_id)
    deliver(
        TicketsRevoked(
            booking_id=booking_id, event_id=EVENT_ID, ticket_ids=ids, reason_code="booking_cancelled"
        )
    )

    assert after_scan == [(ids[0], "checked_in"), (ids[1], "valid")]
    assert tickets(client, booking_id) == [(ids[0], "revoked"), (ids[1], "revoked")]
    steps = [s["step"] for s in client.get(f"/api/bookings/{booking_id}").json()["timeline"]]
    assert steps[-3:] == ["tickets.issued", "ticket.scanned", "tickets.revoked"]


def test_a_revocation_and_a_scan_that_overtake_the_issue_are_kept(booked) -> None:
    client, booking_id, ids = booked

    deliver(scanned(booking_id, ids[0]))
    deliver(
        TicketsRevoked(
            booking_id=booking_id, event_id=EVENT_ID, ticket_ids=[ids[1]], reason_code="payment_refunded"
        )
    )
    before = tickets(client, booking_id)
    deliver(issued(booking_id, ids))

    assert before == []  # nothing to show the owner without the secrets
    assert tickets(client, booking_id) == [(ids[0], "checked_in"), (ids[1], "revoked")]
    body = client.get(f"/api/bookings/{booking_id}").json()
    assert [t["secret"] for t in body["tickets"]] == [SECRET, SECRET]
