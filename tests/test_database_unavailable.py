"""A database that does not answer is a 503 with Retry-After, never a 500; a committed booking is a 202."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import OperationalError, connections
from django.test import Client

from apps.bookings.models import Booking
from apps.bookings.serializers import BookingOutput
from apps.bookings.services import bookable_event_apply_snapshot
from apps.bookings.tests.support import EVENT_ID, SEATS, client_for, snapshot
from ticketflow.errors import RETRY_AFTER_SECONDS

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

DOWN = "connection to server at 127.0.0.1, port 55432 failed: Connection refused"


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make every query on both databases fail as a stopped PostgreSQL does."""

    def stop() -> None:
        def refuse(*_args: object, **_kwargs: object) -> None:
            raise OperationalError(DOWN)

        for alias in ("default", "documents"):
            monkeypatch.setattr(connections[alias], "_cursor", refuse)

    return stop


def test_the_api_answers_503_in_the_error_shape_with_retry_after(database_down: Callable[[], None]) -> None:
    database_down()

    response = Client(raise_request_exception=False).get("/api/events")

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json() == {
        "error": {
            "code": "service_unavailable",
            "message": "We cannot reach our database right now. Please try again in a few seconds.",
            "details": {},
        }
    }


def test_a_post_during_the_outage_is_a_503_too(database_down: Callable[[], None]) -> None:
    client, _ = client_for("ada@example.com")
    database_down()

    response = client.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": "pm_card_visa"},
        format="json",
    )

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response.json()["error"]["code"] == "service_unavailable"


def test_a_page_answers_a_503_page_with_retry_after(database_down: Callable[[], None]) -> None:
    database_down()

    response = Client(raise_request_exception=False).get("/", HTTP_ACCEPT="text/html")

    assert response.status_code == 503
    assert response["Retry-After"] == str(RETRY_AFTER_SECONDS)
    assert response["Content-Type"].startswith("text/html")
    assert b"We will be back in a moment" in response.content


def test_a_bug_is_still_a_500(monkeypatch: pytest.MonkeyPatch) -> None:
    from apps.catalog import apis

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(apis.EventListApi, "get", broken)

    response = Client(raise_request_exception=False).get("/api/events")

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


def test_a_booking_that_committed_is_answered_202_even_if_the_database_fails_right_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bookable_event_apply_snapshot(snapshot=snapshot())
    client, _ = client_for("ada@example.com")
    real = BookingOutput.get_timeline
    failures: list[str] = []

    def timeline_once(self: BookingOutput, booking: Booking) -> list:
        if not failures:
            failures.append("failed")
            raise OperationalError(DOWN)
        return real(self, booking)

    monkeypatch.setattr(BookingOutput, "get_timeline", timeline_once)

    response = client.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:2], "payment_method": "pm_card_visa"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="checkout-1",
    )

    assert failures == ["failed"]
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["seat_ids"], body["timeline"]) == ("PENDING", SEATS[:2], [])
    assert response["Location"] == f"/api/bookings/{body['id']}"
    assert Booking.objects.get(pk=body["id"]).idempotency_key == "checkout-1"
