"""Probes an attacker would send: forged and stale tokens, refresh reuse, guessing passwords.

The throttles count in the shared limiter (Redis on the real services, the file cache on
the embedded default); each test here sets its own low rate for the scope it probes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from apps.accounts.models import SignIn, SignInEnd
from apps.accounts.tests.conftest import Api
from apps.accounts.tests.factories import PASSWORD, UserFactory
from ticketflow.config import EMBEDDED_SECRET

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

User = get_user_model()


@pytest.fixture
def fresh_limits(settings) -> None:
    """Counters of this test only: a namespace of its own in the limiter's store."""
    settings.RATELIMIT_CACHE_PREFIX = f"{settings.RATELIMIT_CACHE_PREFIX}{uuid.uuid4().hex[:8]}:"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def forge(claims: dict, *, key: str | None = None) -> str:
    return jwt.encode(claims, key or django_settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")


# --- forged tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"key": EMBEDDED_SECRET},
        {"key": "another-key-that-is-long-enough-to-look-real-0123456789"},
        {"claims": {"aud": "someone-else"}},
        {"claims": {"iss": "https://evil.example"}},
        {"drop": "aud"},
        {"drop": "iss"},
        {"claims": {"exp": int((datetime.now(UTC) - timedelta(minutes=1)).timestamp())}},
        {"claims": {"token_type": "refresh"}},
    ],
    ids=[
        "public embedded key",
        "another key",
        "wrong aud",
        "wrong iss",
        "no aud",
        "no iss",
        "expired",
        "refresh as access",
    ],
)
def test_a_forged_or_altered_access_token_is_401(api: Api, change: dict) -> None:
    UserFactory(email="ada@example.com")
    claims = claims_of(api.login("ada@example.com", PASSWORD)["access"])
    claims.update(change.get("claims", {}))
    claims.pop(change.get("drop", ""), None)

    response = api.get("/api/users/me", token=forge(claims, key=change.get("key")))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_the_signing_key_is_not_the_published_development_key() -> None:
    assert django_settings.SIMPLE_JWT["SIGNING_KEY"] != EMBEDDED_SECRET
    assert len(django_settings.SIMPLE_JWT["SIGNING_KEY"]) >= 32


def test_tokens_name_the_audience_and_issuer_and_live_fifteen_minutes(api: Api) -> None:
    UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)
    access, refresh = claims_of(tokens["access"]), claims_of(tokens["refresh"])

    assert (access["aud"], access["iss"]) == ("ticketflow-api", django_settings.PUBLIC_BASE_URL)
    # The access token's expiry counts from its refresh token's instant, a moment before its iat
    assert 15 * 60 - 1 <= access["exp"] - access["iat"] <= 15 * 60
    assert access["sid"] == refresh["sid"]


def test_a_token_for_another_user_made_with_someone_elses_sign_in_is_401(api: Api) -> None:
    # Given Eve's own valid claims, re-signed for Ada's id (what a leaked key would allow)
    ada = UserFactory(email="ada@example.com")
    UserFactory(email="eve@example.com")
    claims = claims_of(api.login("eve@example.com", PASSWORD)["access"])
    claims["sub"] = str(ada.pk)

    response = api.get("/api/users/me", token=forge(claims))

    assert response.status_code == 401


# --- stale tokens: password change, logout ----------------------------------------------------------


def test_a_password_change_voids_every_earlier_token_and_hands_out_a_fresh_pair(api: Api) -> None:
    UserFactory(email="ada@example.com")
    phone = api.login("ada@example.com", PASSWORD)
    laptop = api.login("ada@example.com", PASSWORD)

    changed = api.post(
        "/api/users/me/password",
        {"current_password": PASSWORD, "new_password": "Brand-New-Secret-2026"},
        token=laptop["access"],
    )

    assert changed.status_code == 200
    fresh = changed.json()
    for old in (phone, laptop):
        assert api.get("/api/users/me", token=old["access"]).status_code == 401
        assert api.post("/api/users/token/refresh", {"refresh": old["refresh"]}).status_code == 401
    assert api.get("/api/users/me", token=fresh["access"]).status_code == 200
    assert api.post("/api/users/token/refresh", {"refresh": fresh["refresh"]}).status_code == 200
    assert api.post("/api/users/login", {"email": "ada@example.com", "password": PASSWORD}).status_code == 401


