"""Queue passes: a signed "this is my place in this event's queue", for cheap long polls.

``POST /api/events/{id}/queue`` returns one (``queue_pass``). Sent back in ``X-Queue-Pass``
on ``GET``, it identifies the account for that one endpoint without a session or JWT
lookup, so the ASGI fast path (:mod:`apps.waitingroom.fastpath`) can answer a waiting
buyer from Redis alone. It grants nothing else: it reads a place, it does not book.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

SALT = "ticketflow.waitingroom.pass"
HEADER = "X-Queue-Pass"
MAX_AGE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class QueuePass:
    user_id: str
    event_id: str


def issue(*, user_id: str, event_id: str) -> str:
    """A pass for ``user_id``'s place in ``event_id``'s queue, good for a day."""
    return signing.dumps({"u": str(user_id), "e": str(event_id)}, salt=SALT)


def read(value: str) -> QueuePass | None:
    """The pass's account and event, or None if it is forged, malformed or too old."""
    try:
        data = signing.loads(value, salt=SALT, max_age=MAX_AGE_SECONDS)
        return QueuePass(user_id=str(data["u"]), event_id=str(data["e"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


class QueuePassAuthentication(BaseAuthentication):
    """DRF authentication by ``X-Queue-Pass``, for reading one's place (GET) only."""

    def authenticate(self, request: Request) -> tuple[object, None] | None:
        value = request.headers.get(HEADER)
        if not value or request.method != "GET":
            return None
        queue_pass = read(value)
        kwargs = (request.parser_context or {}).get("kwargs", {})
        if queue_pass is None or queue_pass.event_id != str(kwargs.get("event_id")):
            return None
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=queue_pass.user_id, is_active=True).first()
        return (user, None) if user is not None else None
