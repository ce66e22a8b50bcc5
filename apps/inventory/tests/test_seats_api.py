"""GET /api/inventory/events/{id}/seats: every seat with its status and price, for anyone."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from apps.inventory.services import seats_confirm, seats_hold
from apps.inventory.tests.conftest import new_id, publish, seat

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


def test_the_seat_map_lists_every_seat_with_status_and_price(client: Client, event_id: str) -> None:
    publish(event_id)
    held, sold = seat(event_id, "Stalls", "A", 1), seat(event_id, "Stalls", "B", 4)
    seats_hold(booking_id=new_id(), event_id=event_id, seat_ids=[held])
    buyer = new_id()
    seats_confirm(
        booking_id=buyer,
        event_id=event_id,
        hold_id=seats_hold(booking_id=buyer, event_id=event_id, seat_ids=[sold]),
        seat_ids=[sold],
    )

    response = client.get(f"/api/inventory/events/{event_id}/seats")

    assert response.status_code == 200
    body = response.json()
    assert (body["event_id"], body["currency"], body["capacity"]) == (event_id, "EUR", 10)
    assert body["counts"] == {"AVAILABLE": 8, "LOCKED": 1, "RESERVED": 1, "OFFERED": 0}
    by_id = {s["id"]: s for s in body["seats"]}
    assert len(by_id) == 10
    assert set(by_id[held]) == {
        "id", "section", "row", "number", "category", "status", "price_cents", "price", "hold_expires_at",
    }  # fmt: skip
    assert {k: v for k, v in by_id[held].items() if k != "hold_expires_at"} == {
        "id": held,
        "section": "Stalls",
        "row": "A",
        "number": 1,
        "category": "standard",
        "status": "LOCKED",
        "price_cents": 4500,
        "price": "45.00",
    }
    assert by_id[held]["hold_expires_at"] is not None
    assert (by_id[sold]["status"], by_id[sold]["price"], by_id[sold]["hold_expires_at"]) == (
        "RESERVED",
        "79.00",
        None,
    )
    assert [(s["section"], s["row"], s["number"]) for s in body["seats"]][:3] == [
        ("Balcony", "A", 1),
        ("Balcony", "A", 2),
        ("Stalls", "A", 1),
    ]


@pytest.mark.parametrize("event_id", [str(uuid.uuid4()), "not-a-uuid", "42"])
def test_an_unknown_event_is_404(client: Client, event_id: str) -> None:
    response = client.get(f"/api/inventory/events/{event_id}/seats")

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "No seats are on sale for this event (unknown event, or not published yet).",
            "details": {},
        }
    }


def test_the_seat_map_is_read_only(client: Client, event_id: str) -> None:
    publish(event_id)

    response = client.post(
        f"/api/inventory/events/{event_id}/seats", data="{}", content_type="application/json"
    )

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_the_browsable_api_renders_the_seat_map(client: Client, event_id: str) -> None:
    publish(event_id)

    response = client.get(f"/api/inventory/events/{event_id}/seats", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert seat(event_id, "Balcony", "A", 2).encode() in response.content


def test_the_schema_documents_the_seat_map(client: Client) -> None:
    schema = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()

    operation = schema["paths"]["/api/inventory/events/{event_id}/seats"]["get"]
    assert set(operation["responses"]) == {"200", "401", "404", "503"}
    assert schema["components"]["schemas"]["SeatMap"]["properties"]["seats"]["items"]["$ref"].endswith(
        "/Seat"
    )
