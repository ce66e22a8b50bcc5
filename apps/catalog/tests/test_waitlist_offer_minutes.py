"""How long a waiting-list offer stays open: PATCHed, bounded, announced to inventory."""

from __future__ import annotations

import json

import pytest

from apps.catalog.models import Event
from apps.catalog.tests.factories import announced_updates, published
from tests.support.api import Api

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def test_offers_last_30_minutes_unless_staff_patch_it_and_the_snapshot_carries_it(
    api: Api, staff_token: str
) -> None:
    event = published()
    assert event.waitlist_offer_minutes == 30

    response = api.request(
        "PATCH", f"/api/events/{event.pk}", {"waitlist_offer_minutes": 90}, token=staff_token
    )

    assert response.status_code == 200, response.json()
    assert response.json()["waitlist_offer_minutes"] == 90
    [announced] = announced_updates()
    assert announced["waitlist_offer_minutes"] == 90


@pytest.mark.parametrize("minutes", [0, 1441, "soon"])
def test_an_offer_length_outside_a_minute_to_a_day_is_a_400_naming_the_field(
    api: Api, staff_token: str, minutes: object
) -> None:
    event = published()

    response = api.request(
        "PATCH", f"/api/events/{event.pk}", {"waitlist_offer_minutes": minutes}, token=staff_token
    )

    assert response.status_code == 400
    assert "waitlist_offer_minutes" in json.dumps(response.json())
    assert Event.objects.get(pk=event.pk).waitlist_offer_minutes == 30
