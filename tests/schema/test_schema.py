"""The served OpenAPI schema tells clients the truth: errors, sign-in, constraints, ``Allow``.

schemathesis checks the same against a running server (scripts/schemathesis, in ``make test``);
these tests pin the mechanisms in ticketflow.schema so a regression names its cause.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.serializers import PASSWORD_MIN_LENGTH
from ticketflow.errors import error_body

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

PUBLIC_READS = [
    ("get", "/api/events"),
    ("get", "/api/events/{event_id}"),
    ("get", "/api/venues"),
    ("get", "/api/venues/{venue_id}"),
    ("get", "/api/inventory/events/{event_id}/seats"),
    ("get", "/api/checkin/events/{event_id}/key"),
]


@pytest.fixture(scope="module")
def schema(django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    ]


def test_every_error_answer_is_the_one_error_component(schema: dict[str, Any]) -> None:
    undocumented, wrong = [], []
    for method, path, operation in operations(schema):
        if path == "/api/notifications/health":
            continue  # its 503 is a health report naming what is down, documented as such
        errors = {status: r for status, r in operation["responses"].items() if int(status) >= 400}
        if "503" not in errors:
            undocumented.append(f"{method} {path}")
        for status, response in errors.items():
            if response["content"]["application/json"]["schema"] != {"$ref": "#/components/schemas/Error"}:
                wrong.append(f"{method} {path} {status}")

    assert (undocumented, wrong) == ([], [])


def test_the_error_component_is_the_shape_the_handler_answers(schema: dict[str, Any]) -> None:
    component = schema["components"]["schemas"]["Error"]
    body = error_body("seats_unavailable", "Someone was quicker.", {"unavailable_seat_ids": ["A1"]})

    jsonschema.validate(body, component)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"error": {"code": "x", "message": "y"}}, component)
    assert component["properties"]["error"]["properties"]["code"]["type"] == "string"


def test_the_errors_an_operation_can_answer_are_documented(schema: dict[str, Any]) -> None:
    paths = schema["paths"]

    assert set(paths["/api/bookings"]["post"]["responses"]) == {
        "202", "400", "401", "403", "409", "415", "429", "503",
    }  # fmt: skip
    assert set(paths["/api/bookings/my"]["get"]["responses"]) == {"200", "400", "401", "404", "503"}
    assert set(paths["/api/events"]["post"]["responses"]) == {"201", "400", "401", "403", "409", "415", "503"}
    assert set(paths["/api/users/login"]["post"]["responses"]) == {"200", "400", "401", "415", "429", "503"}
    assert set(paths["/api/checkin/events/{event_id}/key"]["get"]["responses"]) == {"200", "404", "503"}


@pytest.mark.parametrize(("method", "path"), PUBLIC_READS)
def test_public_reads_need_no_sign_in(schema: dict[str, Any], method: str, path: str) -> None:
    security = schema["paths"][path][method].get("security", [])

    assert security == [] or {} in security


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/bookings/my"),
        ("post", "/api/events"),
        ("post", "/api/bookings"),
        ("get", "/api/users/me"),
    ],
)
def test_protected_operations_require_a_token(schema: dict[str, Any], method: str, path: str) -> None:
    security = schema["paths"][path][method]["security"]

    assert {"jwtAuth": []} in security
    assert {} not in security


def test_the_queue_pass_is_offered_only_for_reading_ones_place(schema: dict[str, Any]) -> None:
    queue = schema["paths"]["/api/events/{event_id}/queue"]

    assert {"queuePass": []} in queue["get"]["security"]
    assert {"queuePass": []} not in queue["post"]["security"] + queue["delete"]["security"]


def test_the_notifications_list_is_documented_as_the_page_it_is(schema: dict[str, Any]) -> None:
    ok = schema["paths"]["/api/notifications/recent"]["get"]["responses"]["200"]
    page = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]

    assert set(schema["components"]["schemas"][page]["properties"]) == {
        "count",
        "next",
        "previous",
        "results",
    }


def test_the_constraints_the_server_enforces_are_declared(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    booking = components["BookingInputRequest"]
    register = components["RegisterInputRequest"]
    lengths = [
        validator["OPTIONS"]["min_length"]
        for validator in settings.AUTH_PASSWORD_VALIDATORS
        if validator["NAME"].endswith("MinimumLengthValidator")
    ]

    assert set(booking["required"]) == {"event_id", "seat_ids", "payment_method"}
    assert (booking["properties"]["seat_ids"]["minItems"], booking["properties"]["seat_ids"]["maxItems"]) == (
        1,
        100,
    )
    assert booking["properties"]["payment_method"]["pattern"] == "^pm_[A-Za-z0-9_]{1,250}$"
    assert components["TransferInputRequest"]["properties"]["ticket_ids"]["minItems"] == 1
    assert register["properties"]["email"]["format"] == "email"
    assert lengths == [PASSWORD_MIN_LENGTH] == [register["properties"]["password"]["minLength"]]
    assert (
        components["PasswordChangeInputRequest"]["properties"]["new_password"]["minLength"]
        == PASSWORD_MIN_LENGTH
    )
    listing = {p["name"]: p["schema"] for p in schema["paths"]["/api/events"]["get"]["parameters"]}
    assert {"type": "string", "format": "date-time"} in listing["from"]["anyOf"]
    assert listing["page_size"]["minimum"] == 1
    wait = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/bookings/{booking_id}"]["get"]["parameters"]
    }
    assert (wait["wait"]["type"], wait["wait"]["maximum"]) == ("number", 25)


def test_what_staff_send_declares_its_constraints_too(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]

    assert components["EventInputRequest"]["properties"]["prices"]["minProperties"] == 1
    assert components["PatchedEventInputRequest"]["properties"]["prices"]["minProperties"] == 1
    assert components["VenueInputRequest"]["properties"]["layout"]["type"] == "object"


@pytest.mark.parametrize(
    "path", ["/api/users/logout", "/api/bookings/3f1f0000-0000-4000-8000-000000000000/cancel"]
)
def test_allow_names_only_the_documented_methods_of_a_post_only_route(path: str) -> None:
    user = get_user_model().objects.create_user(
        email="ada@example.com", password="Correct-Horse-42", name="Ada"
    )
    client = APIClient()
    client.force_authenticate(user)

    response = client.options(path)

    assert response.status_code == 200
    assert response["Allow"] == "POST, OPTIONS"


@pytest.mark.parametrize("page_size", ["abc", "0", "-1", "1.5", ""])
def test_a_malformed_page_size_is_a_400(page_size: str) -> None:
    response = APIClient().get("/api/venues", {"page_size": page_size})

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"page_size": ["not a positive whole number"]}


@pytest.mark.parametrize(
    "query", ["page=abc", "page=0", "page=", "page=%C2%96&page=", "page_size=x&page_size=5"]
)
def test_a_malformed_page_is_a_400_in_any_of_its_copies(query: str) -> None:
    response = APIClient().get(f"/api/venues?{query}")

    assert response.status_code == 400
    [name] = response.json()["error"]["details"]["fields"]
    assert name == query.split("=")[0]


def test_a_page_past_the_last_is_a_404() -> None:
    response = APIClient().get("/api/venues", {"page": "7"})

    assert response.status_code == 404


def test_a_page_size_above_the_maximum_gives_the_maximum() -> None:
    response = APIClient().get("/api/venues", {"page_size": "1000"})

    assert response.status_code == 200
    assert "page_size=1000" not in (response.json()["next"] or "")


def test_a_webhook_without_a_signature_is_a_400() -> None:
    response = APIClient().post("/api/payments/webhooks/stripe", {}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"


def test_long_polling_on_an_unknown_booking_status_is_a_400() -> None:
    user = get_user_model().objects.create_user(
        email="ada@example.com", password="Correct-Horse-42", name="Ada"
    )
    client = APIClient()
    client.force_authenticate(user)

    response = client.get(
        "/api/bookings/3f1f0000-0000-4000-8000-000000000000", {"status": "NOPE", "wait": "5"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == {"status": ["not a booking status"]}


@pytest.mark.parametrize("path", ["/api/bookings/my", "/api/transfers/received", "/api/notifications/recent"])
def test_the_paginated_lists_of_ones_own_render_in_the_browsable_api(path: str) -> None:
    user = get_user_model().objects.create_user(
        email="ada@example.com", password="Correct-Horse-42", name="Ada"
    )
    client = Client()
    client.force_login(user)

    response = client.get(path, headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
