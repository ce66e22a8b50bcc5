"""The hold-expiry sweep is safe to run on several workers at once (real PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from apps.bookings.models import Booking, BookingStatus
from apps.bookings.services import bookings_expire_overdue
from tests.support.broker import ManualBroker
from tests.support.saga import OnSale, book
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def test_four_sweeps_racing_expire_each_overdue_booking_exactly_once(
    broker: ManualBroker, concert: OnSale, make_buyer
) -> None:
    fans = [make_buyer(f"Fan{i}") for i in range(len(concert.seat_ids))]
    ids = [book(fan, concert, [seat]) for fan, seat in zip(fans, concert.seat_ids, strict=True)]
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    assert set(Booking.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        BookingStatus.SEATS_LOCKED
    }
    later = timezone.now() + timedelta(minutes=11)
    counts: list[int] = []
    start = threading.Barrier(4)

    def sweep() -> None:
        start.wait()
        try:
            counts.append(bookings_expire_overdue(now=later))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == len(ids) == 10
    assert set(Booking.objects.filter(pk__in=ids).values_list("status", flat=True)) == {BookingStatus.EXPIRED}
    expired_events = OutboxMessage.objects.using("default").filter(topic=Topic.BOOKING_EXPIRED)
    assert sorted(expired_events.values_list("aggregate_id", flat=True)) == sorted(ids)
    assert OutboxMessage.objects.using("default").filter(topic=Topic.SEATS_RELEASE).count() == 10
