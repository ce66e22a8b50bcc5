"""Bookings' copy of an event's refund policy, and the booking's refund terms in the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.bookings.models import BookableEvent
from apps.bookings.services import bookable_event_apply_snapshot
from apps.bookings.tests.support import EVENT_ID, SEATS, client_for, snapshot
from ticketflow.messaging.schemas import EventCreated

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

POLICY = [{"hours_before": 168, "percent": 100}, {"hours_before": 48, "percent": 50}]


def test_the_snapshot_carries_the_policy_and_an_older_one_without_it_means_no_steps() -> None:
    bookable_event_apply_snapshot(snapshot=snapshot(refund_policy=POLICY))
    assert BookableEvent.objects.get(pk=EVENT_ID).refund_policy == POLICY

    older = snapshot(revision=2).model_dump(mode="json")
    del older["refund_policy"]
    bookable_event_apply_snapshot(snapshot=EventCreated.model_validate(older))

    assert BookableEvent.objects.get(pk=EVENT_ID).refund_policy == []


def test_a_snapshot_with_steps_out_of_order_is_refused() -> None:
    with pytest.raises(ValueError, match="most hours before the start"):
        snapshot(refund_policy=POLICY[::-1])


def test_the_booking_shows_the_policy_and_what_cancelling_now_refunds() -> None:
    # Given an event three days away (the 50% step) with a booking on it
    bookable_event_apply_snapshot(
        snapshot=snapshot(refund_policy=POLICY, starts_at=timezone.now() + timedelta(days=3))
    )
    client, _ = client_for("ada@example.com")
    created = client.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": "pm_card_visa"},
        format="json",
    ).json()

    # When its buyer reads it
    body = client.get(f"/api/bookings/{created['id']}").json()

    # Then it names the steps and the 50% that cancelling now would refund
    assert (body["refund_policy"], body["refund_percent_now"], body["refund_cents"]) == (POLICY, 50, None)
