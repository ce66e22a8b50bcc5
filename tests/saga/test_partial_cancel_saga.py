"""Cancelling one seat of a confirmed booking, across every context.

Bookings keeps the booking CONFIRMED with the other seat and asks for the refund policy's
share of the cancelled seat's price; inventory puts that seat back on sale; checkin revokes
its ticket only; payments refunds it once; notifications emails the buyer. A refund the
provider cannot make now leaves the seat released and is made when the event is retried.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.bookings.models import Booking, BookingStatus
from apps.checkin.services import scan_redeem
from apps.inventory.models import Seat, SeatStatus
from apps.payments.exceptions import ProviderUnavailable
from apps.payments.models import Payment, PaymentStatus, Refund
from apps.payments.providers.simulated import SimulatedProvider
from relay.engine import Relay
from tests.saga.test_refund_policy_saga import details, on_sale, payloads
from tests.support.broker import ManualBroker
from tests.support.saga import OnSale, book
from ticketflow.messaging.models import DeadLetter
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

HALF = 1250  # 50% of one 25.00 seat, three days out under the policy


def client_of(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def seat_states(concert: OnSale, seat_ids: list[str]) -> list[str]:
    by_id = {str(seat.id): seat.status for seat in Seat.objects.filter(event_id=concert.event_id)}
    return [by_id[seat_id] for seat_id in seat_ids]


def secrets_of(user: Any, booking_id: str) -> dict[str, str]:
    body = client_of(user).get(f"/api/bookings/{booking_id}").json()
    return {ticket["seat_id"]: ticket["secret"] for ticket in body["tickets"]}


def cancel_seats(user: Any, booking_id: str, seat_ids: list[str]) -> dict[str, Any]:
    response = client_of(user).post(
        f"/api/bookings/{booking_id}/cancel", {"seat_ids": seat_ids}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def payment_of(booking_id: str) -> Payment:
    return Payment.objects.using("documents").get(booking_id=booking_id)


@pytest.mark.parametrize("times", [1, 2], ids=["once", "every event twice"])
def test_cancelling_one_seat_of_two_refunds_its_share_and_frees_only_it(
    broker: ManualBroker, make_buyer, times: int
) -> None:
    # Given Ada's confirmed booking of two 25.00 seats, three days out: the 50% step
    broker.times = times
    concert = on_sale(broker, starts_in=timedelta(days=3))
    ada = make_buyer("Ada")
    gone, kept = concert.seat_ids[:2]
    booking_id = book(ada, concert, [gone, kept])
    broker.settle()
    secrets = secrets_of(ada, booking_id)
    mail.outbox.clear()

    # When she cancels the first seat
    cancel_seats(ada, booking_id, [gone])
    broker.settle()

    # Then exactly 50% of that seat's price is refunded, once
    [requested] = payloads(Topic.PAYMENT_REFUND_REQUESTED, booking_id)
    [refunded] = payloads(Topic.PAYMENT_REFUNDED, booking_id)
    assert (requested["amount_cents"], refunded["amount_cents"], refunded["reason_code"]) == (
        HALF,
        HALF,
        "seats_cancelled",
    )
    payment = payment_of(booking_id)
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.PARTIALLY_REFUNDED, HALF)
    assert Refund.objects.using("documents").filter(booking_id=booking_id).count() == 1
    # And that seat is back on sale while the other stays sold
    assert seat_states(concert, [gone, kept]) == [SeatStatus.AVAILABLE, SeatStatus.RESERVED]
    # And only its ticket is refused at the door; the other still admits
    assert (
        scan_redeem(event_id=concert.event_id, secret=secrets[gone], nonce="gate-1:0001").result == "revoked"
    )
    assert scan_redeem(event_id=concert.event_id, secret=secrets[kept], nonce="gate-1:0002").result == "ok"
    broker.settle()
    [revoked] = payloads(Topic.TICKETS_REVOKED, booking_id)
    assert (len(revoked["ticket_ids"]), revoked["reason_code"]) == (1, "seats_cancelled")
    # And the booking goes on with one seat, its timeline and total saying what happened
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.seat_ids, booking.total_cents) == (BookingStatus.CONFIRMED, [kept], 2500)
    assert (booking.refund_cents, booking.refund_state) == (HALF, "REFUNDED")
    steps = details(booking_id)
    assert steps["booking.seats-cancelled"] == (
        "cancelled 1 of 2 seats (Hall, row A, seat 1) by the buyer; refunding 50%, 12.50 EUR"
    )
    assert steps["payment.refunded"] == "refunded 12.50 EUR for the 1 cancelled seat"
    assert [s["step"] for s in client_of(ada).get(f"/api/bookings/{booking_id}").json()["timeline"]].count(
        "payment.refunded"
    ) == 1
    ticket_statuses = {
        t["seat_id"]: t["status"] for t in client_of(ada).get(f"/api/bookings/{booking_id}").json()["tickets"]
    }
    assert ticket_statuses == {gone: "revoked", kept: "checked_in"}
    # And the buyer was told once which seat went and what comes back
    [email] = [m for m in mail.outbox if "cancelled" in m.subject]
    assert email.subject == f"1 seat of your booking {booking.reference} cancelled"
    assert "€12.50" in email.body

    # When she cancels the last seat too, by name
    mail.outbox.clear()
    assert cancel_seats(ada, booking_id, [kept])["status"] == "CANCELLED"
    broker.settle()

    # Then the booking ends as a full cancellation, each refund made once
    assert [p["amount_cents"] for p in payloads(Topic.PAYMENT_REFUNDED, booking_id)] == [HALF, HALF]
    payment = payment_of(booking_id)
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.REFUNDED, 2 * HALF)
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.refund_cents, booking.refund_state) == (
        BookingStatus.CANCELLED,
        2 * HALF,
        "REFUNDED",
    )
    assert seat_states(concert, [gone, kept]) == [SeatStatus.AVAILABLE, SeatStatus.AVAILABLE]
    assert [email.subject for email in mail.outbox] == [
        f"Your booking {booking.reference} for Policy Concert is cancelled"
    ]


def test_a_refund_the_provider_cannot_make_leaves_the_seat_released_and_is_made_on_retry(
    broker: ManualBroker, make_buyer, inprocess_relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a confirmed booking of two seats, and a provider that takes no refund for now
    concert = on_sale(broker, starts_in=timedelta(days=3))
    ada = make_buyer("Ada")
    gone, kept = concert.seat_ids[:2]
    booking_id = book(ada, concert, [gone, kept])
    inprocess_relay.drain()
    real_refund = SimulatedProvider.refund
    calls: list[int] = []

    def unavailable(self: SimulatedProvider, **kwargs: Any) -> Any:
        calls.append(kwargs["amount_cents"])
        raise ProviderUnavailable("the provider timed out")

    monkeypatch.setattr(SimulatedProvider, "refund", unavailable)

    # When one seat is cancelled
    cancel_seats(ada, booking_id, [gone])
    inprocess_relay.drain()

    # Then the seat is released and its ticket revoked all the same, while the refund was
    # retried and then parked, nothing refunded
    assert seat_states(concert, [gone, kept]) == [SeatStatus.AVAILABLE, SeatStatus.RESERVED]
    assert {
        t["seat_id"]: t["status"] for t in client_of(ada).get(f"/api/bookings/{booking_id}").json()["tickets"]
    } == {
        gone: "revoked",
        kept: "valid",
    }
    assert calls == [HALF] * 4
    [letter] = DeadLetter.objects.using("documents").filter(topic=Topic.PAYMENT_REFUND_REQUESTED)
    assert letter.attempts == 4
    assert (payment_of(booking_id).status, payment_of(booking_id).refunded_cents) == (
        PaymentStatus.SUCCEEDED,
        0,
    )
    assert Booking.objects.get(pk=booking_id).refund_state == "REQUESTED"

    # When the provider is back and the dead letter is replayed
    monkeypatch.setattr(SimulatedProvider, "refund", real_refund)
    call_command("replay", "--dead-letters", "--context", "payments")
    inprocess_relay.drain()

    # Then the refund is made, once, and the booking notes it
    payment = payment_of(booking_id)
    assert (payment.status, payment.refunded_cents) == (PaymentStatus.PARTIALLY_REFUNDED, HALF)
    assert [p["amount_cents"] for p in payloads(Topic.PAYMENT_REFUNDED, booking_id)] == [HALF]
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.refund_state, booking.refund_cents) == (
        BookingStatus.CONFIRMED,
        "REFUNDED",
        HALF,
    )


def test_a_refund_that_fails_once_is_made_by_the_consumers_retry(
    broker: ManualBroker, make_buyer, inprocess_relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    concert = on_sale(broker, starts_in=timedelta(days=3))
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    inprocess_relay.drain()
    real_refund = SimulatedProvider.refund
    failures = iter([ProviderUnavailable("a blip")])

    def flaky(self: SimulatedProvider, **kwargs: Any) -> Any:
        if (failure := next(failures, None)) is not None:
            raise failure
        return real_refund(self, **kwargs)

    monkeypatch.setattr(SimulatedProvider, "refund", flaky)

    cancel_seats(ada, booking_id, concert.seat_ids[:1])
    inprocess_relay.drain()

    assert not DeadLetter.objects.using("documents").exists()
    assert payment_of(booking_id).refunded_cents == HALF
    assert [p["amount_cents"] for p in payloads(Topic.PAYMENT_REFUNDED, booking_id)] == [HALF]
    assert Booking.objects.get(pk=booking_id).refund_state == "REFUNDED"