def test_a_password_set_anywhere_else_voids_the_tokens_too(api: Api) -> None:
    user = UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)

    user.set_password("Reset-By-The-Box-Office-1")
    user.save()

    assert api.get("/api/users/me", token=tokens["access"]).status_code == 401
    assert api.post("/api/users/token/refresh", {"refresh": tokens["refresh"]}).status_code == 401
    assert set(SignIn.objects.values_list("end_reason", flat=True)) == {SignInEnd.PASSWORD_CHANGED}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"current_password": "Wrong-Horse-4242", "new_password": "Brand-New-Secret-2026"},
            {"current_password": ["This is not your current password."]},
        ),
        (
            {"current_password": PASSWORD, "new_password": "short-pw"},
            {"new_password": ["This password is too short. It must contain at least 12 characters."]},
        ),
    ],
    ids=["wrong current password", "weak new password"],
)
def test_a_refused_password_change_keeps_the_sign_in(api: Api, body: dict, fields: dict) -> None:
    UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)

    response = api.post("/api/users/me/password", body, token=tokens["access"])

    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"] == fields
    assert api.get("/api/users/me", token=tokens["access"]).status_code == 200


def test_logout_voids_this_sign_ins_tokens_and_leaves_other_devices_in(api: Api) -> None:
    UserFactory(email="ada@example.com")
    phone = api.login("ada@example.com", PASSWORD)
    laptop = api.login("ada@example.com", PASSWORD)
    rotated = api.post("/api/users/token/refresh", {"refresh": laptop["refresh"]}).json()

    response = api.post("/api/users/logout", {"refresh": rotated["refresh"]}, token=laptop["access"])

    assert response.status_code == 204
    for token in (laptop["access"], rotated["access"]):
        assert api.get("/api/users/me", token=token).status_code == 401
    assert api.post("/api/users/token/refresh", {"refresh": rotated["refresh"]}).status_code == 401
    assert api.get("/api/users/me", token=phone["access"]).status_code == 200
    assert api.post("/api/users/logout", token=laptop["access"]).status_code == 401


def test_logout_without_a_refresh_token_still_ends_the_sign_in(api: Api) -> None:
    UserFactory(email="ada@example.com")
    tokens = api.login("ada@example.com", PASSWORD)

    assert api.post("/api/users/logout", token=tokens["access"]).status_code == 204

    assert api.post("/api/users/token/refresh", {"refresh": tokens["refresh"]}).status_code == 401


def test_logout_refuses_someone_elses_refresh_token(api: Api) -> None:
    UserFactory(email="ada@example.com")
    UserFactory(email="eve@example.com")
    ada = api.login("ada@example.com", PASSWORD)
    eve = api.login("eve@example.com", PASSWORD)

    response = api.post("/api/users/logout", {"refresh": ada["refresh"]}, token=eve["access"])

    assert response.status_code == 400
    assert api.post("/api/users/token/refresh", {"refresh": ada["refresh"]}).status_code == 200


# --- refresh rotation and reuse --------------------------------------------------------------------


def test_a_rotated_refresh_token_is_refused_and_its_reuse_ends_the_sign_in(api: Api) -> None:
    UserFactory(email="ada@example.com")
    stolen = api.login("ada@example.com", PASSWORD)
    rotated = api.post("/api/users/token/refresh", {"refresh": stolen["refresh"]}).json()

    reused = api.post("/api/users/token/refresh", {"refresh": stolen["refresh"]})

    assert reused.status_code == 401
    assert (
        reused.json()["error"]["details"]["reason"] == "This refresh token was already used; sign in again."
    )
    # The whole sign-in ends: the thief (or the owner) holding the newer pair is out too.
    assert api.get("/api/users/me", token=rotated["access"]).status_code == 401
    assert api.post("/api/users/token/refresh", {"refresh": rotated["refresh"]}).status_code == 401
    assert SignIn.objects.get().end_reason == SignInEnd.REFRESH_REUSED


# --- guessing passwords --------------------------------------------------------------------------


