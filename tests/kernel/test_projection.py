"""The one mapping from a catalog snapshot to a context's copy of the event."""

from datetime import UTC, datetime, timedelta

import pytest

from ticketflow.messaging.projection import projection_fields
from ticketflow.messaging.refund_policy import RefundStep
from ticketflow.messaging.schemas import EventCreated, SeatLayout

pytestmark = pytest.mark.embedded

STARTS = datetime(2027, 6, 1, 20, 0, tzinfo=UTC)
LAYOUT = SeatLayout.model_validate(
    {
        "sections": [
            {
                "name": "Hall",
                "category": "standard",
                "rows": [{"label": "A", "seats": 3}, {"label": "B", "seats": 2}],
            }
        ]
    }
)


def snapshot(**changes: object) -> EventCreated:
    fields = {
        "event_id": "e1", "name": "Quartet", "venue_id": "v1", "venue_name": "Hall", "timezone": "UTC",
        "starts_at": STARTS, "ends_at": STARTS + timedelta(hours=2), "status": "on_sale", "currency": "EUR",
        "prices": {"standard": 2000}, "max_seats_per_booking": 4, "hold_minutes": 10, "layout": LAYOUT, "revision": 3,
    }  # fmt: skip
    return EventCreated(**{**fields, **changes})


def test_plain_fields_are_copied_as_the_snapshot_has_them():
    event = snapshot(sale_starts_at=STARTS - timedelta(days=9))

    assert projection_fields(event, ("name", "status", "sale_starts_at", "sale_ends_at", "revision")) == {
        "name": "Quartet",
        "status": "on_sale",
        "sale_starts_at": STARTS - timedelta(days=9),
        "sale_ends_at": None,
        "revision": 3,
    }


def test_nested_models_become_the_json_a_projection_stores_and_capacity_is_derived():
    event = snapshot(refund_policy=[RefundStep(hours_before=48, percent=50)])

    fields = projection_fields(event, ("layout", "refund_policy", "capacity"))

    assert fields == {
        "layout": {"sections": [{"name": "Hall", "category": "standard", "rows": [
            {"label": "A", "seats": 3, "start": 1}, {"label": "B", "seats": 2, "start": 1}]}]},
        "refund_policy": [{"hours_before": 48, "percent": 50}],
        "capacity": 5,
    }  # fmt: skip


def test_a_name_the_snapshot_does_not_have_is_refused():
    with pytest.raises(ValueError, match="'venue_capacity'"):
        projection_fields(snapshot(), ("name", "venue_capacity"))
