"""The booking saga's services, one test per status x incoming event.

Each test puts a booking in a status, hands one event's payload to its ``booking_on_*``
service (as the consumer does, but without the inbox) and reads what changed: the status,
the timeline and the events written to the outbox. The API tests (test_api.py) and the saga
tests (tests/saga) drive the same services end to end.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.utils import timezone

from apps.bookings import services
from apps.bookings.models import Booking, BookingStatus, BookingStep
from apps.bookings.tests.support import EVENT_ID, SEATS, seat
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.schemas import (
    Customer,
    LockedSeat,
    PaymentProcessed,
    PaymentRefunded,
    SeatsLocked,
    SeatsLockFailed,
)
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

PRICE = 2000
SEAT_IDS = SEATS[:2]


def booking(status: BookingStatus, **fields: Any) -> Booking:
    """A booking of two seats in ``status``; seats held (hold id, seat facts) unless PENDING."""
    held = status != BookingStatus.PENDING
    values: dict[str, Any] = {
        "reference": f"TF-{uuid.uuid4().hex[:4].upper()}-TEST",
        "user_id": uuid.uuid4(),
        "customer_email": "ada@example.com",
        "customer_name": "Ada",
        "event_id": EVENT_ID,
        "event_name": "Quartet",
        "event_starts_at": timezone.now() + timedelta(days=3),
        "venue_name": "Hall",
        "seat_ids": SEAT_IDS,
        "seats": [seat(seat_id, n) for n, seat_id in enumerate(SEAT_IDS, 1)] if held else [],
        "payment_method": "pm_card_visa",
        "status": status,
        "currency": "EUR",
        "total_cents": PRICE * len(SEAT_IDS) if held else None,
        "hold_id": uuid.uuid4() if held else None,
        "payment_attempt": 1 if held else 0,
        "request_fingerprint": "f" * 64,
        **fields,
    }
    return Booking.objects.create(**values)


def seats_locked(
    target: Booking | str, *, price_cents: int = PRICE, hold_id: str | None = None
) -> SeatsLocked:
    booking_id = str(target.pk) if isinstance(target, Booking) else target
    return SeatsLocked(
        booking_id=booking_id,
        event_id=EVENT_ID,
        hold_id=hold_id or str(uuid.uuid4()),
        seats=[LockedSeat(**seat(seat_id, n, price_cents)) for n, seat_id in enumerate(SEAT_IDS, 1)],
        total_cents=price_cents * len(SEAT_IDS),
        currency="EUR",
        hold_expires_at=timezone.now() + timedelta(minutes=10),
    )


def lock_failed(target: Booking) -> SeatsLockFailed:
    return SeatsLockFailed(
        booking_id=str(target.pk),
        event_id=EVENT_ID,
        reason_code="seats_unavailable",
        reason="Someone else has these seats.",
        unavailable_seat_ids=SEAT_IDS[:1],
    )


def payment(target: Booking, *, succeeded: bool = True, payment_id: str | None = None) -> PaymentProcessed:
    return PaymentProcessed(
        booking_id=str(target.pk),
        payment_id=payment_id or str(uuid.uuid4()),
        attempt=1,
        status="SUCCEEDED" if succeeded else "FAILED",
        amount_cents=PRICE * len(SEAT_IDS),
        currency="EUR",
        provider="simulated",
        failure_code=None if succeeded else "card_declined",
        failure_message=None if succeeded else "Your card was declined.",
    )


def emitted(booking_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The (topic, payload) pairs written to the outbox for the booking, in order."""
    rows = OutboxMessage.objects.using("default").filter(aggregate_id=booking_id).order_by("position")
    return [(row.topic, json.loads(row.body)["payload"]) for row in rows]


def topics(booking_id: str) -> list[str]:
    return [topic for topic, _ in emitted(booking_id)]


def fresh(target: Booking) -> Booking:
    return Booking.objects.get(pk=target.pk)


def steps(target: Booking) -> list[str]:
    return list(BookingStep.objects.filter(booking=target).values_list("step", flat=True))


# --- seats.locked ------------------------------------------------------------------------------


def test_seats_held_for_a_pending_booking_ask_for_its_payment() -> None:
    pending = booking(BookingStatus.PENDING)

    services.booking_on_seats_locked(payload=seats_locked(pending))

    after = fresh(pending)
    assert after.status == BookingStatus.SEATS_LOCKED
    assert (after.total_cents, after.payment_attempt, len(after.seats)) == (4000, 1, 2)
    [(topic, requested)] = emitted(str(pending.pk))
    assert topic == Topic.PAYMENT_REQUESTED
    assert (requested["attempt"], requested["amount_cents"], requested["payment_method"]) == (
        1,
        4000,
        "pm_card_visa",
    )


