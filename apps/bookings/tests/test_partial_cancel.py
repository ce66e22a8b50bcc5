"""Cancelling some seats of a confirmed booking: POST /api/bookings/{id}/cancel with seat_ids."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from apps.bookings.models import Booking, BookingCancellation, BookingStatus, TicketTransfer
from apps.bookings.services import bookable_event_apply_snapshot
from apps.bookings.tests.support import EVENT_ID, SEATS, arena, client_for, seat, snapshot
from tests.support.envelopes import envelope
from ticketflow.messaging import dispatch
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.schemas import (
    Customer,
    IssuedTicket,
    LockedSeat,
    Payload,
    PaymentProcessed,
    PaymentRefunded,
    SeatLabel,
    SeatsLocked,
    TicketsIssued,
)
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

POLICY = [{"hours_before": 168, "percent": 100}, {"hours_before": 48, "percent": 50}]
PRICE = 2000  # each seat of the support events
ARENA_ID = "1f0c8e2a-5b7d-4c3e-9a61-2d4b6f8e0c37"


def deliver(payload: Payload, *, event_id: uuid.UUID | None = None) -> dispatch.Outcome:
    return dispatch.apply(envelope(payload, aggregate_id=payload.booking_id, event_id=event_id), "bookings")


def emitted(topic: str, booking_id: str) -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.using("default").filter(topic=topic, aggregate_id=booking_id)
    return [json.loads(row.body)["payload"] for row in rows.order_by("position")]


def hold(booking_id: str, seat_ids: list[str], *, event_id: str = EVENT_ID) -> None:
    """Inventory's answer: the booking's seats held, numbered 1, 2, ... in row A."""
    outcome = deliver(
        SeatsLocked(
            booking_id=booking_id,
            event_id=event_id,
            hold_id=str(uuid.uuid4()),
            seats=[LockedSeat(**seat(seat_id, n)) for n, seat_id in enumerate(seat_ids, 1)],
            total_cents=PRICE * len(seat_ids),
            currency="EUR",
            hold_expires_at=timezone.now() + timedelta(minutes=10),
        )
    )
    assert outcome == dispatch.Outcome.APPLIED


def pay(booking_id: str, amount_cents: int) -> None:
    outcome = deliver(
        PaymentProcessed(
            booking_id=booking_id,
            payment_id=str(uuid.uuid4()),
            attempt=1,
            status="SUCCEEDED",
            amount_cents=amount_cents,
            currency="EUR",
            provider="simulated",
        )
    )
    assert outcome == dispatch.Outcome.APPLIED


def issue_tickets(booking_id: str, count: int) -> list[str]:
    ticket_ids = [str(uuid.uuid4()) for _ in range(count)]
    outcome = deliver(
        TicketsIssued(
            booking_id=booking_id,
            reference="TF-7Q2K-9MRX",
            event_id=EVENT_ID,
            event_name="Quartet",
            event_starts_at=timezone.now() + timedelta(days=3),
            venue_name="Hall",
            customer=Customer(user_id="u", email="ada@example.com", name="Ada"),
            seats=[SeatLabel(**seat(seat_id, n)) for n, seat_id in enumerate(SEATS[:count], 1)],
            total_cents=PRICE * count,
            currency="EUR",
            tickets=[
                IssuedTicket(ticket_id=ticket_id, seat_id=SEATS[n], secret="A" * 130)
                for n, ticket_id in enumerate(ticket_ids)
            ],
        )
    )
    assert outcome == dispatch.Outcome.APPLIED
    return ticket_ids


def refund_of(booking_id: str, cancellation_id: str) -> PaymentRefunded:
    """Payments' answer to a cancellation's refund request: 10.00 back."""
    return PaymentRefunded(
        booking_id=booking_id,
        payment_id=str(uuid.uuid4()),
        refund_id="re_1",
        amount_cents=1000,
        currency="EUR",
        reason_code="seats_cancelled",
        customer=Customer(user_id="u", email="ada@example.com", name="Ada"),
        refund_request_id=cancellation_id,
    )


def book(client: APIClient, seat_ids: list[str], *, event_id: str = EVENT_ID) -> str:
    response = client.post(
        "/api/bookings",
        {"event_id": event_id, "seat_ids": seat_ids, "payment_method": "pm_card_visa"},
        format="json",
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


@pytest.fixture
def ada() -> tuple[APIClient, Any]:
    """Ada, signed in, with an event three days away under POLICY (the 50% step)."""
    bookable_event_apply_snapshot(
        snapshot=snapshot(refund_policy=POLICY, starts_at=timezone.now() + timedelta(days=3))
    )
    return client_for("ada@example.com")


def confirmed(
    client: APIClient, count: int = 0, *, seat_ids: list[str] | None = None, event_id: str = EVENT_ID
) -> str:
    """A paid, confirmed booking of the first ``count`` seats (or of ``seat_ids``)."""
    seat_ids = seat_ids or SEATS[:count]
    booking_id = book(client, seat_ids, event_id=event_id)
    hold(booking_id, seat_ids, event_id=event_id)
    pay(booking_id, PRICE * len(seat_ids))
    assert Booking.objects.get(pk=booking_id).status == BookingStatus.CONFIRMED
    return booking_id


def cancel(client: APIClient, booking_id: str, body: Any = None) -> Any:
    if body is None:
        return client.post(f"/api/bookings/{booking_id}/cancel")
    return client.post(f"/api/bookings/{booking_id}/cancel", body, format="json")


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    return response.json()["error"]


def details(booking_id: str) -> list[tuple[str, str, str]]:
    booking = Booking.objects.get(pk=booking_id)
    return list(booking.steps.order_by("at", "id").values_list("step", "status", "detail"))


def test_cancelling_one_seat_of_two_keeps_the_booking_with_the_other(ada) -> None:
    # Given Ada's confirmed booking of two seats at 20.00, three days out (50%)
    client, _ = ada
    booking_id = confirmed(client, 2)

    # When she cancels the first seat
    response = cancel(client, booking_id, {"seat_ids": [SEATS[0]]})

    # Then the booking stays confirmed with the other seat, its total and refund say so
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["seat_ids"], body["total_cents"], body["total"]) == (
        "CONFIRMED",
        [SEATS[1]],
        PRICE,
        "20.00",
    )
    assert [s["seat_id"] for s in body["seats"]] == [SEATS[1]]
    assert (body["refund_cents"], body["refund_state"]) == (1000, "REQUESTED")
    [cancellation] = body["cancellations"]
    assert {key: cancellation[key] for key in ("partial", "seat_ids", "refund_percent", "refund_cents")} == {
        "partial": True,
        "seat_ids": [SEATS[0]],
        "refund_percent": 50,
        "refund_cents": 1000,
    }
    assert [s["seat_id"] for s in cancellation["seats"]] == [SEATS[0]]
    assert details(booking_id)[-1] == (
        "booking.seats-cancelled",
        "CONFIRMED",
        "cancelled 1 of 2 seats (Hall, row A, seat 1) by the buyer; refunding 50%, 10.00 EUR",
    )
    # And the saga is told: inventory and checkin which seat, payments how much, once
    [event] = emitted(Topic.BOOKING_SEATS_CANCELLED, booking_id)
    assert {key: event[key] for key in ("cancellation_id", "seat_ids", "refund_percent", "refund_cents")} == {
        "cancellation_id": cancellation["id"],
        "seat_ids": [SEATS[0]],
        "refund_percent": 50,
        "refund_cents": 1000,
    }
    assert [s["seat_id"] for s in event["seats"]] == [SEATS[0]]
    [refund] = emitted(Topic.PAYMENT_REFUND_REQUESTED, booking_id)
    assert (refund["amount_cents"], refund["reason_code"], refund["refund_request_id"]) == (
        1000,
        "seats_cancelled",
        cancellation["id"],
    )
    assert emitted(Topic.BOOKING_CANCELLED, booking_id) == []


def test_the_last_seats_cancelled_by_name_end_the_booking_like_a_full_cancellation(ada) -> None:
    # Given a confirmed booking of three seats with one already cancelled
    client, _ = ada
    booking_id = confirmed(client, 3)
    assert cancel(client, booking_id, {"seat_ids": [SEATS[1]]}).status_code == 200

    # When the buyer cancels one more, then names both seats that are left
    second = cancel(client, booking_id, {"seat_ids": [SEATS[0]]})
    last = cancel(client, booking_id, {"seat_ids": [SEATS[2]]})

    # Then the second is partial and the last ends the booking, each refunding its own share
    assert (second.status_code, second.json()["status"], second.json()["total_cents"]) == (
        200,
        "CONFIRMED",
        PRICE,
    )
    assert last.status_code == 200, last.content
    body = last.json()
    assert (body["status"], body["refund_cents"], body["refund_state"]) == ("CANCELLED", 3000, "REQUESTED")
    assert [c["partial"] for c in body["cancellations"]] == [True, True, False]
    [cancelled] = emitted(Topic.BOOKING_CANCELLED, booking_id)
    assert (cancelled["seat_ids"], cancelled["refund_cents"], cancelled["was_confirmed"]) == (
        [SEATS[2]],
        1000,
        True,
    )
    requests = emitted(Topic.PAYMENT_REFUND_REQUESTED, booking_id)
    assert [(r["amount_cents"], r["reason_code"]) for r in requests] == [
        (1000, "seats_cancelled"),
        (1000, "seats_cancelled"),
        (1000, "booking_cancelled"),
    ]
    assert [r["refund_request_id"] for r in requests] == [c["id"] for c in body["cancellations"]]
    assert details(booking_id)[-1] == (
        "booking.cancelled",
        "CANCELLED",
        "cancelled by the buyer; refunding 50%, 10.00 EUR",
    )


def test_naming_every_seat_is_the_full_cancellation(ada) -> None:
    client, _ = ada
    booking_id = confirmed(client, 2)

    response = cancel(client, booking_id, {"seat_ids": [SEATS[1], SEATS[0]]})

    body = response.json()
    assert (response.status_code, body["status"], body["refund_cents"]) == (200, "CANCELLED", 2000)
    assert emitted(Topic.BOOKING_SEATS_CANCELLED, booking_id) == []
    [cancelled] = emitted(Topic.BOOKING_CANCELLED, booking_id)
    assert cancelled["seat_ids"] == SEATS[:2]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"seat_ids": []}, "invalid", "seat_ids"),
        ({"seat_ids": [SEATS[0], SEATS[0]]}, "invalid", "seat_ids"),
        ({"seat_ids": None}, "invalid", "seat_ids"),
        ({"seat_ids": "all"}, "invalid", "seat_ids"),
        ({"seat_ids": [SEATS[5]]}, "unknown_seats", "seat_ids"),
        ({"seat_ids": ["not-a-seat", SEATS[0]]}, "unknown_seats", "seat_ids"),
        (["not", "an", "object"], "invalid", "non_field_errors"),
    ],
    ids=["empty", "twice", "null", "not a list", "another seat", "unknown", "not an object"],
)
def test_bad_seats_are_a_400_and_change_nothing(ada, body: Any, code: str, field: str) -> None:
    client, _ = ada
    booking_id = confirmed(client, 2)
    version = Booking.objects.get(pk=booking_id).version

    failure = error(cancel(client, booking_id, body), 400)

    assert (failure["code"], list(failure["details"]["fields"])) == (code, [field])
    if code == "unknown_seats":
        assert failure["details"]["unknown_seat_ids"] == sorted(set(body["seat_ids"]) - set(SEATS[:2]))
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.version, booking.status, booking.seat_ids) == (
        version,
        BookingStatus.CONFIRMED,
        SEATS[:2],
    )
    assert not BookingCancellation.objects.exists()
    assert emitted(Topic.BOOKING_SEATS_CANCELLED, booking_id) == []


def test_a_seat_already_cancelled_is_a_400_naming_it(ada) -> None:
    client, _ = ada
    booking_id = confirmed(client, 3)
    assert cancel(client, booking_id, {"seat_ids": [SEATS[0]]}).status_code == 200

    failure = error(cancel(client, booking_id, {"seat_ids": [SEATS[0], SEATS[1]]}), 400)

    assert (failure["code"], failure["details"]["cancelled_seat_ids"]) == (
        "seats_already_cancelled",
        [SEATS[0]],
    )
    assert Booking.objects.get(pk=booking_id).seat_ids == SEATS[1:3]
    assert len(emitted(Topic.BOOKING_SEATS_CANCELLED, booking_id)) == 1


@pytest.mark.parametrize("stage", ["pending", "seats held"])
def test_some_seats_of_a_booking_not_confirmed_yet_is_a_409(ada, stage: str) -> None:
    client, _ = ada
    booking_id = book(client, SEATS[:2])
    if stage == "seats held":
        hold(booking_id, SEATS[:2])

    failure = error(cancel(client, booking_id, {"seat_ids": [SEATS[0]]}), 409)

    assert failure["code"] == "partial_cancel_not_allowed"
    assert Booking.objects.get(pk=booking_id).seat_ids == SEATS[:2]
    # The whole booking can still be cancelled, by name or without a body
    assert cancel(client, booking_id, {"seat_ids": SEATS[:2]}).json()["status"] == "CANCELLED"


def test_an_ended_booking_or_a_started_event_is_a_409(ada) -> None:
    client, _ = ada
    ended = confirmed(client, 2)
    assert cancel(client, ended).json()["status"] == "CANCELLED"
    started = confirmed(client, seat_ids=SEATS[2:4])
    Booking.objects.filter(pk=started).update(event_starts_at=timezone.now() - timedelta(minutes=1))

    assert error(cancel(client, ended, {"seat_ids": [SEATS[0]]}), 409)["code"] == "already_finished"
    assert error(cancel(client, started, {"seat_ids": [SEATS[2]]}), 409)["code"] == "too_late"


def test_only_the_buyer_or_staff_cancel_seats(ada) -> None:
    client, _ = ada
    booking_id = confirmed(client, 3)
    bob, _ = client_for("bob@example.com")
    organiser, user = client_for("box-office@example.com")
    user.groups.add(Group.objects.get(name="Organisers"))

    assert error(cancel(bob, booking_id, {"seat_ids": [SEATS[0]]}), 404)["code"] == "not_found"
    assert error(cancel(client, str(uuid.uuid4()), {"seat_ids": [SEATS[0]]}), 404)["code"] == "not_found"
    by_staff = cancel(organiser, booking_id, {"seat_ids": [SEATS[0]]})

    assert by_staff.status_code == 200, by_staff.content
    assert details(booking_id)[-1][2] == (
        "cancelled 1 of 3 seats (Hall, row A, seat 1) by staff; refunding 50%, 10.00 EUR"
    )


def test_the_refund_of_a_partial_cancellation_is_noted_once(ada) -> None:
    # Given one seat of two cancelled, its refund requested
    client, _ = ada
    booking_id = confirmed(client, 2)
    cancellation_id = cancel(client, booking_id, {"seat_ids": [SEATS[0]]}).json()["cancellations"][0]["id"]
    refunded = refund_of(booking_id, cancellation_id)

    # When payments announces it, then a replay gets past the inbox
    first = deliver(refunded)
    again = deliver(refunded)

    # Then the booking is refunded, once, and still confirmed
    assert (first, again) == (dispatch.Outcome.APPLIED, dispatch.Outcome.APPLIED)
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.status, booking.refund_state, booking.refund_cents) == (
        BookingStatus.CONFIRMED,
        "REFUNDED",
        1000,
    )
    cancellation = BookingCancellation.objects.get(pk=cancellation_id)
    assert (cancellation.refund_state, cancellation.refunded_cents, cancellation.refund_ids) == (
        "REFUNDED",
        1000,
        ["re_1"],
    )
    refunds = [step for step in details(booking_id) if step[0] == "payment.refunded"]
    assert refunds == [("payment.refunded", "CONFIRMED", "refunded 10.00 EUR for the 1 cancelled seat")]


def test_a_cancellation_refund_noted_while_another_waits_leaves_the_booking_requested(ada) -> None:
    client, _ = ada
    booking_id = confirmed(client, 3)
    first = cancel(client, booking_id, {"seat_ids": [SEATS[0]]}).json()["cancellations"][0]["id"]
    cancel(client, booking_id, {"seat_ids": [SEATS[1]]})

    deliver(refund_of(booking_id, first))

    booking = Booking.objects.get(pk=booking_id)
    assert (booking.refund_state, booking.refund_cents) == ("REQUESTED", 2000)


def test_pending_offers_of_a_cancelled_seats_ticket_are_withdrawn_and_the_others_stay(ada) -> None:
    client, _ = ada
    booking_id = confirmed(client, 3)
    first, second, _ = issue_tickets(booking_id, 3)
    offered = [
        client.post(
            f"/api/bookings/{booking_id}/transfers", {"ticket_ids": ids, "email": email}, format="json"
        )
        for ids, email in (([first], "bea@example.com"), ([second], "cy@example.com"))
    ]
    assert [response.status_code for response in offered] == [201, 201]

    cancel(client, booking_id, {"seat_ids": [SEATS[0]]})

    statuses = dict(TicketTransfer.objects.values_list("recipient_email", "status"))
    assert statuses == {"bea@example.com": "CANCELLED", "cy@example.com": "PENDING"}


def test_cancelled_seats_stop_counting_against_the_purchase_limit(ada) -> None:
    # Given an event allowing 2 seats per booking and 4 per buyer, and Ada holding 4
    client, _ = ada
    seats = arena(ARENA_ID, refund_policy=POLICY)
    first = confirmed(client, seat_ids=seats[:2], event_id=ARENA_ID)
    book(client, seats[2:4], event_id=ARENA_ID)
    refused = client.post(
        "/api/bookings",
        {"event_id": ARENA_ID, "seat_ids": seats[4:5], "payment_method": "pm_card_visa"},
        format="json",
    )
    assert error(refused, 409)["code"] == "purchase_limit_reached"

    # When one seat of her confirmed booking is cancelled
    cancel(client, first, {"seat_ids": [seats[0]]})

    # Then she may book one more
    again = client.post(
        "/api/bookings",
        {"event_id": ARENA_ID, "seat_ids": seats[4:5], "payment_method": "pm_card_visa"},
        format="json",
    )
    assert again.status_code == 202, again.content
