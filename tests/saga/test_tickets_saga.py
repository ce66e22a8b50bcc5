"""Tickets across contexts: checkin issues them, bookings shows them, the email carries their QR codes.

Checkin and bookings never import each other: checkin learns of the booking from
``booking.confirmed`` and ``booking.cancelled``; bookings learns of the tickets and their
scans from ``tickets.issued``, ``tickets.revoked`` and ``ticket.scanned``.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from apps.bookings.services import booking_cancel
from apps.checkin.services import scan_redeem
from tests.support.saga import book

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def owner_view(user, booking_id: str) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(f"/api/bookings/{booking_id}")
    assert response.status_code == 200
    return response.json()


def test_a_confirmed_booking_lists_one_ticket_per_seat_and_emails_one_qr_code_each(
    broker, concert, make_buyer
) -> None:
    ada = make_buyer("Ada")
    mail.outbox.clear()

    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle()

    tickets = owner_view(ada, booking_id)["tickets"]
    # In the booking's seat order (as inventory held them), one ticket per seat.
    assert [t["seat_id"] for t in tickets] == [s["seat_id"] for s in owner_view(ada, booking_id)["seats"]]
    assert sorted(t["seat_id"] for t in tickets) == sorted(concert.seat_ids[:2])
    assert [t["status"] for t in tickets] == ["valid", "valid"]
    assert all(len(t["secret"]) == 130 and uuid.UUID(t["id"]) for t in tickets)
    [email] = mail.outbox
    images = [part for part in email.attachments if part.get_content_type() == "image/png"]
    assert len(images) == 2
    assert all(t["secret"] in email.body for t in tickets)


def test_a_scan_shows_on_the_owners_booking_and_a_cancellation_revokes_at_the_door(
    broker, concert, make_buyer
) -> None:
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle()
    by_seat = {t["seat_id"]: t for t in owner_view(ada, booking_id)["tickets"]}
    first, second = by_seat[concert.seat_ids[0]], by_seat[concert.seat_ids[1]]

    scanned = scan_redeem(event_id=concert.event_id, secret=first["secret"], nonce="gate-1:0001")
    broker.settle()
    seen = owner_view(ada, booking_id)

    assert scanned.result == "ok"
    assert {t["seat_id"]: t["status"] for t in seen["tickets"]} == {
        concert.seat_ids[0]: "checked_in",
        concert.seat_ids[1]: "valid",
    }
    [step] = [s for s in seen["timeline"] if s["step"] == "ticket.scanned"]
    assert step["detail"].startswith("Hall, row A, seat 1: entry admitted at ")

    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle()

    assert [t["status"] for t in owner_view(ada, booking_id)["tickets"]] == ["revoked", "revoked"]
    refused = scan_redeem(event_id=concert.event_id, secret=second["secret"], nonce="gate-1:0002")
    assert refused.result == "revoked"


def test_the_booking_admin_lists_its_tickets_without_their_secrets(broker, concert, make_buyer) -> None:
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:1])
    broker.settle()
    [ticket] = owner_view(ada, booking_id)["tickets"]
    admin = Client()
    admin.force_login(
        get_user_model().objects.create_superuser(email="root@example.com", password="x", name="R")
    )

    page = admin.get(f"/admin/bookings/booking/{booking_id}/change/").content.decode()

    assert ticket["id"] in page
    assert ticket["secret"] not in page
