"""An event's refund policy: edited through the API, validated, and announced in its snapshot."""

from __future__ import annotations

import pytest

from apps.catalog.models import Event
from apps.catalog.tests.factories import VenueFactory
from apps.catalog.tests.test_events_api import catalog_events, fields_of, payload
from tests.support.api import Api
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

POLICY = [{"hours_before": 168, "percent": 100}, {"hours_before": 48, "percent": 50}]


def test_an_event_has_no_refund_steps_unless_given(api: Api, staff_token: str) -> None:
    venue = VenueFactory()

    created = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()

    assert created["refund_policy"] == []
    [announced] = catalog_events(Topic.EVENT_CREATED)
    assert announced["refund_policy"] == []


def test_a_patched_refund_policy_is_stored_and_announced(api: Api, staff_token: str) -> None:
    venue = VenueFactory()
    event_id = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()["id"]

    response = api.request("PATCH", f"/api/events/{event_id}", {"refund_policy": POLICY}, token=staff_token)

    assert (response.status_code, response.json()["refund_policy"]) == (200, POLICY)
    assert Event.objects.get().refund_policy == POLICY
    [updated] = catalog_events(Topic.EVENT_UPDATED)
    assert (updated["revision"], updated["refund_policy"]) == (2, POLICY)


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        ([{"hours_before": 48, "percent": 50}, {"hours_before": 168, "percent": 100}],
         "Refund policy: list the steps from the most hours before the start to the fewest, each once."),
        ([{"hours_before": 168, "percent": 50}, {"hours_before": 48, "percent": 80}],
         "Refund policy: cancelling later cannot refund more: percents must not increase."),
    ],
    ids=["hours out of order", "percent rising"],
)  # fmt: skip
def test_a_refund_policy_out_of_order_is_400(api: Api, staff_token: str, policy: list, error: str) -> None:
    venue = VenueFactory()

    response = api.post("/api/events", payload(venue.pk, refund_policy=policy), token=staff_token)

    assert fields_of(response) == {"refund_policy": [error]}
    assert not Event.objects.exists()


def test_a_refund_step_out_of_range_is_400(api: Api, staff_token: str) -> None:
    venue = VenueFactory()

    response = api.post(
        "/api/events",
        payload(venue.pk, refund_policy=[{"hours_before": -1, "percent": 101}]),
        token=staff_token,
    )

    assert fields_of(response) == {
        "refund_policy": {
            "0": {
                "hours_before": ["Ensure this value is greater than or equal to 0."],
                "percent": ["Ensure this value is less than or equal to 100."],
            }
        }
    }
