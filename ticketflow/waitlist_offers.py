"""Waiting-list offers: inventory's signed "these seats are yours to book" that bookings checks.

When seats come back to a sold-out event, inventory offers them to the head of its waiting
list: the seats become OFFERED to one booking id, chosen by inventory, until the offer ends.
The buyer books them by sending this token with ``POST /api/bookings`` (``waitlist_offer``).
Bookings then gives the new booking that id, so the door's seat claims (which inventory
took for it) let it in and inventory's hold accepts the OFFERED seats; nobody else's
booking can, because nobody else's booking can have that id.

The token is self-contained and signed with the project's secret under its own salt, like
the waiting room's admission tokens (``ticketflow.admission_tokens``): bookings verifies it
without importing inventory. It lives in the kernel because both contexts depend on its
format. The token only lets a booking ask; inventory's rows still decide, so a token whose
offer has lapsed or passed on books nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core import signing

from ticketflow.error_codes import ErrorCode
from ticketflow.errors import Conflict, Forbidden, InvalidInput

SALT = "ticketflow.inventory.waitlist-offer"
MAX_OFFER_SECONDS = 24 * 3600
"""No token outlives this, whatever it says: the longest offer an event may set."""


@dataclass(frozen=True)
class Offer:
    """What a valid token says."""

    offer_id: str
    booking_id: str
    user_id: str
    event_id: str
    seat_ids: tuple[str, ...]
    expires_at: float


def issue(offer: Offer) -> str:
    """The token for ``offer``."""
    return signing.dumps(
        {
            "o": offer.offer_id,
            "b": offer.booking_id,
            "u": offer.user_id,
            "e": offer.event_id,
            "s": list(offer.seat_ids),
            "x": round(offer.expires_at, 3),
        },
        salt=SALT,
        compress=True,
    )


def read(token: str) -> Offer | None:
    """The offer a token carries, or None if it is forged, malformed or too old."""
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_OFFER_SECONDS)
        return Offer(
            offer_id=str(data["o"]),
            booking_id=str(data["b"]),
            user_id=str(data["u"]),
            event_id=str(data["e"]),
            seat_ids=tuple(str(seat) for seat in data["s"]),
            expires_at=float(data["x"]),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def require(token: str, *, user_id: str, event_id: str, now: float | None = None) -> Offer:
    """The offer of ``token`` for this account and event, or the reason it cannot be used.

    ``400 invalid_offer`` for a token that is not one of ours, ``403 offer_not_yours`` for
    another account's, ``409 offer_expired`` once its time is up.
    """
    offer = read(token)
    if offer is None or offer.event_id != str(event_id):
        raise InvalidInput(
            "This waiting-list offer is not valid for this event.",
            code=ErrorCode.INVALID_OFFER,
            details={"fields": {"waitlist_offer": ["Not a valid offer for this event."]}},
        )
    if offer.user_id != str(user_id):
        raise Forbidden(
            "This waiting-list offer was made to another account.", code=ErrorCode.OFFER_NOT_YOURS
        )
    if offer.expires_at <= (time.time() if now is None else now):
        raise Conflict(
            "Your waiting-list offer has ended and its seats have passed to the next buyer.",
            code=ErrorCode.OFFER_EXPIRED,
        )
    return offer
