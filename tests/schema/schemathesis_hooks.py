"""schemathesis hooks for ``scripts/schemathesis``: protected operations run as the seeded test user.

Loaded by the schemathesis process (``SCHEMATHESIS_HOOKS``) with the environment of the server
it tests, so Django opens the same SQLite files. Each token is a fresh API sign-in of the
README's test user, minted here rather than through ``POST /api/users/login``: the run calls
logout too, which ends the sign-in it was sent with, and logging in again after each of those
would trip the login throttles. A 401 makes schemathesis ask for a new token.
"""

from __future__ import annotations

import os
from typing import Any

import django
import schemathesis

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketflow.settings")
django.setup()

from apps.accounts.models import User  # noqa: E402 - needs django.setup()
from apps.accounts.services import sign_in_start  # noqa: E402
from apps.demo.management.commands.seed import TEST_USER  # noqa: E402


@schemathesis.auth(refresh_interval=600)
class SeededUser:
    """A bearer access token of the seeded test user, renewed when the server answers 401."""

    def get(self, case: Any, context: Any) -> str:
        user = User.objects.get(email=TEST_USER[0])
        return sign_in_start(user=user).access

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}
