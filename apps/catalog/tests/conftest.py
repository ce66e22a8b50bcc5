"""Helpers of the catalog tests: JSON calls, signed-in staff and customers, the in-process relay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from apps.catalog.tests.factories import UserFactory
from relay.engine import Relay
from ticketflow.messaging.transports import get_transport
from ticketflow.messaging.transports.inprocess import InProcessTransport


class Api:
    """Call the JSON API as a client would, optionally with a bearer token."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(self, method: str, path: str, data: Any = None, *, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = json.dumps(data) if data is not None else ""
        return self.client.generic(method, path, data=body, content_type="application/json", headers=headers)

    def get(self, path: str, *, token: str | None = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(path, params, headers=headers)

    def post(self, path: str, data: Any = None, *, token: str | None = None) -> Any:
        return self.request("POST", path, data, token=token)

    def put(self, path: str, data: Any = None, *, token: str | None = None) -> Any:
        return self.request("PUT", path, data, token=token)


def token_for(user: Any) -> str:
    return str(RefreshToken.for_user(user).access_token)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """A cheap hasher: these tests are about the API, not PBKDF2's cost (~1 s per hash here)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def staff_token() -> str:
    return token_for(UserFactory(is_staff=True))


@pytest.fixture
def customer_token() -> str:
    return token_for(UserFactory())


@pytest.fixture
def inprocess_relay(settings: Any) -> Iterator[Relay]:
    """A relay that applies events in this process (the embedded transport), with fast retries."""
    settings.TICKETFLOW_EVENTS = {
        **settings.TICKETFLOW_EVENTS,
        "TRANSPORT": "inprocess",
        "CONSUMER_BACKOFF_SECONDS": 0.01,
    }
    get_transport.cache_clear()
    yield Relay(InProcessTransport(), poll_interval=0.01)
    get_transport.cache_clear()
