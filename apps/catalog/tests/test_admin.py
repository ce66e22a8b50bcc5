"""The box office in the admin: a staff member (not a superuser) builds a venue and an event and
puts it on sale; the seats follow once the announcement is applied."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from apps.catalog.layout import validate_layout
from apps.catalog.models import Event, EventStatus, Venue
from apps.catalog.tests.factories import PASSWORD, SMALL_LAYOUT, EventFactory, UserFactory, VenueFactory
from relay.engine import Relay
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

PLAN = "[Stalls] standard\r\nA: 1-6\r\nB: 1-6 premium\r\n[Balcony] economy\r\nA: 4\r\n"
BOX_OFFICE_PERMISSIONS = [
    f"{action}_{model}" for model in ("venue", "event") for action in ("add", "change", "view")
]


@pytest.fixture
def box_office(client: Client) -> Client:
    """A staff member with exactly the catalog permissions, logged in through the admin's form."""
    user = UserFactory(email="clerk@example.com", is_staff=True, organiser=False)
    # Rows of the through table, by id: the accounts router refuses user <-> permission
    # relations on model instances (see the report; ``user.user_permissions.set`` raises).
    grants = user.user_permissions.through
    grants.objects.bulk_create(
        grants(user_id=user.pk, permission_id=permission_id)
        for permission_id in Permission.objects.filter(
            content_type__app_label="catalog", codename__in=BOX_OFFICE_PERMISSIONS
        ).values_list("id", flat=True)
    )
    assert sorted(
        p.split(".")[1] for p in type(user).objects.get(pk=user.pk).get_all_permissions()
    ) == sorted(BOX_OFFICE_PERMISSIONS)
    assert not user.is_superuser
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "clerk@example.com", "password": PASSWORD, "next": "/admin/"},
    )
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    return client


def split(moment) -> dict[str, str]:
    return {"0": moment.strftime("%Y-%m-%d"), "1": moment.strftime("%H:%M:%S")}


def event_form(venue: Venue, **changes: Any) -> dict[str, str]:
    starts = (timezone.now() + timedelta(days=12)).replace(hour=19, minute=30, second=0, microsecond=0)
    form = {
        "venue": str(venue.pk),
        "name": "Admin Gala",
        "description": "Black tie.",
        "currency": "EUR",
        "prices": '{"standard": 4000, "premium": 6500, "economy": 2000}',
        "max_seats_per_booking": "6",
        "hold_minutes": "10",
        "sale_starts_at_0": "",
        "sale_starts_at_1": "",
        "sale_ends_at_0": "",
        "sale_ends_at_1": "",
        **{f"starts_at_{k}": v for k, v in split(starts).items()},
        **{f"ends_at_{k}": v for k, v in split(starts + timedelta(hours=3)).items()},
        "_save": "Save",
    }
    form.update(changes)
    return form


def form_errors(response) -> dict[str, list[str]]:
    """The admin form's errors (field name -> messages; ``__all__`` for the form's own)."""
    form = response.context["adminform"].form
    return {name: list(errors) for name, errors in form.errors.items()}


