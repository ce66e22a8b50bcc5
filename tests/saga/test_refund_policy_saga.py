"""Cancelling under an event's refund policy: the policy's share is refunded, or nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import Booking, BookingStatus
from apps.bookings.services import booking_cancel
from apps.catalog.layout import parse_layout_text
from apps.catalog.services import EventDetails, event_create, venue_create
from apps.inventory.models import Seat, SeatStatus
from apps.payments.models import Payment, PaymentStatus
from tests.support.broker import ManualBroker
from tests.support.saga import OnSale, book
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.schemas import iter_seats
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

POLICY = [{"hours_before": 168, "percent": 100}, {"hours_before": 48, "percent": 50}]


def on_sale(broker: ManualBroker, *, starts_in: timedelta) -> OnSale:
    """Ten seats at 25.00 under POLICY, starting ``starts_in`` from now."""
    layout = parse_layout_text("[Hall] standard\nA: 1-10")
    venue = venue_create(name="Policy Hall", layout=layout)
    starts = timezone.now() + starts_in
    event = event_create(
        details=EventDetails(
            venue_id=str(venue.pk),
            name="Policy Concert",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            prices={"standard": 2500},
            max_seats_per_booking=4,
            refund_policy=POLICY,
        ),
        publish=True,
    )
    broker.settle()
    return OnSale(str(event.pk), [s.seat_id for s in iter_seats(str(event.pk), layout)], 2500)


def payloads(topic: str, booking_id: str) -> list[dict]:
    rows = []
    for alias in ("default", "documents"):
        rows += OutboxMessage.objects.using(alias).filter(topic=topic, aggregate_id=booking_id)
    return [json.loads(row.body)["payload"] for row in rows]


def details(booking_id: str) -> dict[str, str]:
    return dict(Booking.objects.get(pk=booking_id).steps.values_list("step", "detail"))


@pytest.mark.parametrize("times", [1, 2], ids=["once", "every event twice"])
def test_cancelling_three_days_before_refunds_half(broker: ManualBroker, make_buyer, times: int) -> None:
    # Given a confirmed booking of two seats (50.00) for an event three days away: the 50% step
    broker.times = times
    concert = on_sale(broker, starts_in=timedelta(days=3))
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle()

    # When the buyer cancels
    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle()

    # Then 25.00 is refunded, once, and the timeline says how much
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.refund_state, booking.refund_cents) == (
        BookingStatus.CANCELLED,
        "REFUNDED",
        2500,
    )
    [requested] = payloads(Topic.PAYMENT_REFUND_REQUESTED, booking_id)
    [refunded] = payloads(Topic.PAYMENT_REFUNDED, booking_id)
    assert (requested["amount_cents"], refunded["amount_cents"]) == (2500, 2500)
    [cancelled] = payloads(Topic.BOOKING_CANCELLED, booking_id)
    assert (cancelled["refund_due"], cancelled["refund_cents"]) == (True, 2500)
    assert details(booking_id)["booking.cancelled"] == "cancelled by the buyer; refunding 50%, 25.00 EUR"
    assert details(booking_id)["payment.refunded"] == "refunded 25.00 EUR"
    assert Payment.objects.get(booking_id=booking_id).status == PaymentStatus.REFUNDED
    assert set(Seat.objects.filter(event_id=concert.event_id).values_list("status", flat=True)) == {
        SeatStatus.AVAILABLE
    }


def test_cancelling_after_the_last_deadline_requests_no_refund(broker: ManualBroker, make_buyer) -> None:
    # Given a confirmed booking for an event one day away: past the 48-hour step, 0%
    concert = on_sale(broker, starts_in=timedelta(days=1))
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle()

    # When the buyer cancels
    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle()

    # Then the seats are freed but no refund is asked for, and the timeline says why
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.refund_state, booking.refund_cents) == (BookingStatus.CANCELLED, "", 0)
    assert payloads(Topic.PAYMENT_REFUND_REQUESTED, booking_id) == []
    [cancelled] = payloads(Topic.BOOKING_CANCELLED, booking_id)
    assert (cancelled["refund_due"], cancelled["refund_cents"]) == (False, 0)
    assert details(booking_id)["booking.cancelled"] == (
        "cancelled by the buyer; no refund under the event's refund policy"
    )
    assert Payment.objects.get(booking_id=booking_id).status == PaymentStatus.SUCCEEDED
    assert set(Seat.objects.filter(event_id=concert.event_id).values_list("status", flat=True)) == {
        SeatStatus.AVAILABLE
    }
