"""The catalog services: no silent overwrite between editors, and a published event's plan is frozen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.catalog import services
from apps.catalog.models import Event, Venue
from apps.catalog.tests.factories import SMALL_LAYOUT, SMALL_PRICES, EventFactory, VenueFactory
from ticketflow.errors import Conflict, InvalidInput
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

OTHER_PLAN = {"sections": [{"name": "Floor", "category": "standard", "rows": [{"label": "A", "seats": 3}]}]}


def details_of(event: Event, **changes: object) -> services.EventDetails:
    fields = {
        "venue_id": str(event.venue_id),
        "name": event.name,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "prices": dict(event.prices),
        **changes,
    }
    return services.EventDetails(**fields)


def test_a_stale_venue_edit_is_a_conflict_and_overwrites_nothing() -> None:
    venue = VenueFactory(name="Apollo")
    mine, theirs = Venue.objects.get(pk=venue.pk), Venue.objects.get(pk=venue.pk)
    services.venue_update(
        venue=theirs, name="Apollo Hall", address="", timezone_name="UTC", layout=OTHER_PLAN
    )

    with pytest.raises(Conflict, match="Someone else changed this venue meanwhile"):
        services.venue_update(venue=mine, name="Mine", address="", timezone_name="UTC", layout=OTHER_PLAN)

    venue.refresh_from_db()
    assert (venue.name, venue.version, venue.capacity) == ("Apollo Hall", 2, 3)


def test_venue_services_refuse_a_bad_timezone_or_plan() -> None:
    with pytest.raises(InvalidInput) as timezone_error:
        services.venue_create(name="X", timezone_name="Nowhere/Special", layout=OTHER_PLAN)
    with pytest.raises(InvalidInput) as layout_error:
        services.venue_create(name="X", layout={"sections": []})

    assert timezone_error.value.details == {
        "fields": {"timezone": ["'Nowhere/Special' is not an IANA time zone such as Europe/Berlin."]}
    }
    assert layout_error.value.details == {
        "fields": {"layout": ["sections: List should have at least 1 item after validation, not 0"]}
    }
    assert not Venue.objects.exists()


def test_a_published_event_keeps_the_plan_it_was_published_with() -> None:
    event = EventFactory()
    services.event_publish(event_id=str(event.pk))

    services.venue_update(
        venue=Venue.objects.get(pk=event.venue_id),
        name="Rebuilt",
        address="",
        timezone_name="UTC",
        layout=OTHER_PLAN,
    )
    services.event_update(event_id=str(event.pk), details=details_of(event, name="Still here"))

    event.refresh_from_db()
    assert event.layout == SMALL_LAYOUT
    updates = OutboxMessage.objects.using("documents").filter(topic=Topic.EVENT_UPDATED)
    assert [u.body.count('"name":"Stalls"') for u in updates] == [1]


def test_a_published_event_may_start_in_the_past_when_edited_but_a_new_one_may_not() -> None:
    event = EventFactory()
    past = timezone.now() - timedelta(hours=1)

    services.event_update(
        event_id=str(event.pk), details=details_of(event, starts_at=past, ends_at=past + timedelta(hours=3))
    )
    with pytest.raises(InvalidInput) as error:
        services.event_create(details=details_of(event, starts_at=past, ends_at=past + timedelta(hours=3)))

    assert error.value.details == {"fields": {"starts_at": ["The event must start in the future."]}}


def test_each_announcement_carries_the_next_revision() -> None:
    event = EventFactory(prices=dict(SMALL_PRICES))

    services.event_publish(event_id=str(event.pk))
    services.event_update(
        event_id=str(event.pk), details=details_of(event, prices={**SMALL_PRICES, "economy": 1})
    )
    services.event_set_status(event_id=str(event.pk), status="sold_out")

    rows = OutboxMessage.objects.using("documents").order_by("position")
    assert [(row.topic, row.aggregate_id) for row in rows] == [
        (Topic.EVENT_CREATED, str(event.pk)),
        (Topic.EVENT_UPDATED, str(event.pk)),
        (Topic.EVENT_UPDATED, str(event.pk)),
    ]
    assert ['"revision":1' in r.body for r in rows] == [True, False, False]
    assert ['"revision":3' in r.body for r in rows] == [False, False, True]
    assert Event.objects.get(pk=event.pk).revision == 3


def test_setting_an_unknown_status_is_invalid() -> None:
    event = EventFactory()

    with pytest.raises(InvalidInput) as error:
        services.event_set_status(event_id=str(event.pk), status="postponed")

    assert error.value.details == {
        "fields": {"status": ["Choose one of draft, on_sale, sold_out, cancelled."]}
    }