def test_free_tickets_are_confirmed_without_asking_for_a_payment() -> None:
    pending = booking(BookingStatus.PENDING)

    services.booking_on_seats_locked(payload=seats_locked(pending, price_cents=0))

    after = fresh(pending)
    assert after.status == BookingStatus.CONFIRMED
    assert after.finished_at is not None
    assert topics(str(pending.pk)) == [Topic.BOOKING_CONFIRMED, Topic.SEATS_CONFIRM]
    assert steps(pending) == ["seats.locked", "booking.confirmed"]


def test_seats_held_for_an_unknown_booking_are_released_straight_away() -> None:
    unknown = str(uuid.uuid4())

    services.booking_on_seats_locked(payload=seats_locked(unknown))

    [(topic, release)] = emitted(unknown)
    assert topic == Topic.SEATS_RELEASE
    assert (release["seat_ids"], release["reason"]) == (SEAT_IDS, "unknown booking")
    assert not Booking.objects.filter(pk=unknown).exists()


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.FAILED, BookingStatus.CONFIRMED])
def test_seats_held_too_late_are_released_and_the_booking_keeps_its_status(status: BookingStatus) -> None:
    ended = booking(status)
    late = seats_locked(ended)

    services.booking_on_seats_locked(payload=late)

    assert fresh(ended).status == status
    [(topic, release)] = emitted(str(ended.pk))
    assert topic == Topic.SEATS_RELEASE
    assert (release["hold_id"], release["reason"]) == (late.hold_id, f"booking is {status}")
    assert steps(ended) == ["seats.locked"]


def test_the_hold_a_booking_already_knows_changes_nothing() -> None:
    held = booking(BookingStatus.SEATS_LOCKED)

    services.booking_on_seats_locked(payload=seats_locked(held, hold_id=str(held.hold_id)))

    assert fresh(held).version == held.version
    assert emitted(str(held.pk)) == []


# --- seats.lock-failed ---------------------------------------------------------------------------


def test_no_seats_fail_a_pending_booking() -> None:
    pending = booking(BookingStatus.PENDING)

    services.booking_on_seats_lock_failed(payload=lock_failed(pending))

    after = fresh(pending)
    assert (after.status, after.failure_code) == (BookingStatus.FAILED, "seats_unavailable")
    [(topic, failed)] = emitted(str(pending.pk))
    assert (topic, failed["reason_code"]) == (Topic.BOOKING_FAILED, "seats_unavailable")


@pytest.mark.parametrize(
    "status", [BookingStatus.SEATS_LOCKED, BookingStatus.CONFIRMED, BookingStatus.CANCELLED]
)
def test_no_seats_for_a_booking_past_pending_change_nothing(status: BookingStatus) -> None:
    later = booking(status)

    services.booking_on_seats_lock_failed(payload=lock_failed(later))

    assert fresh(later).version == later.version
    assert emitted(str(later.pk)) == []


# --- payment.processed ---------------------------------------------------------------------------


def test_a_payment_for_held_seats_confirms_the_booking() -> None:
    held = booking(BookingStatus.SEATS_LOCKED)
    paid = payment(held)

    services.booking_on_payment_processed(payload=paid)

    after = fresh(held)
    assert (after.status, after.paid, after.payment_id) == (BookingStatus.CONFIRMED, True, paid.payment_id)
    assert topics(str(held.pk)) == [Topic.BOOKING_CONFIRMED, Topic.SEATS_CONFIRM]


def test_a_declined_payment_fails_the_booking_and_releases_its_seats() -> None:
    held = booking(BookingStatus.SEATS_LOCKED)

    services.booking_on_payment_processed(payload=payment(held, succeeded=False))

    after = fresh(held)
    assert (after.status, after.failure_code) == (BookingStatus.FAILED, "card_declined")
    assert after.failure_reason == "Your card was declined."
    [(release_topic, release), (failed_topic, _)] = emitted(str(held.pk))
    assert (release_topic, failed_topic) == (Topic.SEATS_RELEASE, Topic.BOOKING_FAILED)
    assert (release["hold_id"], release["reason"]) == (str(held.hold_id), "payment failed")


def test_a_success_already_known_changes_nothing() -> None:
    payment_id = str(uuid.uuid4())
    confirmed = booking(BookingStatus.CONFIRMED, paid=True, payment_id=payment_id)

    services.booking_on_payment_processed(payload=payment(confirmed, payment_id=payment_id))

    assert fresh(confirmed).version == confirmed.version
    assert emitted(str(confirmed.pk)) == []


def test_a_success_in_an_unexpected_state_is_not_applied() -> None:
    pending = booking(BookingStatus.PENDING)

    services.booking_on_payment_processed(payload=payment(pending))

    after = fresh(pending)
    assert (after.status, after.paid) == (BookingStatus.PENDING, False)
    assert emitted(str(pending.pk)) == []


