"""The venues API: staff create venues with a seating plan (document or text); anyone reads them."""

from __future__ import annotations

import uuid

import pytest

from apps.catalog.models import Venue
from apps.catalog.tests.factories import SMALL_LAYOUT, UserFactory, VenueFactory
from tests.support.api import Api

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

INVALID = "Some of the data sent is not valid."


def fields_of(response) -> dict[str, list[str]]:
    body = response.json()
    assert (response.status_code, body["error"]["code"], body["error"]["message"]) == (
        400,
        "invalid",
        INVALID,
    )
    return body["error"]["details"]["fields"]


def test_staff_create_a_venue_from_a_layout_document(api: Api, staff_token: str) -> None:
    response = api.post(
        "/api/venues",
        {"name": " Blue Hall ", "address": "2 Quay", "timezone": "Europe/Paris", "layout": SMALL_LAYOUT},
        token=staff_token,
    )

    assert response.status_code == 201
    venue = Venue.objects.get()
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "address",
        "timezone",
        "capacity",
        "sections",
        "layout",
        "created_at",
        "updated_at",
    }
    assert (body["id"], body["name"], body["address"], body["timezone"], body["capacity"]) == (
        str(venue.pk),
        "Blue Hall",
        "2 Quay",
        "Europe/Paris",
        10,
    )
    assert body["sections"] == [
        {"name": "Stalls", "rows": 2, "seats": 8},
        {"name": "Balcony", "rows": 1, "seats": 2},
    ]
    assert body["layout"]["sections"][0]["rows"][1] == {
        "label": "B",
        "seats": 4,
        "start": 11,
        "category": "premium",
    }
    assert (venue.capacity, venue.version) == (10, 1)


def test_staff_create_a_venue_from_layout_text(api: Api, staff_token: str) -> None:
    response = api.post(
        "/api/venues",
        {"name": "Club", "layout_text": "[Floor] standard\nA: 1-12\nB: 12 premium"},
        token=staff_token,
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["capacity"], body["timezone"], body["address"]) == (24, "UTC", "")
    assert body["layout"] == {
        "sections": [
            {
                "name": "Floor",
                "category": "standard",
                "rows": [
                    {"label": "A", "seats": 12, "start": 1},
                    {"label": "B", "seats": 12, "start": 1, "category": "premium"},
                ],
            }
        ]
    }


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"name": "Club"}, {"layout": ["Send the seating plan as either layout or layout_text."]}),
        (
            {"name": "Club", "layout": SMALL_LAYOUT, "layout_text": "[Floor] standard\nA: 5"},
            {"layout": ["Send the seating plan as either layout or layout_text."]},
        ),
        (
            {"name": "Club", "layout_text": "[Floor] standard\nA 5"},
            {"layout": ["line 2: expected '[Section] category' or 'ROW: FIRST-LAST', got 'A 5'"]},
        ),
        (
            {"name": "Club", "layout": {"sections": []}},
            {"layout": ["sections: List should have at least 1 item after validation, not 0"]},
        ),
        (
            {"name": "Club", "layout": "not a plan"},
            {"layout": ["layout: Input should be a valid dictionary or instance of SeatLayout"]},
        ),
        (
            {"name": "Club", "timezone": "Mars/Olympus", "layout_text": "[Floor] standard\nA: 5"},
            {"timezone": ["'Mars/Olympus' is not an IANA time zone such as Europe/Berlin."]},
        ),
        ({"layout_text": "[Floor] standard\nA: 5"}, {"name": ["This field is required."]}),
    ],
    ids=[
        "no layout",
        "both layouts",
        "bad text",
        "empty document",
        "not a document",
        "bad timezone",
        "no name",
    ],
)
def test_invalid_venues_are_400_with_field_errors(
    api: Api, staff_token: str, payload: dict, fields: dict[str, list[str]]
) -> None:
    response = api.post("/api/venues", payload, token=staff_token)

    assert fields_of(response) == fields
    assert not Venue.objects.exists()


def test_creating_a_venue_needs_staff(api: Api, customer_token: str) -> None:
    payload = {"name": "Club", "layout_text": "[Floor] standard\nA: 5"}

    anonymous = api.post("/api/venues", payload)
    customer = api.post("/api/venues", payload, token=customer_token)

    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "not_authenticated")
    assert (customer.status_code, customer.json()["error"]["code"]) == (403, "forbidden")
    assert not Venue.objects.exists()


def test_anyone_lists_venues_by_name_with_pagination(api: Api) -> None:
    for name in ("Zenith", "Apollo", "Mercury"):
        VenueFactory(name=name)

    first = api.get("/api/venues", page_size=2)
    second = api.get("/api/venues", page_size=2, page=2)

    assert first.status_code == 200
    assert (first.json()["count"], first.json()["previous"]) == (3, None)
    assert first.json()["next"].endswith("/api/venues?page=2&page_size=2")
    assert [v["name"] for v in first.json()["results"]] == ["Apollo", "Mercury"]
    assert [v["name"] for v in second.json()["results"]] == ["Zenith"]
    assert second.json()["next"] is None


def test_anyone_reads_a_venue(api: Api) -> None:
    venue = VenueFactory(name="Apollo")

    response = api.get(f"/api/venues/{venue.pk}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["name"], response.json()["capacity"]) == (
        str(venue.pk),
        "Apollo",
        10,
    )
    assert response.json()["layout"] == SMALL_LAYOUT


@pytest.mark.parametrize("venue_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
def test_an_unknown_or_malformed_venue_id_is_404(api: Api, venue_id: str) -> None:
    response = api.get(f"/api/venues/{venue_id}")

    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "No venue has this id.", "details": {}}
    }


def test_venue_routes_refuse_bodies_that_are_not_json(api: Api, staff_token: str) -> None:
    malformed = api.client.post(
        "/api/venues",
        data="{",
        content_type="application/json",
        headers={"Authorization": f"Bearer {staff_token}"},
    )
    form = api.client.post(
        "/api/venues", data="name=Club", content_type="application/x-www-form-urlencoded",
        headers={"Authorization": f"Bearer {staff_token}"},
    )  # fmt: skip

    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_request")
    assert (form.status_code, form.json()["error"]["code"]) == (415, "unsupported_media_type")


def test_the_browsable_api_renders_the_venue_routes_for_anyone_and_for_staff(api: Api) -> None:
    venue = VenueFactory()

    for who in ("anonymous", "staff"):
        if who == "staff":
            api.client.force_login(UserFactory(is_staff=True))
        for path in ("/api/venues", f"/api/venues/{venue.pk}"):
            response = api.client.get(path, headers={"Accept": "text/html"})

            assert response.status_code == 200, (who, path)
            assert response["Content-Type"] == "text/html; charset=utf-8"
            assert venue.name.encode() in response.content
