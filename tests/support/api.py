"""Calling the JSON API as a client would, through Django's test client."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client


class Api:
    """JSON requests with an optional bearer token; answers are Django test responses."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def request(self, method: str, path: str, data: Any = None, *, token: str | None = None) -> Any:
        """``method`` on ``path`` with ``data`` as the JSON body (no body when ``None``)."""
        body = json.dumps(data) if data is not None else ""
        return self.client.generic(
            method, path, data=body, content_type="application/json", headers=_auth(token)
        )

    def get(self, path: str, *, token: str | None = None, **params: Any) -> Any:
        """``GET path?params``."""
        return self.client.get(path, params, headers=_auth(token))

    def post(self, path: str, data: Any = None, *, token: str | None = None) -> Any:
        return self.request("POST", path, data, token=token)

    def put(self, path: str, data: Any = None, *, token: str | None = None) -> Any:
        return self.request("PUT", path, data, token=token)

    def login(self, email: str, password: str) -> dict[str, str]:
        """Sign in with ``POST /api/users/login``; the new sign-in's ``access`` and ``refresh``."""
        response = self.post("/api/users/login", {"email": email, "password": password})
        assert response.status_code == 200, response.content
        return response.json()


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}
