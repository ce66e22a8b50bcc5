"""The Redis fast guard in front of seat holds.

Before touching the database, a hold request claims each seat in Redis (``SET NX`` with a
TTL, via the cache). A request that finds a seat claimed by another booking is probably a
loser and can be told so without taking row locks -- unless the database says otherwise:
the claim may be stale (a crash between commit and clean-up) or belong to a request that
is about to fail. So a contested claim is checked against the database, and the database's
conditional update always has the last word. If Redis is unreachable the guard steps
aside; sales continue on the database alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.cache import caches

logger = logging.getLogger(__name__)


def _key(event_id: str, seat_id: str) -> str:
    return f"inventory:seat:{event_id}:{seat_id}"


@dataclass
class Claim:
    claimed: list[str] = field(default_factory=list)
    contested: list[str] = field(default_factory=list)


def claim_seats(*, event_id: str, seat_ids: Iterable[str], owner: str, ttl_seconds: int) -> Claim:
    """Claim each seat for ``owner``; seats another owner holds come back as ``contested``."""
    cache = caches["default"]
    result = Claim()
    try:
        for seat_id in sorted(seat_ids):
            key = _key(event_id, seat_id)
            if cache.add(key, owner, timeout=ttl_seconds) or cache.get(key) == owner:
                result.claimed.append(seat_id)
            else:
                result.contested.append(seat_id)
    except Exception as error:
        logger.warning("seat guard unavailable, deciding in the database alone: %s", error)
        return Claim(claimed=[], contested=[])
    return result


def release_seats(*, event_id: str, seat_ids: Iterable[str], owner: str) -> None:
    """Drop ``owner``'s claims (others' claims stay)."""
    cache = caches["default"]
    try:
        for seat_id in seat_ids:
            key = _key(event_id, seat_id)
            if cache.get(key) == owner:
                cache.delete(key)
    except Exception as error:
        logger.warning("could not drop seat claims: %s", error)
