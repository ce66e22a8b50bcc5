"""Whether an event's tickets may be transferred: PATCHed, announced, and old snapshots stay valid."""

from __future__ import annotations

import json

import pytest

from apps.catalog.models import Event
from apps.catalog.tests.factories import announced_updates, published
from tests.support.api import Api
from ticketflow.messaging.schemas import EventUpdated

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def test_staff_forbid_transfers_with_a_patch_and_the_snapshot_carries_it(api: Api, staff_token: str) -> None:
    event = published()
    assert event.transfers_allowed is True

    response = api.request(
        "PATCH", f"/api/events/{event.pk}", {"transfers_allowed": False}, token=staff_token
    )

    assert response.status_code == 200, response.json()
    assert response.json()["transfers_allowed"] is False
    assert Event.objects.get(pk=event.pk).transfers_allowed is False
    [announced] = announced_updates()
    assert announced["transfers_allowed"] is False


def test_a_non_boolean_is_a_400_naming_the_field(api: Api, staff_token: str) -> None:
    event = published()

    response = api.request(
        "PATCH", f"/api/events/{event.pk}", {"transfers_allowed": "maybe"}, token=staff_token
    )

    assert response.status_code == 400
    assert "transfers_allowed" in json.dumps(response.json())
    assert Event.objects.get(pk=event.pk).transfers_allowed is True


@pytest.mark.django_db(databases=[])
def test_a_snapshot_published_before_the_field_existed_allows_transfers() -> None:
    old = {
        "event_id": "e1", "name": "Old", "venue_id": "v", "venue_name": "Hall", "timezone": "UTC",
        "starts_at": "2027-01-01T20:00:00+00:00", "ends_at": "2027-01-01T23:00:00+00:00", "status": "on_sale",
        "currency": "EUR", "prices": {"standard": 100}, "max_seats_per_booking": 4, "hold_minutes": 10,
        "layout": {"sections": [{"name": "Floor", "category": "standard", "rows": [{"label": "A", "seats": 2}]}]},
        "revision": 1,
    }  # fmt: skip

    assert EventUpdated.model_validate(old).transfers_allowed is True
