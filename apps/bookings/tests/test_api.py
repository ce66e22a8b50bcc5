"""The bookings API: its contract, its errors, and that bad input writes nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from apps.bookings.models import BookableEvent, Booking
from apps.bookings.services import bookable_event_apply_snapshot
from apps.bookings.tests.support import CARD, EVENT_ID, SEATS, client_for, snapshot
from ticketflow.messaging.models import OutboxMessage

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def nothing_written() -> bool:
    return not Booking.objects.exists() and not OutboxMessage.objects.using("default").exists()


def test_a_booking_starts_pending_and_announces_itself(on_sale: BookableEvent) -> None:
    client, user = client_for("ada@example.com")

    response = client.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:2], "payment_method": "pm_card_visa"},
        format="json",
    )

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["seat_ids"] == SEATS[:2]
    assert body["reference"].startswith("TF-")
    assert body["timeline"][0]["step"] == "requested"
    assert response["Location"] == f"/api/bookings/{body['id']}"
    [event] = OutboxMessage.objects.using("default").filter(topic="ticketflow.booking.initiated")
    assert event.aggregate_id == body["id"]
    assert Booking.objects.get(pk=body["id"]).user_id == user.id


def test_the_same_idempotency_key_returns_the_same_booking(on_sale: BookableEvent) -> None:
    client, _ = client_for("ada@example.com")
    request = {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": "pm_card_visa"}

    first = client.post("/api/bookings", request, format="json", HTTP_IDEMPOTENCY_KEY="checkout-1")
    again = client.post("/api/bookings", request, format="json", HTTP_IDEMPOTENCY_KEY="checkout-1")

    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Booking.objects.count() == 1
    assert OutboxMessage.objects.using("default").filter(topic="ticketflow.booking.initiated").count() == 1


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(on_sale: BookableEvent) -> None:
    client, _ = client_for("ada@example.com")
    client.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": CARD},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    response = client.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[1:2], "payment_method": CARD},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Booking.objects.count() == 1


def test_another_buyers_idempotency_key_is_their_own(on_sale: BookableEvent) -> None:
    ada, _ = client_for("ada@example.com")
    bob, _ = client_for("bob@example.com")

    first = ada.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": CARD},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )
    second = bob.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[1:2], "payment_method": CARD},
        format="json",
        HTTP_IDEMPOTENCY_KEY="same",
    )

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"event_id": "3f1f0000-0000-4000-8000-000000000000", "seat_ids": ["x"], "payment_method": CARD},
            400,
            "unknown_event",
            "event_id",
        ),
        ({"event_id": "not-a-uuid", "seat_ids": ["x"], "payment_method": CARD}, 400, "invalid", "event_id"),
        ({"event_id": EVENT_ID, "seat_ids": [], "payment_method": CARD}, 400, "invalid", "seat_ids"),
        ({"event_id": EVENT_ID, "payment_method": CARD}, 400, "invalid", "seat_ids"),
        # No default card: with a real provider there is nothing to assume, so none is assumed.
        ({"event_id": EVENT_ID, "seat_ids": SEATS[:1]}, 400, "invalid", "payment_method"),
        (
            {"event_id": EVENT_ID, "seat_ids": SEATS[:5], "payment_method": CARD},
            400,
            "too_many_seats",
            "seat_ids",
        ),
        (
            {"event_id": EVENT_ID, "seat_ids": [SEATS[0], SEATS[0]], "payment_method": CARD},
            400,
            "invalid",
            "seat_ids",
        ),
        (
            {
                "event_id": EVENT_ID,
                "seat_ids": ["9c6d3b8e-7a55-4f0e-9d1f-0c2a6c8e1a11"],
                "payment_method": CARD,
            },
            400,
            "unknown_seats",
            "seat_ids",
        ),
        ({"event_id": EVENT_ID, "seat_ids": "A1", "payment_method": CARD}, 400, "invalid", "seat_ids"),
        (
            {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": "visa; drop table"},
            400,
            "invalid",
            "payment_method",
        ),
        (
            {"event_id": EVENT_ID, "seat_ids": [SEATS[0]] * 101, "payment_method": CARD},
            400,
            "invalid",
            "seat_ids",
        ),
    ],
)
def test_bad_input_is_a_clear_400_and_writes_nothing(on_sale, body, status, code, field) -> None:
    client, _ = client_for("ada@example.com")

    response = client.post("/api/bookings", body, format="json")

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert field in error["details"]["fields"]
    assert error["message"]
    assert nothing_written()


def test_malformed_json_is_a_400_and_writes_nothing(on_sale: BookableEvent) -> None:
    client, _ = client_for("ada@example.com")

    response = client.post("/api/bookings", '{"event_id": ', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert nothing_written()


def test_an_event_off_sale_is_a_conflict(on_sale: BookableEvent) -> None:
    bookable_event_apply_snapshot(snapshot=snapshot(status="sold_out", revision=2))
    client, _ = client_for("ada@example.com")

    response = client.post(
        "/api/bookings", {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": CARD}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_on_sale"
    assert nothing_written()


def test_anonymous_gets_401() -> None:
    response = APIClient().post(
        "/api/bookings", {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": CARD}, format="json"
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert nothing_written()


def test_only_the_buyer_or_staff_see_a_booking(on_sale: BookableEvent) -> None:
    ada, _ = client_for("ada@example.com")
    bob, _ = client_for("bob@example.com")
    staff, staff_user = client_for("staff@example.com")
    get_user_model().objects.filter(pk=staff_user.pk).update(is_staff=True)
    staff_user.groups.add(Group.objects.get(name="Organisers"))  # staff see bookings by permission
    staff_user.refresh_from_db()
    staff.force_authenticate(staff_user)
    booking_id = ada.post(
        "/api/bookings", {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": CARD}, format="json"
    ).json()["id"]

    assert ada.get(f"/api/bookings/{booking_id}").status_code == 200
    assert staff.get(f"/api/bookings/{booking_id}").status_code == 200
    stranger = bob.get(f"/api/bookings/{booking_id}")
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "not_found"
    assert bob.post(f"/api/bookings/{booking_id}/cancel").status_code == 404
    assert ada.get("/api/bookings/not-a-uuid").status_code == 404
    assert ada.get("/api/bookings/3f1f0000-0000-4000-8000-000000000000").status_code == 404


def test_my_bookings_lists_only_mine_newest_first(on_sale: BookableEvent) -> None:
    ada, _ = client_for("ada@example.com")
    bob, _ = client_for("bob@example.com")
    first = ada.post(
        "/api/bookings", {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": CARD}, format="json"
    ).json()["id"]
    second = ada.post(
        "/api/bookings", {"event_id": EVENT_ID, "seat_ids": SEATS[1:2], "payment_method": CARD}, format="json"
    ).json()["id"]
    bob.post(
        "/api/bookings", {"event_id": EVENT_ID, "seat_ids": SEATS[2:3], "payment_method": CARD}, format="json"
    )

    body = ada.get("/api/bookings/my").json()

    assert body["count"] == 2
    assert [booking["id"] for booking in body["results"]] == [second, first]
    assert set(body) == {"count", "next", "previous", "results"}


def test_cancel_moves_a_pending_booking_to_cancelled_and_a_second_cancel_conflicts(
    on_sale: BookableEvent,
) -> None:
    ada, _ = client_for("ada@example.com")
    booking_id = ada.post(
        "/api/bookings", {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": CARD}, format="json"
    ).json()["id"]

    cancelled = ada.post(f"/api/bookings/{booking_id}/cancel")
    again = ada.post(f"/api/bookings/{booking_id}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "CANCELLED"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "already_finished"
    assert OutboxMessage.objects.using("default").filter(topic="ticketflow.booking.cancelled").count() == 1
