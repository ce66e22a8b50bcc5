"""Admission tokens: the waiting room's signed "your turn" that bookings checks.

When the waiting room admits an account to an event's sale it hands out a token that says
so: the account, the event and the end of the shopping window, signed with the project's
secret and a salt of its own (so no other signed value of the project can pass for one).
``POST /api/bookings`` for an event whose queue is on requires it in ``X-Queue-Token``.

The token is self-contained: bookings verifies it without asking the waiting room (the
contexts may not import each other, docs/adr/009-admission-claims.md explains the same
choice for seat claims) and without Redis, so a token already handed out keeps working
for its window when Redis is lost, while no new one can be issued. It lives in the kernel,
beside the event contract, because both contexts depend on its format.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing

from ticketflow.error_codes import ErrorCode
from ticketflow.errors import Forbidden

SALT = "ticketflow.waitingroom.admission"
HEADER = "X-Queue-Token"
MAX_WINDOW_SECONDS = 2 * 3600
"""No token outlives this, whatever it says: a bound on a mis-set window."""


@dataclass(frozen=True)
class Admission:
    """What a valid token says."""

    user_id: str
    event_id: str
    expires_at: float


class QueueRequired(Forbidden):
    code = ErrorCode.QUEUE_REQUIRED
    default_message = "This sale has a waiting room: join the queue and book when it is your turn."


def issue(*, user_id: str, event_id: str, expires_at: float) -> str:
    """A token admitting ``user_id`` to ``event_id``'s sale until ``expires_at`` (epoch seconds)."""
    return signing.dumps({"u": str(user_id), "e": str(event_id), "x": round(expires_at, 3)}, salt=SALT)


def read(token: str) -> Admission | None:
    """The admission a token grants, or None if it is forged, malformed or too old."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_WINDOW_SECONDS)
        return Admission(user_id=str(data["u"]), event_id=str(data["e"]), expires_at=float(data["x"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def require(token: str | None, *, user_id: str, event_id: str, now: float | None = None) -> Admission:
    """The admission of ``token`` for this account and event, or :class:`QueueRequired` (403).

    ``details.reason`` tells the client why: ``missing``, ``invalid``, ``other_account``,
    ``other_event`` or ``expired``.
    """
    if not token:
        raise QueueRequired(details={"reason": "missing", "header": HEADER})
    admission = read(token)
    if admission is None:
        raise QueueRequired("This queue token is not valid.", details={"reason": "invalid"})
    if admission.user_id != str(user_id):
        raise QueueRequired(
            "This queue token belongs to another account.", details={"reason": "other_account"}
        )
    if admission.event_id != str(event_id):
        raise QueueRequired("This queue token is for another event.", details={"reason": "other_event"})
    if admission.expires_at <= (time.time() if now is None else now):
        raise QueueRequired(
            "Your shopping window has ended: join the queue again.", details={"reason": "expired"}
        )
    return admission