def test_a_decline_after_the_booking_moved_on_changes_nothing() -> None:
    confirmed = booking(BookingStatus.CONFIRMED, paid=True, payment_id=str(uuid.uuid4()))

    services.booking_on_payment_processed(payload=payment(confirmed, succeeded=False))

    assert fresh(confirmed).version == confirmed.version
    assert emitted(str(confirmed.pk)) == []


@pytest.mark.parametrize(
    ("status", "reason_code"),
    [(BookingStatus.CANCELLED, "booking_cancelled"), (BookingStatus.FAILED, "late_payment")],
)
def test_a_payment_after_the_booking_ended_is_refunded(status: BookingStatus, reason_code: str) -> None:
    ended = booking(status)

    services.booking_on_payment_processed(payload=payment(ended))

    after = fresh(ended)
    assert (after.status, after.paid, after.refund_state) == (status, True, "REQUESTED")
    [(topic, refund)] = emitted(str(ended.pk))
    assert (topic, refund["reason_code"]) == (Topic.PAYMENT_REFUND_REQUESTED, reason_code)


def test_a_payment_for_an_unknown_booking_is_logged_and_dropped(caplog: pytest.LogCaptureFixture) -> None:
    ghost = Booking(pk=uuid.uuid4())

    services.booking_on_payment_processed(payload=payment(ghost))

    assert "unknown booking" in caplog.text
    assert emitted(str(ghost.pk)) == []


# --- a late payment, both ways: the seats come back, or they were sold meanwhile -----------------


def test_a_late_payment_asks_for_the_seats_back_and_they_are_still_free() -> None:
    expired = booking(BookingStatus.EXPIRED)

    services.booking_on_payment_processed(payload=payment(expired))
    after = fresh(expired)
    assert (after.status, after.paid) == (BookingStatus.EXPIRED, True)
    assert topics(str(expired.pk)) == [Topic.SEATS_REACQUIRE]

    services.booking_on_seats_locked(payload=seats_locked(expired))

    after = fresh(expired)
    assert (after.status, after.refund_state) == (BookingStatus.CONFIRMED, "")
    assert topics(str(expired.pk))[1:] == [Topic.BOOKING_CONFIRMED, Topic.SEATS_CONFIRM]


def test_a_late_payment_whose_seats_were_sold_is_refunded_in_full() -> None:
    expired = booking(BookingStatus.EXPIRED)
    services.booking_on_payment_processed(payload=payment(expired))

    services.booking_on_seats_lock_failed(payload=lock_failed(fresh(expired)))

    after = fresh(expired)
    assert (after.status, after.failure_code, after.refund_state) == (
        BookingStatus.EXPIRED,
        "late_payment_seats_gone",
        "REQUESTED",
    )
    (topic, refund) = emitted(str(expired.pk))[-1]
    assert (topic, refund["reason_code"], refund["amount_cents"]) == (
        Topic.PAYMENT_REFUND_REQUESTED,
        "late_payment",
        None,  # all of it
    )


def test_a_late_payment_already_being_refunded_does_not_take_the_seats_back() -> None:
    refunding = booking(BookingStatus.EXPIRED, paid=True, refund_state="REQUESTED")

    services.booking_on_seats_locked(payload=seats_locked(refunding))

    assert fresh(refunding).status == BookingStatus.EXPIRED
    assert topics(str(refunding.pk)) == [Topic.SEATS_RELEASE]


# --- payment.refunded ----------------------------------------------------------------------------


def test_a_refund_naming_no_cancellation_ends_the_bookings_refund_once() -> None:
    refunding = booking(BookingStatus.EXPIRED, paid=True, refund_state="REQUESTED")
    refunded = PaymentRefunded(
        booking_id=str(refunding.pk),
        payment_id=str(uuid.uuid4()),
        refund_id=str(uuid.uuid4()),
        amount_cents=4000,
        currency="EUR",
        reason_code="late_payment",
        customer=Customer(user_id=str(refunding.user_id), email="ada@example.com", name="Ada"),
    )

    services.booking_on_payment_refunded(payload=refunded)
    services.booking_on_payment_refunded(payload=refunded)

    assert fresh(refunding).refund_state == "REFUNDED"
    assert steps(refunding) == ["payment.refunded"]


# --- every service is its own unit of work --------------------------------------------------------


@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_a_handler_called_on_its_own_is_applied_whole_or_not_at_all() -> None:
    held = booking(BookingStatus.SEATS_LOCKED)

    with (
        mock.patch.object(services, "_confirm", side_effect=RuntimeError("the outbox is gone")),
        pytest.raises(RuntimeError),
    ):
        services.booking_on_payment_processed(payload=payment(held))

    after = fresh(held)
    assert (after.status, after.paid, after.version) == (BookingStatus.SEATS_LOCKED, False, held.version)
    assert steps(held) == []
