"""Helpers of the catalog tests: JSON calls, signed-in staff and customers, the in-process relay."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import RefreshToken

from apps.catalog.tests.factories import UserFactory


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


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)


@pytest.fixture
def staff_token() -> str:
    return token_for(UserFactory(is_staff=True))


@pytest.fixture
def customer_token() -> str:
    return token_for(UserFactory())
