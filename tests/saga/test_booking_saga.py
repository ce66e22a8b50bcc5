"""The booking saga end to end, across every context, through the real outbox and inbox.

A broker steered by the test delivers the events (``tests.support.broker.ManualBroker``), so
each scenario can place a crash, an expiry or a duplicate exactly where it wants. These
run on PostgreSQL + Redis in the services run and on SQLite in the embedded run.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.bookings.models import Booking, BookingStatus
from apps.bookings.services import booking_cancel, bookings_expire_overdue
from apps.inventory.models import Seat, SeatStatus
from apps.notifications.models import Notification
from apps.payments.models import Payment, PaymentStatus
from tests.support.broker import ManualBroker
from tests.support.saga import OnSale, book
from ticketflow import seat_claims
from ticketflow.errors import Conflict
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def seat_states(event: OnSale) -> dict[str, str]:
    rows = Seat.objects.filter(event_id=event.event_id).values_list("id", "status")
    return {str(seat_id): status for seat_id, status in rows}


def emails_to(user) -> list[str]:
    return [message.subject for message in mail.outbox if user.email in message.to]


def steps(booking_id: str) -> list[str]:
    return list(Booking.objects.get(pk=booking_id).steps.values_list("step", flat=True))


def test_happy_path_confirms_reserves_the_seats_and_sends_one_email(broker, concert, make_buyer) -> None:
    ada = make_buyer("Ada")
    mail.outbox.clear()

    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle()

    booking = Booking.objects.get(pk=booking_id)
    assert booking.status == BookingStatus.CONFIRMED
    assert (booking.total_cents, booking.currency, booking.paid) == (5000, "EUR", True)
    assert steps(booking_id) == ["requested", "seats.locked", "payment.processed", "tickets.issued"]
    states = seat_states(concert)
    assert [states[s] for s in concert.seat_ids[:2]] == [SeatStatus.RESERVED, SeatStatus.RESERVED]
    assert list(states.values()).count(SeatStatus.AVAILABLE) == 8
    [payment] = Payment.objects.filter(booking_id=booking_id)
    assert (payment.status, payment.amount_cents, payment.attempt) == (PaymentStatus.SUCCEEDED, 5000, 1)
    assert len(emails_to(ada)) == 1
    assert booking.reference in mail.outbox[-1].body
    assert list(Notification.objects.filter(booking_id=booking_id).values_list("kind", flat=True)) == [
        "booking_confirmed"
    ]


def test_a_declined_card_fails_the_booking_frees_the_seats_and_says_why(broker, concert, make_buyer) -> None:
    ada = make_buyer("Ada")
    mail.outbox.clear()

    booking_id = book(ada, concert, concert.seat_ids[:2], payment_method="pm_card_chargeDeclined")
    broker.settle()

    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.failure_code) == (BookingStatus.FAILED, "card_declined")
    assert booking.failure_reason == "Your card was declined."
    assert set(seat_states(concert).values()) == {SeatStatus.AVAILABLE}
    assert len(emails_to(ada)) == 1
    assert "declined" in mail.outbox[-1].body
    assert Payment.objects.get(booking_id=booking_id).status == PaymentStatus.FAILED


def test_insufficient_funds_is_explained(broker, concert, make_buyer) -> None:
    booking_id = book(
        make_buyer(), concert, concert.seat_ids[:1], payment_method="pm_card_chargeDeclinedInsufficientFunds"
    )
    broker.settle()

    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.failure_code) == (BookingStatus.FAILED, "insufficient_funds")
    assert booking.failure_reason == "Your card has insufficient funds."


def test_seats_already_sold_are_refused_at_the_door_and_nothing_is_written(
    broker, concert, make_buyer
) -> None:
    ada, bob = make_buyer("Ada"), make_buyer("Bob")
    first = book(ada, concert, concert.seat_ids[:2])
    broker.settle()
    mail.outbox.clear()

    with pytest.raises(Conflict) as refused:
        book(bob, concert, concert.seat_ids[1:3])

    assert refused.value.code == "seats_unavailable"
    assert refused.value.details == {"unavailable_seat_ids": [concert.seat_ids[1]]}
    assert Booking.objects.get(pk=first).status == BookingStatus.CONFIRMED
    assert not Booking.objects.filter(user_id=bob.id).exists()
    assert broker.pending() == []
    assert emails_to(bob) == []
    # The seat Bob could have had is still free for the next buyer.
    assert seat_states(concert)[concert.seat_ids[2]] == SeatStatus.AVAILABLE
    book(bob, concert, concert.seat_ids[2:3])


def test_seats_taken_behind_the_doors_back_fail_with_a_clear_reason_and_no_charge(
    broker, concert, make_buyer
) -> None:
    ada, bob = make_buyer("Ada"), make_buyer("Bob")
    first = book(ada, concert, concert.seat_ids[:2])
    broker.settle()
    # The claim store forgot everything (a Redis flush): the door lets Bob in, the database decides.
    seat_claims.clear()

    second = book(bob, concert, concert.seat_ids[1:3])
    broker.settle()

    assert Booking.objects.get(pk=first).status == BookingStatus.CONFIRMED
    late = Booking.objects.get(pk=second)
    assert (late.status, late.failure_code) == (BookingStatus.FAILED, "seats_unavailable")
    assert late.failure_reason == "Sorry, someone else got there first: Hall A2 is no longer available."
    assert not Payment.objects.filter(booking_id=second).exists()
    assert seat_states(concert)[concert.seat_ids[2]] == SeatStatus.AVAILABLE
    # And the failed hold left no claim behind: the free seat can be booked at once.
    book(make_buyer("Cy"), concert, concert.seat_ids[2:3])


def test_cancelling_a_confirmed_booking_frees_the_seats_and_refunds(broker, concert, make_buyer) -> None:
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle()
    mail.outbox.clear()

    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle()

    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.refund_state) == (BookingStatus.CANCELLED, "REFUNDED")
    assert set(seat_states(concert).values()) == {SeatStatus.AVAILABLE}
    payment = Payment.objects.get(booking_id=booking_id)
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refund_id
    assert len(emails_to(ada)) == 1
    assert steps(booking_id)[-3:] == ["booking.cancelled", "tickets.revoked", "payment.refunded"]


def test_cancelling_while_the_payment_is_in_flight_refunds_the_late_charge(
    broker, concert, make_buyer
) -> None:
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.SEATS_LOCKED

    booking_cancel(booking_id=booking_id, user_id=str(ada.id))
    broker.settle()

    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.paid, booking.refund_state) == (BookingStatus.CANCELLED, True, "REFUNDED")
    assert Payment.objects.get(booking_id=booking_id).status == PaymentStatus.REFUNDED
    assert set(seat_states(concert).values()) == {SeatStatus.AVAILABLE}


def test_an_unpaid_hold_expires_and_its_seats_go_back_on_sale(broker, concert, make_buyer) -> None:
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:3])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    mail.outbox.clear()

    expired = bookings_expire_overdue(now=timezone.now() + timedelta(minutes=11))
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])

    booking = Booking.objects.get(pk=booking_id)
    assert expired == 1
    assert (booking.status, booking.failure_code) == (BookingStatus.EXPIRED, "hold_expired")
    assert set(seat_states(concert).values()) == {SeatStatus.AVAILABLE}
    assert len(emails_to(ada)) == 1
    assert bookings_expire_overdue(now=timezone.now() + timedelta(minutes=11)) == 0


def test_a_hold_does_not_expire_early(broker, concert, make_buyer) -> None:
    booking_id = book(make_buyer(), concert, concert.seat_ids[:1])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])

    assert bookings_expire_overdue(now=timezone.now() + timedelta(minutes=9)) == 0
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.SEATS_LOCKED


def test_a_late_payment_gets_its_seats_back_when_they_are_still_free(broker, concert, make_buyer) -> None:
    ada = make_buyer("Ada")
    booking_id = book(ada, concert, concert.seat_ids[:2])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    bookings_expire_overdue(now=timezone.now() + timedelta(minutes=11))
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    assert set(seat_states(concert).values()) == {SeatStatus.AVAILABLE}

    broker.settle()  # the payment that was in flight all along succeeds now

    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.paid, booking.refund_state) == (BookingStatus.CONFIRMED, True, "")
    states = seat_states(concert)
    assert [states[s] for s in concert.seat_ids[:2]] == [SeatStatus.RESERVED, SeatStatus.RESERVED]
    assert Payment.objects.get(booking_id=booking_id).status == PaymentStatus.SUCCEEDED
    assert "hold.expired" in steps(booking_id)


def test_a_late_payment_is_refunded_and_the_buyer_told_when_the_seats_are_gone(
    broker, concert, make_buyer
) -> None:
    ada, bob = make_buyer("Ada"), make_buyer("Bob")
    slow = book(ada, concert, concert.seat_ids[:2])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    bookings_expire_overdue(now=timezone.now() + timedelta(minutes=11))
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    quick = book(bob, concert, concert.seat_ids[1:2])
    broker.settle(skip=[Topic.PAYMENT_REQUESTED])
    [slow_payment] = broker.pending(Topic.PAYMENT_REQUESTED)[:1]
    assert slow in slow_payment.body
    mail.outbox.clear()

    broker.settle()

    assert Booking.objects.get(pk=quick).status == BookingStatus.CONFIRMED
    booking = Booking.objects.get(pk=slow)
    assert (booking.status, booking.paid, booking.refund_state) == (BookingStatus.EXPIRED, True, "REFUNDED")
    assert booking.failure_code == "late_payment_seats_gone"
    assert Payment.objects.get(booking_id=slow).status == PaymentStatus.REFUNDED
    assert len(emails_to(ada)) == 1
    assert "refund" in emails_to(ada)[0].lower()
    states = seat_states(concert)
    assert (states[concert.seat_ids[0]], states[concert.seat_ids[1]]) == (
        SeatStatus.AVAILABLE,
        SeatStatus.RESERVED,
    )


@pytest.mark.parametrize("scenario", ["confirmed", "declined", "cancelled", "expired", "late_refund"])
def test_every_event_delivered_twice_changes_nothing(
    broker: ManualBroker, concert, make_buyer, scenario: str
) -> None:
    broker.times = 2
    ada, bob = make_buyer("Ada"), make_buyer("Bob")
    mail.outbox.clear()
    method = "pm_card_chargeDeclined" if scenario == "declined" else "pm_card_visa"
    booking_id = book(ada, concert, concert.seat_ids[:2], payment_method=method)
    if scenario in ("expired", "late_refund"):
        broker.settle(skip=[Topic.PAYMENT_REQUESTED])
        bookings_expire_overdue(now=timezone.now() + timedelta(minutes=11))
        broker.settle(skip=[Topic.PAYMENT_REQUESTED])
        if scenario == "late_refund":
            book(bob, concert, concert.seat_ids[:1])
    broker.settle()
    if scenario == "cancelled":
        booking_cancel(booking_id=booking_id, user_id=str(ada.id))
        broker.settle()

    booking = Booking.objects.get(pk=booking_id)
    expected = {
        "confirmed": BookingStatus.CONFIRMED,
        "declined": BookingStatus.FAILED,
        "cancelled": BookingStatus.CANCELLED,
        "expired": BookingStatus.CONFIRMED,  # the late payment got the seats back
        "late_refund": BookingStatus.EXPIRED,
    }[scenario]
    assert booking.status == expected
    payments = Payment.objects.filter(booking_id=booking_id)
    assert payments.count() == 1, "a second delivery must never charge again"
    assert len(emails_to(ada)) == len(set(emails_to(ada))), "a second delivery must never email again"
    assert (
        len(emails_to(ada))
        == {"confirmed": 1, "declined": 1, "cancelled": 2, "expired": 2, "late_refund": 2}[scenario]
    )
    assert (
        steps(booking_id)
        == {
            "confirmed": ["requested", "seats.locked", "payment.processed", "tickets.issued"],
            "declined": ["requested", "seats.locked", "payment.processed"],
            "cancelled": [
                "requested",
                "seats.locked",
                "payment.processed",
                "tickets.issued",
                "booking.cancelled",
                "tickets.revoked",
                "payment.refunded",
            ],
            "expired": [
                "requested",
                "seats.locked",
                "hold.expired",
                "payment.processed",
                "seats.locked",
                "tickets.issued",
            ],
            "late_refund": [
                "requested",
                "seats.locked",
                "hold.expired",
                "payment.processed",
                "seats.lock-failed",
                "payment.refunded",
            ],
        }[scenario]
    ), "a step was applied twice"
    reserved = [s for s, state in seat_states(concert).items() if state == SeatStatus.RESERVED]
    locked = [s for s, state in seat_states(concert).items() if state == SeatStatus.LOCKED]
    assert locked == []
    assert (
        len(reserved)
        == {"confirmed": 2, "declined": 0, "cancelled": 0, "expired": 2, "late_refund": 1}[scenario]
    )
    assert set(broker.delivered) >= {Topic.BOOKING_INITIATED, Topic.PAYMENT_PROCESSED}
