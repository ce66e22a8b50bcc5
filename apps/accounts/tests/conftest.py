"""Helpers of the accounts tests: JSON calls through the Django test client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client


class Api:
    """Call the JSON API as a client would, optionally with a bearer token."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(self, method: str, path: str, data: Any = None, *, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = json.dumps(data) if data is not None else ""
        return self.client.generic(method, path, data=body, content_type="application/json", headers=headers)

    def get(self, path: str, *, token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(path, headers=headers)

    def post(self, path: str, data: Any = None, *, token: str | None = None) -> Any:
        return self.request("POST", path, data, token=token)

    def login(self, email: str, password: str) -> dict[str, str]:
        response = self.post("/api/users/login", {"email": email, "password": password})
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client)