def test_staff_build_a_venue_and_an_event_and_its_seats_go_on_sale(
    box_office: Client, inprocess_relay: Relay
) -> None:
    # Given the admin's add form for venues
    assert box_office.get("/admin/catalog/venue/add/").status_code == 200

    # When the clerk types the plan, then adds an event there and publishes it with the action
    response = box_office.post(
        "/admin/catalog/venue/add/",
        {
            "name": "Admin Hall",
            "address": "3 Quay",
            "timezone": "Europe/Berlin",
            "layout_text": PLAN,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, form_errors(response)
    venue = Venue.objects.get()
    assert (venue.name, venue.capacity, venue.timezone) == ("Admin Hall", 16, "Europe/Berlin")
    assert [s["name"] for s in venue.layout["sections"]] == ["Stalls", "Balcony"]

    response = box_office.post(
        "/admin/catalog/event/add/", event_form(venue, max_active_seats_per_buyer="12")
    )
    assert response.status_code == 302, form_errors(response)
    event = Event.objects.get()
    assert (event.name, event.status, event.max_seats_per_booking) == ("Admin Gala", EventStatus.DRAFT, 6)
    assert event.max_active_seats_per_buyer == 12
    assert event.prices == {"standard": 4000, "premium": 6500, "economy": 2000}

    response = box_office.post(
        "/admin/catalog/event/",
        {"action": "publish", "_selected_action": [str(event.pk)], "index": "0"},
        follow=True,
    )
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]][-1] == "1 event(s) published."
    event.refresh_from_db()
    assert (event.status, event.revision) == (EventStatus.ON_SALE, 1)
    [announcement] = OutboxMessage.objects.using("documents").filter(topic=Topic.EVENT_CREATED)
    assert json.loads(announcement.body)["payload"]["max_active_seats_per_buyer"] == 12

    inprocess_relay.drain()

    # Then the seats are on sale through the inventory API
    response = box_office.get(
        f"/api/inventory/events/{event.pk}/seats", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    seats = response.json()["seats"]
    assert len(seats) == 16
    assert {s["status"] for s in seats} == {"AVAILABLE"}
    assert sorted({(s["section"], s["row"], s["price_cents"]) for s in seats}) == [
        ("Balcony", "A", 2000),
        ("Stalls", "A", 4000),
        ("Stalls", "B", 6500),
    ]


def test_the_venue_change_form_shows_the_plan_as_text_and_saves_it_back(box_office: Client) -> None:
    venue = VenueFactory(name="Old Hall")

    page = box_office.get(f"/admin/catalog/venue/{venue.pk}/change/")
    text = page.context["adminform"].form["layout_text"].value()
    response = box_office.post(
        f"/admin/catalog/venue/{venue.pk}/change/",
        {"name": "New Hall", "address": "", "timezone": "UTC", "layout_text": text, "_save": "Save"},
    )

    assert page.status_code == 200
    assert text == "[Stalls] standard\nA: 1-4\nB: 11-14 premium\n[Balcony] economy\nA: 1-2"
    assert response.status_code == 302, form_errors(response)
    venue.refresh_from_db()
    assert (venue.name, venue.version) == ("New Hall", 2)
    assert validate_layout(venue.layout) == validate_layout(SMALL_LAYOUT)


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"layout_text": "[Stalls] standard\r\nA 1-6"},
            {"layout_text": ["line 2: expected '[Section] category' or 'ROW: FIRST-LAST', got 'A 1-6'"]},
        ),
        (
            {"layout_text": "[Stalls] standard\r\nA: 1-6\r\nA: 7-9"},
            {"layout_text": ["sections.0: Value error, section 'Stalls' repeats a row label"]},
        ),
        ({"layout_text": ""}, {"layout_text": ["This field is required."]}),
        (
            {"timezone": "Mars/Olympus"},
            {"timezone": ["'Mars/Olympus' is not an IANA time zone such as Europe/Berlin."]},
        ),
    ],
    ids=["bad line", "repeated row", "no plan", "bad timezone"],
)
def test_an_invalid_venue_shows_a_form_error(
    box_office: Client, changes: dict[str, str], errors: dict
) -> None:
    form = {"name": "Bad Hall", "address": "", "timezone": "UTC", "layout_text": PLAN, "_save": "Save"}

    response = box_office.post("/admin/catalog/venue/add/", {**form, **changes})

    assert response.status_code == 200
    assert form_errors(response) == errors
    assert not Venue.objects.exists()


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"prices": '{"standard": 4000}'},
            {"prices": ["Give a price for every seat category of the venue: economy, premium."]},
        ),
        ({"prices": "[1, 2]"}, {"prices": ["Enter a JSON object of category: cents."]}),
        ({"prices": "{"}, {"prices": ["Enter a valid JSON."]}),
        ({"currency": "eur"}, {"currency": ["Use a three-letter ISO 4217 code such as EUR."]}),
        (
            {"max_active_seats_per_buyer": "5"},
            {
                "max_active_seats_per_buyer": [
                    "Allow one buyer at least the seats of one booking (6) and at most 10000; "
                    "leave it empty for twice the seats per booking."
                ]
            },
        ),
        ({"ends_at_0": "2020-01-01"}, {"ends_at": ["The event must end after it starts."]}),
        (
            {"starts_at_0": "2020-01-01", "ends_at_0": "2020-01-02"},
            {"starts_at": ["The event must start in the future."]},
        ),
    ],
    ids=[
        "unpriced category",
        "prices not an object",
        "prices not JSON",
        "bad currency",
        "purchase limit below one booking",
        "ends before start",
        "past",
    ],
)
def test_an_invalid_event_shows_a_form_error(
    box_office: Client, changes: dict[str, str], errors: dict
) -> None:
    venue = VenueFactory()

    response = box_office.post("/admin/catalog/event/add/", event_form(venue, **changes))

    assert response.status_code == 200
    assert form_errors(response) == errors
    assert not Event.objects.exists()