def test_a_rotating_forwarded_header_does_not_escape_the_login_limit(
    api: Api, settings, fresh_limits
) -> None:
    settings.NUM_PROXIES = 0
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "5/m"}
    UserFactory(email="ada@example.com")

    statuses = [
        api.client.post(
            "/api/users/login",
            data={"email": f"guess{i}@example.com", "password": "Wrong-Horse-4242"},
            content_type="application/json",
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        ).status_code
        for i in range(8)
    ]

    assert statuses == [401] * 5 + [429] * 3


def test_guesses_at_one_account_from_many_addresses_are_limited_per_account(
    api: Api, settings, fresh_limits
) -> None:
    settings.NUM_PROXIES = 1
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login-account": "4/15m"}
    UserFactory(email="ada@example.com")

    def attempt(i: int, email: str = "Ada@Example.com") -> int:
        return api.client.post(
            "/api/users/login",
            data={"email": email, "password": "Wrong-Horse-4242"},
            content_type="application/json",
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code

    statuses = [attempt(i) for i in range(6)]
    refused = api.client.post(
        "/api/users/login",
        data={"email": "ada@example.com", "password": PASSWORD},
        content_type="application/json",
        headers={"X-Forwarded-For": "192.0.2.77"},
    )

    assert statuses == [401] * 4 + [429] * 2
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert attempt(99, email="someone-else@example.com") == 401


def test_axes_locks_out_the_api_login_with_a_readable_error(api: Api, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="ada@example.com")

    statuses = [
        api.post("/api/users/login", {"email": "ada@example.com", "password": "Wrong-Horse-4242"}).status_code
        for _ in range(3)
    ]
    locked = api.post("/api/users/login", {"email": "ada@example.com", "password": PASSWORD})

    # The failure that reaches the limit is already answered with the lockout
    assert statuses == [401, 401, 429]
    assert locked.status_code == 429
    error = locked.json()["error"]
    assert error["code"] == "locked_out"
    assert error["message"].startswith("Too many failed sign-ins. Wait 15 minutes")
    assert locked["Retry-After"] == "900"


def test_axes_locks_out_the_storefront_login_with_a_page(client: Client, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="ada@example.com")

    for _ in range(2):
        assert client.post("/login", {"username": "ada@example.com", "password": "nope"}).status_code == 200
    assert client.post("/login", {"username": "ada@example.com", "password": "nope"}).status_code == 429
    locked = client.post("/login", {"username": "ada@example.com", "password": PASSWORD})

    assert locked.status_code == 429
    assert locked["Content-Type"].startswith("text/html")
    assert b"Too many failed sign-ins. Wait 15 minutes" in locked.content
    assert "_auth_user_id" not in client.session


def test_axes_locks_out_the_admin_login(client: Client, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True)

    for _ in range(3):
        client.post("/admin/login/", {"username": "boss@example.com", "password": "nope"})
    locked = client.post("/admin/login/", {"username": "boss@example.com", "password": PASSWORD})

    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert "_auth_user_id" not in client.session


def test_axes_counts_the_address_the_limiter_counts(settings) -> None:
    from axes.helpers import get_client_ip_address
    from django.test import RequestFactory

    from ticketflow.ratelimit import client_ip

    settings.NUM_PROXIES = 1
    request = RequestFactory().post(
        "/login", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7"
    )

    assert get_client_ip_address(request) == client_ip(request) == "198.51.100.7"


def test_the_storefront_login_and_signup_share_the_limits(client: Client, settings, fresh_limits) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "2/m", "register": "2/m"}

    logins = [client.post("/login", {"username": f"x{i}@example.com", "password": "nope"}) for i in range(3)]
    signups = [
        client.post(
            "/signup", {"name": "Eve", "email": f"eve{i}@example.com", "password": "Correct-Horse-42"}
        )
        for i in range(3)
    ]

    assert [r.status_code for r in logins] == [200, 200, 429]
    assert [r.status_code for r in signups] == [302, 302, 429]
    assert "Too many attempts from here." in logins[-1].content.decode()
    assert int(signups[-1]["Retry-After"]) > 0


def test_token_refresh_and_register_are_throttled(api: Api, settings, fresh_limits) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "token-refresh": "2/m", "register": "2/m"}

    refreshes = [api.post("/api/users/token/refresh", {"refresh": "x"}).status_code for _ in range(3)]
    registers = [api.post("/api/users/register", {}).status_code for _ in range(3)]

    assert (refreshes, registers) == ([401, 401, 429], [400, 400, 429])
