"""The accounts API: register, log in, refresh, who am I -- status codes, shapes and errors."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model

from apps.accounts.apis import SIGN_UP_ANSWER
from apps.accounts.tests.conftest import Api
from apps.accounts.tests.factories import PASSWORD, UserFactory
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

User = get_user_model()

GOOD = {"email": "Ada.Lovelace@Example.com", "password": "Analytical-Engine-1843", "name": "Ada Lovelace"}
INVALID = "Some of the data sent is not valid."


def fields_of(response) -> dict[str, list[str]]:
    body = response.json()
    assert set(body) == {"error"}
    assert (body["error"]["code"], body["error"]["message"]) == ("invalid", INVALID)
    return body["error"]["details"]["fields"]


# --- register ----------------------------------------------------------------------------------


ANSWER = {"detail": SIGN_UP_ANSWER}


def test_register_creates_the_account_and_announces_it_with_a_verification_link(api: Api) -> None:
    response = api.post("/api/users/register", GOOD)

    assert response.status_code == 202
    assert response.json() == ANSWER
    user = User.objects.get()
    assert user.email == "ada.lovelace@example.com"
    assert user.check_password(GOOD["password"])
    assert (user.is_staff, user.is_superuser, user.is_active, user.email_verified_at) == (
        False,
        False,
        True,
        None,
    )
    [row] = OutboxMessage.objects.using("default").filter(topic=Topic.USER_REGISTERED)
    assert row.aggregate_id == str(user.pk)
    payload = json.loads(row.body)["payload"]
    assert {k: payload[k] for k in ("user_id", "email", "name")} == {
        "user_id": str(user.pk),
        "email": "ada.lovelace@example.com",
        "name": "Ada Lovelace",
    }
    assert payload["verification_url"].startswith("http://localhost:8000/verify-email?token=")


@pytest.mark.parametrize(
    "email", ["ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM", " Ada.Lovelace@example.com "]
)
def test_register_answers_a_taken_email_exactly_like_a_new_one_and_warns_its_owner(
    api: Api, email: str
) -> None:
    first = api.post("/api/users/register", GOOD)

    again = api.post("/api/users/register", {**GOOD, "email": email, "password": "Another-Secret-1999"})

    assert (first.status_code, first.json()) == (again.status_code, again.json()) == (202, ANSWER)
    assert User.objects.count() == 1
    assert User.objects.get().check_password(GOOD["password"])
    assert OutboxMessage.objects.using("default").filter(topic=Topic.USER_REGISTERED).count() == 1
    [warning] = OutboxMessage.objects.using("default").filter(topic=Topic.SIGN_UP_ATTEMPTED)
    assert json.loads(warning.body)["payload"] == {
        "user_id": str(User.objects.get().pk),
        "email": "ada.lovelace@example.com",
        "name": "Ada Lovelace",
    }


def test_the_verification_link_confirms_the_address_once_and_forgeries_are_refused(api: Api) -> None:
    api.post("/api/users/register", GOOD)
    row = OutboxMessage.objects.using("default").get(topic=Topic.USER_REGISTERED)
    token = json.loads(row.body)["payload"]["verification_url"].split("token=", 1)[1]

    forged = api.post("/api/users/verify-email", {"token": token[:-2] + "xx"})
    verified = api.post("/api/users/verify-email", {"token": token})
    again = api.post("/api/users/verify-email", {"token": token})

    assert forged.status_code == 400
    assert forged.json()["error"]["code"] == "invalid_token"
    assert (verified.status_code, again.status_code) == (200, 200)
    assert User.objects.get().email_verified_at is not None
    tokens = api.login(GOOD["email"], GOOD["password"])
    assert api.get("/api/users/me", token=tokens["access"]).json()["email_verified"] is True


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("Ab1!-Short", ["This password is too short. It must contain at least 12 characters."]),
        (
            "password",
            [
                "This password is too short. It must contain at least 12 characters.",
                "This password is too common.",
            ],
        ),
        ("730192846571", ["This password is entirely numeric."]),
        ("ada.lovelace1", ["The password is too similar to the email address."]),
    ],
)
def test_register_applies_the_password_validators(api: Api, password: str, problems: list[str]) -> None:
    response = api.post("/api/users/register", {**GOOD, "password": password})

    assert response.status_code == 400
    assert fields_of(response) == {"password": problems}
    assert not User.objects.exists()
    assert not OutboxMessage.objects.using("default").exists()


def test_register_reports_every_missing_field(api: Api) -> None:
    response = api.post("/api/users/register", {})

    assert response.status_code == 400
    assert fields_of(response) == {
        "email": ["This field is required."],
        "password": ["This field is required."],
        "name": ["This field is required."],
    }


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"email": "not-an-address"}, {"email": ["Enter a valid email address."]}),
        ({"name": "   "}, {"name": ["This field may not be blank."]}),
        (
            {"email": "a" * 255 + "@example.com"},
            {"email": ["Ensure this field has no more than 254 characters."]},
        ),
    ],
    ids=["malformed email", "blank name", "overlong email"],
)
def test_register_reports_the_field_at_fault(
    api: Api, change: dict[str, str], fields: dict[str, list[str]]
) -> None:
    response = api.post("/api/users/register", {**GOOD, **change})

    assert response.status_code == 400
    assert fields_of(response) == fields
    assert not User.objects.exists()


def test_register_refuses_a_non_object_body(api: Api) -> None:
    response = api.post("/api/users/register", ["ada@example.com"])

    assert response.status_code == 400
    assert fields_of(response) == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


# --- log in and refresh ------------------------------------------------------------------------


def test_login_returns_an_access_and_a_refresh_token(api: Api) -> None:
    UserFactory(email="ada@example.com")

    response = api.post("/api/users/login", {"email": "ADA@example.com ", "password": PASSWORD})

    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access", "refresh"}
    assert api.get("/api/users/me", token=tokens["access"]).json()["email"] == "ada@example.com"


@pytest.mark.parametrize(
    ("email", "password"),
    [("ada@example.com", "Wrong-Horse-42"), ("nobody@example.com", PASSWORD)],
    ids=["wrong password", "unknown email"],
)
def test_login_with_bad_credentials_is_401(api: Api, email: str, password: str) -> None:
    UserFactory(email="ada@example.com")

    response = api.post("/api/users/login", {"email": email, "password": password})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_login_of_a_deactivated_account_is_401(api: Api) -> None:
    UserFactory(email="ada@example.com", is_active=False)

    response = api.post("/api/users/login", {"email": "ada@example.com", "password": PASSWORD})

    assert response.status_code == 401


def test_login_without_a_password_is_400(api: Api) -> None:
    response = api.post("/api/users/login", {"email": "ada@example.com"})

    assert response.status_code == 400
    assert fields_of(response) == {"password": ["This field is required."]}


def test_refresh_returns_a_new_access_token_that_works(api: Api) -> None:
    UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)

    response = api.post("/api/users/token/refresh", {"refresh": tokens["refresh"]})

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    assert response.json()["refresh"] != tokens["refresh"]
    assert api.get("/api/users/me", token=response.json()["access"]).status_code == 200


@pytest.mark.parametrize("which", ["garbage", "access"])
def test_refresh_with_anything_but_a_refresh_token_is_401(api: Api, which: str) -> None:
    UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)
    token = {"garbage": "not.a.token", "access": tokens["access"]}[which]

    response = api.post("/api/users/token/refresh", {"refresh": token})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


# --- me ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "role"),
    [({}, "customer"), ({"is_staff": True}, "staff"), ({"is_staff": True, "is_superuser": True}, "admin")],
)
def test_me_describes_the_signed_in_user_with_a_role(api: Api, flags: dict[str, bool], role: str) -> None:
    user = UserFactory(email="ada@example.com", name="Ada Lovelace", **flags)
    tokens = api.login("ada@example.com", PASSWORD)

    response = api.get("/api/users/me", token=tokens["access"])

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "email", "name", "role", "email_verified", "date_joined"}
    assert (body["id"], body["email"], body["name"], body["role"]) == (
        str(user.pk),
        "ada@example.com",
        "Ada Lovelace",
        role,
    )


def test_me_anonymous_is_401_with_a_bearer_challenge(api: Api) -> None:
    response = api.get("/api/users/me")

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Sign in to do this: send 'Authorization: Bearer <token>'.",
            "details": {},
        }
    }
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["garbage", "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"])
def test_me_with_a_garbage_token_is_401(api: Api, token: str) -> None:
    response = api.get("/api/users/me", token=token)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_me_with_the_token_of_a_deactivated_user_is_401(api: Api) -> None:
    user = UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = api.get("/api/users/me", token=tokens["access"])

    assert response.status_code == 401


def test_me_refuses_other_methods_with_the_error_shape(api: Api) -> None:
    UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)

    response = api.request("DELETE", "/api/users/me", token=tokens["access"])

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


# --- malformed requests, the browsable API, the schema ------------------------------------------


@pytest.mark.parametrize("path", ["/api/users/register", "/api/users/login", "/api/users/token/refresh"])
def test_a_malformed_json_body_is_400_malformed_request(api: Api, path: str) -> None:
    response = api.client.post(path, data='{"email": "ada@', content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("malformed_request", "The request body is not valid JSON.")


@pytest.mark.parametrize("path", ["/api/users/register", "/api/users/login", "/api/users/token/refresh"])
def test_a_body_that_is_not_json_is_415(api: Api, path: str) -> None:
    response = api.client.post(
        path, data="email=ada%40example.com", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("path", ["/api/users/register", "/api/users/login", "/api/users/token/refresh"])
def test_the_browsable_api_renders_the_forms(api: Api, path: str) -> None:
    response = api.client.get(path, headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"<form" in response.content


def test_the_browsable_api_renders_me_for_a_signed_in_user(api: Api) -> None:
    user = UserFactory(email="ada@example.com")
    api.client.force_login(user)

    response = api.client.get("/api/users/me", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"ada@example.com" in response.content


def test_the_openapi_schema_describes_the_accounts_routes(api: Api) -> None:
    response = api.client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert {"/api/users/register", "/api/users/login", "/api/users/token/refresh", "/api/users/me"} <= set(
        schema["paths"]
    )
    assert set(schema["paths"]["/api/users/register"]) == {"post"}


def test_the_api_docs_page_is_served(api: Api) -> None:
    response = api.client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger-ui" in response.content
    assert b"/api/schema/" in response.content


@pytest.mark.parametrize("path", ["/api/users/register", "/api/users/login", "/api/users/token/refresh"])
def test_a_json_get_on_a_post_only_route_is_405(api: Api, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


ODD_VALUES = [None, True, -1, 10**30, 1.5, "", "\x00", "x" * 300, [], ["a"], {}, {"a": 1}]


def test_odd_values_in_any_field_are_answered_with_the_error_shape_never_500(api: Api) -> None:
    UserFactory(email="ada@example.com")
    forms = {
        "/api/users/register": dict(GOOD),
        "/api/users/login": {"email": "ada@example.com", "password": PASSWORD},
        "/api/users/token/refresh": {"refresh": "x"},
    }
    requests = [
        (path, {**form, field: value})
        for path, form in forms.items()
        for field in form
        for value in ODD_VALUES
    ]
    requests += [(path, body) for path in forms for body in ([], "x", 1, None)]

    answers = [(path, body, api.post(path, body)) for path, body in requests]

    broken = [
        (path, body, r.status_code)
        for path, body, r in answers
        if r.status_code >= 500 or (r.status_code >= 400 and set(r.json()) != {"error"})
    ]
    assert broken == []
    assert {r.status_code for *_, r in answers} <= {202, 400, 401}
