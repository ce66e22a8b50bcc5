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
from apps.demo.management.commands.seed import ADMIN_EMAIL, TEST_USER  # noqa: E402

STAFF_OPERATIONS = [
    "POST /api/venues",
    "POST /api/events",
    "PUT /api/events/{event_id}",
    "PATCH /api/events/{event_id}",
    "POST /api/events/{event_id}/publish",
    "GET /api/checkin/events/{event_id}/counts",
    "GET /api/checkin/events/{event_id}/snapshot",
    "POST /api/checkin/events/{event_id}/batch",
    "POST /api/checkin/redeem",
]
"""What only staff may do: run as the seeded admin, so their logic is tested, not just the 403."""


class _SignedIn:
    """A bearer access token of one seeded account, renewed when the server answers 401."""

    email: str

    def get(self, case: Any, context: Any) -> str:
        return sign_in_start(user=User.objects.get(email=self.email)).access

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schemathesis.auth(refresh_interval=600).apply_to(name=STAFF_OPERATIONS)
class SeededAdmin(_SignedIn):
    email = ADMIN_EMAIL


@schemathesis.auth(refresh_interval=600).skip_for(name=STAFF_OPERATIONS)
class SeededUser(_SignedIn):
    email = TEST_USER[0]