def test_publishing_an_already_published_event_reports_it(box_office: Client) -> None:
    event = EventFactory(status=EventStatus.ON_SALE, published_at=timezone.now())

    response = box_office.post(
        "/admin/catalog/event/",
        {"action": "publish", "_selected_action": [str(event.pk)], "index": "0"},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        f"{event.name}: This event is already published."
    ]


def test_a_customer_cannot_reach_the_admin(client: Client) -> None:
    UserFactory(email="buyer@example.com")

    anonymous = client.get("/admin/catalog/venue/add/")
    login = client.post(
        "/admin/login/", {"username": "buyer@example.com", "password": PASSWORD, "next": "/admin/"}
    )
    after = client.get("/admin/catalog/venue/add/")

    assert (anonymous.status_code, anonymous["Location"]) == (
        302,
        "/admin/login/?next=/admin/catalog/venue/add/",
    )
    assert login.status_code == 200
    assert "for a staff account" in login.content.decode()
    assert after.status_code == 302
    assert after["Location"].startswith("/admin/login/")


def test_staff_without_catalog_permissions_cannot_add_venues(client: Client) -> None:
    client.force_login(UserFactory(is_staff=True, organiser=False))

    response = client.get("/admin/catalog/venue/add/")

    assert response.status_code == 403


def test_changing_a_published_event_in_the_admin_keeps_its_venue_and_announces_the_change(
    box_office: Client,
) -> None:
    venue = VenueFactory()
    box_office.post("/admin/catalog/event/add/", event_form(venue))
    event = Event.objects.get()
    box_office.post(
        "/admin/catalog/event/", {"action": "publish", "_selected_action": [str(event.pk)], "index": "0"}
    )
    other = VenueFactory()

    page = box_office.get(f"/admin/catalog/event/{event.pk}/change/")
    response = box_office.post(
        f"/admin/catalog/event/{event.pk}/change/",
        event_form(
            other, prices='{"standard": 4200, "premium": 6500, "economy": 2000}', name="Admin Gala II"
        ),
    )

    assert page.context["adminform"].form.fields["venue"].disabled is True
    assert response.status_code == 302, form_errors(response)
    event.refresh_from_db()
    assert (event.name, event.venue_id, event.prices["standard"], event.revision) == (
        "Admin Gala II",
        venue.pk,
        4200,
        2,
    )
    [updated] = OutboxMessage.objects.using("documents").filter(topic=Topic.EVENT_UPDATED)
    assert '"standard":4200' in updated.body


@pytest.mark.parametrize(
    ("action", "status", "message"),
    [
        ("mark_sold_out", EventStatus.SOLD_OUT, "1 event(s) marked sold out."),
        ("cancel", EventStatus.CANCELLED, "1 event(s) cancelled."),
    ],
)
def test_the_sale_state_actions_move_a_published_event(
    box_office: Client, action: str, status: EventStatus, message: str
) -> None:
    venue = VenueFactory()
    box_office.post("/admin/catalog/event/add/", event_form(venue))
    event = Event.objects.get()
    box_office.post(
        "/admin/catalog/event/", {"action": "publish", "_selected_action": [str(event.pk)], "index": "0"}
    )

    response = box_office.post(
        "/admin/catalog/event/",
        {"action": action, "_selected_action": [str(event.pk)], "index": "0"},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]][-1] == message
    event.refresh_from_db()
    assert (event.status, event.revision) == (status, 2)


def test_the_admin_saves_a_refund_policy_and_shows_a_bad_one_as_a_form_error(box_office: Client) -> None:
    venue = VenueFactory()
    policy = [{"hours_before": 168, "percent": 100}, {"hours_before": 48, "percent": 50}]

    refused = box_office.post(
        "/admin/catalog/event/add/", event_form(venue, refund_policy=json.dumps(policy[::-1]))
    )
    saved = box_office.post("/admin/catalog/event/add/", event_form(venue, refund_policy=json.dumps(policy)))

    assert form_errors(refused) == {
        "refund_policy": [
            "Refund policy: list the steps from the most hours before the start to the fewest, each once."
        ]
    }
    assert saved.status_code == 302
    assert Event.objects.get().refund_policy == policy
