"""The events API: public listing and detail, staff create, replace and publish."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.catalog.models import Event, EventStatus
from apps.catalog.tests.factories import SMALL_PRICES, EventFactory, UserFactory, VenueFactory, published
from relay.engine import Relay
from tests.support.api import Api
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

INVALID = "Some of the data sent is not valid."
EVENT_FIELDS = {
    "id", "name", "description", "venue", "starts_at", "ends_at", "status", "on_sale", "currency", "prices",
    "sale_starts_at", "sale_ends_at", "max_seats_per_booking", "max_active_seats_per_buyer", "hold_minutes",
    "published_at", "created_at", "updated_at", "queue_enabled", "queue_opens_at", "queue_paused",
    "admit_per_minute", "max_active_shoppers", "shopping_window_minutes",
    "transfers_allowed",
    "waitlist_offer_minutes",
    "refund_policy",
}  # fmt: skip


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def payload(venue: Any, **changes: Any) -> dict[str, Any]:
    starts = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    return {
        "venue_id": str(venue),
        "name": "Jazz Night",
        "description": "Quartet and strings.",
        "starts_at": iso(starts),
        "ends_at": iso(starts + timedelta(hours=2)),
        "currency": "EUR",
        "prices": dict(SMALL_PRICES),
        **changes,
    }


def fields_of(response) -> dict[str, list[str]]:
    body = response.json()
    assert (response.status_code, body["error"]["code"], body["error"]["message"]) == (
        400,
        "invalid",
        INVALID,
    )
    return body["error"]["details"]["fields"]


def catalog_events(topic: str) -> list[dict[str, Any]]:
    rows = OutboxMessage.objects.using("documents").filter(topic=topic).order_by("position")
    return [json.loads(row.body)["payload"] for row in rows]


# --- create ------------------------------------------------------------------------------------


def test_staff_create_a_draft_event(api: Api, staff_token: str) -> None:
    venue = VenueFactory(name="Apollo")

    response = api.post("/api/events", payload(venue.pk), token=staff_token)

    assert response.status_code == 201
    body = response.json()
    event = Event.objects.get()
    assert set(body) == EVENT_FIELDS
    assert (body["id"], body["status"], body["on_sale"], body["published_at"]) == (
        str(event.pk),
        "draft",
        False,
        None,
    )
    assert body["venue"] == {
        "id": str(venue.pk),
        "name": "Apollo",
        "address": "1 Main Street",
        "timezone": "Europe/Berlin",
        "capacity": 10,
    }
    assert body["prices"] == [
        {"category": "economy", "price_cents": 2500, "price": "25.00"},
        {"category": "standard", "price_cents": 4500, "price": "45.00"},
        {"category": "premium", "price_cents": 7900, "price": "79.00"},
    ]
    assert (body["max_seats_per_booking"], body["hold_minutes"], body["currency"]) == (10, 10, "EUR")
    assert body["max_active_seats_per_buyer"] is None  # the default: twice the seats per booking
    assert not OutboxMessage.objects.using("documents").exists()


def test_creating_an_event_on_sale_publishes_it(api: Api, staff_token: str) -> None:
    venue = VenueFactory()

    response = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token)

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["on_sale"]) == ("on_sale", True)
    assert body["published_at"] is not None
    [created] = catalog_events(Topic.EVENT_CREATED)
    assert (
        created["event_id"],
        created["revision"],
        created["status"],
        created["layout"]["sections"][0]["name"],
    ) == (
        body["id"],
        1,
        "on_sale",
        "Stalls",
    )
    assert Event.objects.get().layout == venue.layout


def test_a_published_event_s_seats_appear_once_its_creation_is_applied(
    api: Api, staff_token: str, inprocess_relay: Relay
) -> None:
    venue = VenueFactory()
    event_id = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()["id"]
    before = api.get(f"/api/inventory/events/{event_id}/seats")

    inprocess_relay.drain()
    after = api.get(f"/api/inventory/events/{event_id}/seats")

    assert before.status_code == 404
    assert after.status_code == 200
    seats = after.json()["seats"]
    assert len(seats) == 10
    assert {(s["section"], s["row"], s["number"], s["status"], s["price_cents"]) for s in seats} >= {
        ("Stalls", "A", 1, "AVAILABLE", 4500),
        ("Stalls", "B", 14, "AVAILABLE", 7900),
        ("Balcony", "A", 2, "AVAILABLE", 2500),
    }


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"ends_at": None}, {"ends_at": ["This field may not be null."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"venue_id": "nope"}, {"venue_id": ["Must be a valid UUID."]}),
        (
            {"starts_at": "tomorrow"},
            {
                "starts_at": [
                    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]."
                ]
            },
        ),
        ({"prices": {}}, {"prices": ["This dictionary may not be empty."]}),
        (
            {"prices": {"standard": -1}},
            {"prices": {"standard": ["Ensure this value is greater than or equal to 0."]}},
        ),
        ({"hold_minutes": 0}, {"hold_minutes": ["Ensure this value is greater than or equal to 1."]}),
        ({"status": "sold"}, {"status": ['"sold" is not a valid choice.']}),
    ],
    ids=[
        "null end",
        "blank name",
        "bad venue id",
        "bad date",
        "no prices",
        "negative price",
        "no hold",
        "bad status",
    ],
)
def test_malformed_events_are_400_with_field_errors(
    api: Api, staff_token: str, changes: dict[str, Any], fields: dict[str, Any]
) -> None:
    venue = VenueFactory()

    response = api.post("/api/events", payload(venue.pk, **changes), token=staff_token)

    assert fields_of(response) == fields
    assert not Event.objects.exists()


def test_events_that_cannot_be_sold_are_400_with_field_errors(api: Api, staff_token: str) -> None:
    venue = VenueFactory()
    past = timezone.now() - timedelta(days=1)

    response = api.post(
        "/api/events",
        payload(
            venue.pk,
            starts_at=iso(past),
            ends_at=iso(past - timedelta(hours=1)),
            currency="eur",
            prices={"standard": 4500},
            sale_starts_at=iso(past),
            sale_ends_at=iso(past - timedelta(hours=2)),
            hold_minutes=45,
        ),
        token=staff_token,
    )

    assert fields_of(response) == {
        "ends_at": ["The event must end after it starts."],
        "starts_at": ["The event must start in the future."],
        "sale_ends_at": ["Sales must end after they start."],
        "currency": ["Use a three-letter ISO 4217 code such as EUR."],
        "hold_minutes": ["Hold seats between 1 and 30 minutes."],
        "prices": ["Give a price for every seat category of the venue: economy, premium."],
    }


def test_an_event_at_an_unknown_venue_is_400(api: Api, staff_token: str) -> None:
    response = api.post("/api/events", payload(uuid.uuid4()), token=staff_token)

    assert fields_of(response) == {"venue_id": ["No venue has this id."]}


def test_creating_an_event_needs_staff(api: Api, customer_token: str) -> None:
    venue = VenueFactory()

    anonymous = api.post("/api/events", payload(venue.pk))
    customer = api.post("/api/events", payload(venue.pk), token=customer_token)

    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "not_authenticated")
    assert (customer.status_code, customer.json()["error"]["code"]) == (403, "forbidden")
    assert not Event.objects.exists()


# --- list --------------------------------------------------------------------------------------


def test_the_list_shows_upcoming_published_events_soonest_first(api: Api) -> None:
    now = timezone.now()
    later = published(name="Later", starts_at=now + timedelta(days=20))
    sooner = published(name="Sooner", starts_at=now + timedelta(days=2))
    running = published(name="Running", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
    published(
        name="Over", starts_at=now - timedelta(days=2), ends_at=now - timedelta(days=2) + timedelta(hours=2)
    )
    EventFactory(name="Draft", starts_at=now + timedelta(days=1))
    sold_out = published(name="Sold out", starts_at=now + timedelta(days=3), status=EventStatus.SOLD_OUT)

    response = api.get("/api/events")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert (body["count"], body["next"], body["previous"]) == (4, None, None)
    assert [e["id"] for e in body["results"]] == [str(e.pk) for e in (running, sooner, sold_out, later)]


def test_the_list_is_paginated(api: Api) -> None:
    start = timezone.now() + timedelta(days=1)
    for day in range(25):
        published(name=f"Show {day:02d}", starts_at=start + timedelta(days=day))

    first = api.get("/api/events").json()
    last = api.get("/api/events", page=2).json()

    assert (first["count"], len(first["results"]), first["previous"]) == (25, 20, None)
    assert first["next"].endswith("/api/events?page=2")
    assert [e["name"] for e in last["results"]] == [f"Show {day:02d}" for day in range(20, 25)]
    assert last["next"] is None
    assert last["previous"].endswith("/api/events")


def test_the_list_filters_by_dates_venue_and_text(api: Api) -> None:
    base = (timezone.now() + timedelta(days=10)).replace(hour=20, minute=0, second=0, microsecond=0)
    hall, club = VenueFactory(name="Hall"), VenueFactory(name="Club")
    first = published(name="Opening Gala", venue=hall, starts_at=base, description="Champagne.")
    second = published(
        name="Jazz Brunch", venue=club, starts_at=base + timedelta(days=1), description="Gala menu."
    )
    third = published(name="Closing", venue=hall, starts_at=base + timedelta(days=2))

    def names(**params: str) -> list[str]:
        response = api.get("/api/events", **params)
        assert response.status_code == 200, response.content
        return [e["name"] for e in response.json()["results"]]

    day = lambda moment: moment.date().isoformat()  # noqa: E731
    assert names(**{"from": day(second.starts_at)}) == ["Jazz Brunch", "Closing"]
    assert names(to=day(second.starts_at)) == ["Opening Gala", "Jazz Brunch"]
    assert names(**{"from": day(second.starts_at), "to": day(second.starts_at)}) == ["Jazz Brunch"]
    assert names(venue=str(hall.pk)) == ["Opening Gala", "Closing"]
    assert names(venue="not-a-venue") == []
    assert names(q="gala") == ["Opening Gala", "Jazz Brunch"]
    assert names(q="gala", venue=str(club.pk)) == ["Jazz Brunch"]
    assert names(q="  ") == ["Opening Gala", "Jazz Brunch", "Closing"]
    assert names(q="gala\x00") == ["Opening Gala", "Jazz Brunch"]
    assert names(**{"from": iso(first.starts_at + timedelta(minutes=1))}) == ["Jazz Brunch", "Closing"]
    assert names(to=iso(third.starts_at)) == ["Opening Gala", "Jazz Brunch", "Closing"]


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize(
    "value",
    [
        "next tuesday",
        "2026-02-30",
        "2026-13-01T20:00:00Z",
        "2026-12-01T25:00",
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        "\x00",
    ],
)
def test_a_malformed_date_filter_is_400(api: Api, name: str, value: str) -> None:
    response = api.get("/api/events", **{name: value})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["details"] == {"fields": {name: [f"{value!r} is not a date"]}}


def test_staff_may_list_drafts_on_request(api: Api, staff_token: str, customer_token: str) -> None:
    draft = EventFactory(name="Draft")

    for_staff = api.get("/api/events", token=staff_token, drafts="1").json()
    for_customer = api.get("/api/events", token=customer_token, drafts="1").json()
    default_for_staff = api.get("/api/events", token=staff_token).json()

    assert [e["id"] for e in for_staff["results"]] == [str(draft.pk)]
    assert for_customer["results"] == []
    assert default_for_staff["results"] == []


# --- detail ------------------------------------------------------------------------------------


def test_anyone_reads_a_published_event(api: Api) -> None:
    event = published(name="Gala")

    response = api.get(f"/api/events/{event.pk}")

    assert response.status_code == 200
    assert set(response.json()) == EVENT_FIELDS
    assert (response.json()["id"], response.json()["name"], response.json()["status"]) == (
        str(event.pk),
        "Gala",
        "on_sale",
    )


def test_a_draft_is_404_except_for_staff(api: Api, staff_token: str, customer_token: str) -> None:
    draft = EventFactory()

    anonymous = api.get(f"/api/events/{draft.pk}")
    customer = api.get(f"/api/events/{draft.pk}", token=customer_token)
    staff = api.get(f"/api/events/{draft.pk}", token=staff_token)

    assert (anonymous.status_code, customer.status_code, staff.status_code) == (404, 404, 200)
    assert anonymous.json() == {
        "error": {"code": "not_found", "message": "No event has this id.", "details": {}}
    }


@pytest.mark.parametrize("event_id", [str(uuid.uuid4()), "not-a-uuid", "12"])
def test_an_unknown_or_malformed_event_id_is_404(api: Api, staff_token: str, event_id: str) -> None:
    for token in (None, staff_token):
        response = api.get(f"/api/events/{event_id}", token=token)

        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


# --- replace -----------------------------------------------------------------------------------


def test_staff_replace_a_draft_without_announcing_it(api: Api, staff_token: str) -> None:
    event = EventFactory()

    response = api.put(
        f"/api/events/{event.pk}",
        payload(event.venue_id, name="Renamed", max_seats_per_booking=4),
        token=staff_token,
    )

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["max_seats_per_booking"], response.json()["status"]) == (
        "Renamed",
        4,
        "draft",
    )
    event.refresh_from_db()
    assert (event.name, event.version, event.revision) == ("Renamed", 2, 0)
    assert not OutboxMessage.objects.using("documents").exists()


def test_putting_a_draft_on_sale_publishes_it(api: Api, staff_token: str) -> None:
    event = EventFactory()

    response = api.put(
        f"/api/events/{event.pk}", payload(event.venue_id, status="on_sale"), token=staff_token
    )

    assert response.status_code == 200
    assert response.json()["status"] == "on_sale"
    assert [e["event_id"] for e in catalog_events(Topic.EVENT_CREATED)] == [str(event.pk)]


def test_changing_a_published_event_announces_the_new_revision(api: Api, staff_token: str) -> None:
    venue = VenueFactory()
    event_id = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()["id"]

    response = api.put(
        f"/api/events/{event_id}",
        payload(venue.pk, prices={**SMALL_PRICES, "standard": 5000}),
        token=staff_token,
    )

    assert response.status_code == 200
    [updated] = catalog_events(Topic.EVENT_UPDATED)
    assert (updated["revision"], updated["prices"]["standard"], updated["status"]) == (2, 5000, "on_sale")
    assert Event.objects.get().revision == 2


def test_the_purchase_limit_per_buyer_is_announced_and_can_be_lifted_back_to_the_default(
    api: Api, staff_token: str
) -> None:
    venue = VenueFactory()
    limited = payload(venue.pk, status="on_sale", max_seats_per_booking=4, max_active_seats_per_buyer=6)

    created = api.post("/api/events", limited, token=staff_token).json()
    api.put(
        f"/api/events/{created['id']}", {**limited, "max_active_seats_per_buyer": None}, token=staff_token
    )

    assert created["max_active_seats_per_buyer"] == 6
    [announced] = catalog_events(Topic.EVENT_CREATED)
    [updated] = catalog_events(Topic.EVENT_UPDATED)
    assert (announced["max_active_seats_per_buyer"], updated["max_active_seats_per_buyer"]) == (6, None)
    assert Event.objects.get().max_active_seats_per_buyer is None


@pytest.mark.parametrize(
    ("limit", "error"),
    [
        (3, "Allow one buyer at least the seats of one booking (4) and at most 10000; "
            "leave it empty for twice the seats per booking."),
        (0, "Ensure this value is greater than or equal to 1."),
        (10_001, "Ensure this value is less than or equal to 10000."),
        ("many", "A valid integer is required."),
    ],
    ids=["below one booking", "zero", "too many", "not a number"],
)  # fmt: skip
def test_a_purchase_limit_below_one_booking_or_out_of_range_is_400(
    api: Api, staff_token: str, limit: Any, error: str
) -> None:
    venue = VenueFactory()

    response = api.post(
        "/api/events",
        payload(venue.pk, max_seats_per_booking=4, max_active_seats_per_buyer=limit),
        token=staff_token,
    )

    assert fields_of(response) == {"max_active_seats_per_buyer": [error]}
    assert not Event.objects.exists()


@pytest.mark.parametrize("status", ["sold_out", "cancelled"])
def test_staff_move_a_published_event_between_sale_states(api: Api, staff_token: str, status: str) -> None:
    venue = VenueFactory()
    event_id = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()["id"]

    response = api.put(f"/api/events/{event_id}", payload(venue.pk, status=status), token=staff_token)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["on_sale"]) == (status, False)
    assert catalog_events(Topic.EVENT_UPDATED)[-1]["status"] == status


def test_a_published_event_cannot_go_back_to_draft(api: Api, staff_token: str) -> None:
    venue = VenueFactory()
    event_id = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()["id"]

    response = api.put(f"/api/events/{event_id}", payload(venue.pk, status="draft"), token=staff_token)

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "A published event cannot go back to draft.",
        "details": {},
    }
    event = Event.objects.get()
    assert (event.status, event.revision) == (EventStatus.ON_SALE, 1)
    assert api.get(f"/api/events/{event_id}").status_code == 200


def test_a_cancelled_event_stays_cancelled_and_a_refused_change_changes_nothing(
    api: Api, staff_token: str
) -> None:
    venue = VenueFactory()
    event_id = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()["id"]
    api.put(f"/api/events/{event_id}", payload(venue.pk, status="cancelled"), token=staff_token)
    announced = OutboxMessage.objects.using("documents").count()

    response = api.put(
        f"/api/events/{event_id}", payload(venue.pk, name="Back on", status="on_sale"), token=staff_token
    )

    assert response.status_code == 409
    assert response.json()["error"]["message"] == "A cancelled event stays cancelled."
    event = Event.objects.get()
    assert (event.status, event.name) == (EventStatus.CANCELLED, "Jazz Night")
    assert OutboxMessage.objects.using("documents").count() == announced


def test_a_draft_can_be_cancelled_but_not_sold_out(api: Api, staff_token: str) -> None:
    sold_out_draft, cancelled_draft = EventFactory(), EventFactory()

    sold_out = api.put(
        f"/api/events/{sold_out_draft.pk}",
        payload(sold_out_draft.venue_id, status="sold_out"),
        token=staff_token,
    )
    cancelled = api.put(
        f"/api/events/{cancelled_draft.pk}",
        payload(cancelled_draft.venue_id, status="cancelled"),
        token=staff_token,
    )

    assert (sold_out.status_code, sold_out.json()["error"]["message"]) == (
        409,
        "Publish the event before marking it sold out.",
    )
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert not OutboxMessage.objects.using("documents").exists()


def test_a_published_event_keeps_its_venue(api: Api, staff_token: str) -> None:
    venue, other = VenueFactory(), VenueFactory()
    event_id = api.post("/api/events", payload(venue.pk, status="on_sale"), token=staff_token).json()["id"]

    response = api.put(f"/api/events/{event_id}", payload(other.pk), token=staff_token)

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": "A published event cannot move to another venue.",
        "details": {"fields": {"venue_id": ["locked"]}},
    }


def test_replacing_with_invalid_input_is_400(api: Api, staff_token: str) -> None:
    event = EventFactory()

    response = api.put(
        f"/api/events/{event.pk}", payload(event.venue_id, prices={"standard": 1}), token=staff_token
    )

    assert fields_of(response) == {
        "prices": ["Give a price for every seat category of the venue: economy, premium."]
    }


def test_replacing_needs_staff_and_a_known_event(api: Api, customer_token: str, staff_token: str) -> None:
    event = published()

    anonymous = api.put(f"/api/events/{event.pk}", payload(event.venue_id))
    customer = api.put(f"/api/events/{event.pk}", payload(event.venue_id), token=customer_token)
    unknown = api.put(f"/api/events/{uuid.uuid4()}", payload(event.venue_id), token=staff_token)

    assert (anonymous.status_code, customer.status_code, unknown.status_code) == (401, 403, 404)


# --- publish -----------------------------------------------------------------------------------


def test_staff_publish_a_draft(api: Api, staff_token: str) -> None:
    event = EventFactory()

    response = api.post(f"/api/events/{event.pk}/publish", token=staff_token)

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["on_sale"]) == ("on_sale", True)
    event.refresh_from_db()
    assert (event.status, event.revision, event.layout) == (EventStatus.ON_SALE, 1, event.venue.layout)
    [created] = catalog_events(Topic.EVENT_CREATED)
    assert created["event_id"] == str(event.pk)


def test_publishing_twice_is_409(api: Api, staff_token: str) -> None:
    event = EventFactory()
    api.post(f"/api/events/{event.pk}/publish", token=staff_token)

    response = api.post(f"/api/events/{event.pk}/publish", token=staff_token)

    assert response.status_code == 409
    assert response.json()["error"]["message"] == "This event is already published."
    assert len(catalog_events(Topic.EVENT_CREATED)) == 1


def test_publishing_an_event_that_is_no_longer_sellable_is_400(api: Api, staff_token: str) -> None:
    event = EventFactory(prices={"standard": 4500})

    response = api.post(f"/api/events/{event.pk}/publish", token=staff_token)

    assert fields_of(response) == {
        "prices": ["Give a price for every seat category of the venue: economy, premium."]
    }
    assert Event.objects.get().status == EventStatus.DRAFT


def test_publishing_needs_staff_and_a_known_event(api: Api, customer_token: str, staff_token: str) -> None:
    event = EventFactory()

    anonymous = api.post(f"/api/events/{event.pk}/publish")
    customer = api.post(f"/api/events/{event.pk}/publish", token=customer_token)
    unknown = api.post(f"/api/events/{uuid.uuid4()}/publish", token=staff_token)
    malformed = api.post("/api/events/nope/publish", token=staff_token)

    assert (anonymous.status_code, customer.status_code, unknown.status_code, malformed.status_code) == (
        401,
        403,
        404,
        404,
    )
    assert Event.objects.get().status == EventStatus.DRAFT


# --- the request itself ------------------------------------------------------------------------


def test_event_routes_refuse_bodies_that_are_not_json(api: Api, staff_token: str) -> None:
    event = EventFactory()
    auth = {"Authorization": f"Bearer {staff_token}"}

    for path, method in (("/api/events", "POST"), (f"/api/events/{event.pk}", "PUT")):
        malformed = api.client.generic(method, path, data="{", content_type="application/json", headers=auth)
        form = api.client.generic(
            method, path, data="name=x", content_type="application/x-www-form-urlencoded", headers=auth
        )

        assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_request")
        assert (form.status_code, form.json()["error"]["code"]) == (415, "unsupported_media_type")


def test_the_browsable_api_renders_the_event_routes_for_anyone_and_for_staff(api: Api) -> None:
    event = published(name="Browsable Gala")
    draft = EventFactory(name="Draft Gala")

    for who in ("anonymous", "staff"):
        if who == "staff":
            api.client.force_login(UserFactory(is_staff=True))
        for path in ("/api/events", f"/api/events/{event.pk}"):
            response = api.client.get(path, headers={"Accept": "text/html"})

            assert response.status_code == 200, (who, path)
            assert response["Content-Type"] == "text/html; charset=utf-8"
            assert b"Browsable Gala" in response.content
    publish = api.client.get(f"/api/events/{draft.pk}/publish", headers={"Accept": "text/html"})
    assert publish.status_code == 200
    assert publish["Content-Type"] == "text/html; charset=utf-8"
    assert b"<form" in publish.content


def test_a_json_get_on_the_publish_route_is_405(api: Api, staff_token: str) -> None:
    draft = EventFactory()

    response = api.get(f"/api/events/{draft.pk}/publish", token=staff_token)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert Event.objects.get().status == EventStatus.DRAFT


def test_the_openapi_schema_documents_the_catalog_routes(api: Api) -> None:
    schema = api.client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()

    methods = {path: set(operations) - {"parameters"} for path, operations in schema["paths"].items()}
    assert {path: methods[path] for path in methods if path.startswith(("/api/events", "/api/venues"))} == {
        "/api/events": {"get", "post"},
        "/api/events/{event_id}": {"get", "put", "patch"},
        "/api/events/{event_id}/queue": {"get", "post", "delete"},
        "/api/events/{event_id}/waitlist": {"get", "post", "delete"},
        "/api/events/{event_id}/publish": {"post"},
        "/api/venues": {"get", "post"},
        "/api/venues/{venue_id}": {"get"},
    }
    listing = schema["paths"]["/api/events"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"from", "to", "venue", "q", "page"}


ODD_VALUES = [None, True, -1, 10**30, 1.5, "", "\x00", "x" * 300, [], ["a"], {}, {"a": 1}]


def test_odd_values_in_any_field_are_answered_with_the_error_shape_never_500(
    api: Api, staff_token: str
) -> None:
    event = published()
    valid = payload(event.venue_id)
    fields = [
        *valid,
        "description",
        "sale_starts_at",
        "sale_ends_at",
        "max_seats_per_booking",
        "max_active_seats_per_buyer",
        "hold_minutes",
        "status",
    ]
    venue_fields = {"name": "V", "address": "", "timezone": "UTC", "layout_text": "[A] b\nA: 3"}
    requests = [
        ("POST", "/api/events", {**valid, field: value}) for field in fields for value in ODD_VALUES
    ] + [
        ("PUT", f"/api/events/{event.pk}", {**valid, field: value})
        for field in fields
        for value in ODD_VALUES
    ]
    requests += [
        ("POST", "/api/venues", {**venue_fields, field: value})
        for field in venue_fields
        for value in ODD_VALUES
    ]
    requests += [("POST", "/api/venues", {"name": "V", "layout": value}) for value in ODD_VALUES]
    requests += [
        (m, p, body) for m, p in (("POST", "/api/events"), ("POST", "/api/venues")) for body in ([], "x", 1)
    ]

    answers = [(m, p, body, api.request(m, p, body, token=staff_token)) for m, p, body in requests]

    broken = [
        (m, p, body, r.status_code)
        for m, p, body, r in answers
        if r.status_code >= 500 or (r.status_code >= 400 and set(r.json()) != {"error"})
    ]
    assert broken == []
    assert {r.status_code for *_, r in answers} <= {200, 201, 400, 409}
