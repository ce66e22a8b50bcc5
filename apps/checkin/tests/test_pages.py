"""The scanner pages: only door staff open them, and the service worker covers their scope."""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.checkin.tests.conftest import book

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def test_door_staff_get_the_scanner_with_its_endpoints_and_counts(steward) -> None:
    booking = book(seats=2)
    client = Client()
    client.force_login(steward)

    listing = client.get("/checkin/")
    page = client.get(f"/checkin/events/{booking.event_id}/")

    assert f'href="/checkin/events/{booking.event_id}/"' in listing.content.decode()
    body = page.content.decode()
    assert page.status_code == 200
    assert f'data-snapshot="/api/checkin/events/{booking.event_id}/snapshot"' in body
    assert 'data-redeem="/api/checkin/redeem"' in body
    assert re.search(r'<strong id="count-checked-in">0</strong> / <span id="count-sold">2</span>', body)
    assert '<label for="ticket-code">Ticket code</label>' in body


def test_anyone_else_is_sent_to_log_in_or_refused(db: None) -> None:
    booking = book(seats=1)
    buyer = Client()
    buyer.force_login(get_user_model().objects.create_user(email="b@example.com", password="x", name="B"))

    anonymous = Client().get(f"/checkin/events/{booking.event_id}/")
    refused = buyer.get(f"/checkin/events/{booking.event_id}/")

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/login?next=/checkin/events/")
    assert refused.status_code == 403


def test_an_unknown_event_is_404(steward) -> None:
    client = Client()
    client.force_login(steward)

    assert client.get("/checkin/events/9b2b8a3e-1d4e-4bb0-9f58-6c1a3e5d7f10/").status_code == 404


def test_the_service_worker_precaches_the_scanner_assets_and_is_never_cached(db: None) -> None:
    response = Client().get("/checkin/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert "no-cache" in response["Cache-Control"]
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", response.content.decode()).group(1))
    assert "/static/checkin/scanner.js" in precache
    assert "/static/checkin/scanner.css" in precache
    for asset in precache:
        assert Client().get(asset).status_code == 200, asset
