"""``manage.py seed``: the README's test user, an admin, three venues and events on sale, once."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.catalog.models import Event, EventStatus, Venue
from apps.inventory.models import SaleEvent, Seat
from ticketflow.messaging.models import OutboxMessage

User = get_user_model()

pytestmark = pytest.mark.django_db(databases=["default", "documents"], transaction=True)


def seed() -> str:
    out = io.StringIO()
    call_command("seed", stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    """Everything seed may create, counted."""
    return {
        "users": sorted(User.objects.values_list("email", "is_staff", "is_superuser")),
        "venues": sorted(Venue.objects.values_list("name", "capacity", "version")),
        "events": sorted(Event.objects.values_list("name", "status", "revision", "version")),
        "sale_events": SaleEvent.objects.count(),
        "seats": Seat.objects.count(),
        "outbox": {alias: OutboxMessage.objects.using(alias).count() for alias in ("default", "documents")},
    }


def login(client: Client, email: str, password: str) -> int:
    response = client.post(
        "/api/users/login",
        json.dumps({"email": email, "password": password}),
        content_type="application/json",
    )
    return response.status_code


@pytest.mark.embedded
@pytest.mark.usefixtures("inprocess_transport")
def test_seed_creates_the_demo_and_its_seats_are_on_sale(client: Client) -> None:
    output = seed()

    # The README's test user logs in; the admin is a superuser whose password is shown once
    assert login(client, "test@ticketflow.dev", "Test1234!") == 200
    admin = User.objects.get(email="admin@ticketflow.dev")
    assert (admin.is_staff, admin.is_superuser) == (True, True)
    [admin_line] = [line for line in output.splitlines() if line.startswith("admin ")]
    password = admin_line.split(" / ")[1].split()[0]
    assert login(client, "admin@ticketflow.dev", password) == 200
    assert output.splitlines()[-1].endswith("events in-process: seats are ready")

    # Three venues: a small club, a theatre with sections, an arena of several thousand seats
    venues = {venue.name: venue for venue in Venue.objects.all()}
    assert {name: v.capacity for name, v in venues.items()} == {
        "The Basement": 56,
        "Royal Theatre": 628,
        "Riverside Arena": 6000,
    }
    theatre_sections = [s["name"] for s in venues["Royal Theatre"].layout["sections"]]
    assert theatre_sections == ["Stalls", "Circle", "Balcony"]

    # Several upcoming events, on sale, listed by the public API
    events = list(Event.objects.order_by("starts_at"))
    assert len(events) == 5
    assert all(e.status == EventStatus.ON_SALE and e.starts_at > timezone.now() for e in events)
    listing = client.get("/api/events").json()
    assert listing["count"] == 5
    assert all(item["on_sale"] for item in listing["results"])

    # And every seat of every event is bookable through the inventory API
    for event in events:
        response = client.get(f"/api/inventory/events/{event.pk}/seats")
        assert response.status_code == 200, event.name
        body = response.json()
        assert body["capacity"] == event.venue.capacity
        assert body["counts"] == {"AVAILABLE": event.venue.capacity, "LOCKED": 0, "RESERVED": 0, "OFFERED": 0}
        assert body["currency"] == "GBP"
    assert not OutboxMessage.objects.using("default").filter(pending=True).exists()
    assert not OutboxMessage.objects.using("documents").filter(pending=True).exists()


@pytest.mark.embedded
@pytest.mark.usefixtures("inprocess_transport")
def test_seeding_again_changes_nothing(client: Client) -> None:
    seed()
    test_user = User.objects.get(email="test@ticketflow.dev")
    test_user.set_password("Changed-By-The-Tester-7")
    test_user.save(update_fields=["password"])
    before = snapshot()

    output = seed()

    assert snapshot() == before
    assert "(already there)" in output
    assert "on sale" not in output
    assert login(client, "test@ticketflow.dev", "Changed-By-The-Tester-7") == 200
    assert login(client, "test@ticketflow.dev", "Test1234!") == 401


@pytest.mark.services
def test_with_kafka_seed_leaves_the_seats_to_the_relay_and_consumers() -> None:
    output = seed()

    assert "the relay and consumers will create the seats" in output
    assert Event.objects.filter(status=EventStatus.ON_SALE).count() == 5
    assert (
        OutboxMessage.objects.using("documents")
        .filter(pending=True, topic="ticketflow.event.created")
        .count()
        == 5
    )
    assert (
        OutboxMessage.objects.using("default")
        .filter(pending=True, topic="ticketflow.user.registered")
        .count()
        == 2
    )
    assert not SaleEvent.objects.exists()
