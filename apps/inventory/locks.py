"""The Redis fast guard in front of seat holds.

Before touching the database, a hold request claims each seat in Redis (``SET NX`` with a
TTL). A request that finds a seat claimed by another booking is probably a loser and can be
told so without taking row locks -- unless the database says otherwise: the claim may be
stale (a crash between commit and clean-up) or belong to a request that is about to fail.
So a contested claim is checked against the database, and the database's conditional
update always has the last word. If Redis is unreachable the guard steps aside; sales
continue on the database alone.

With Redis, all of a request's seats are claimed in one pipelined round trip and released
with one atomic compare-and-delete script; with the local-memory cache of the embedded
default, the same is done through the cache API.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.cache import caches

logger = logging.getLogger(__name__)

# Deletes each key only if it still holds this owner's claim.
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        released = released + redis.call('DEL', key)
    end
end
return released
"""


def _key(event_id: str, seat_id: str) -> str:
    return f"tf:inventory:seat:{event_id}:{seat_id}"


@dataclass
class Claim:
    claimed: list[str] = field(default_factory=list)
    contested: list[str] = field(default_factory=list)


def _redis():
    cache = caches["default"]
    if cache.__class__.__module__.startswith("django_redis"):
        from django_redis import get_redis_connection

        return get_redis_connection("default")
    return None


def claim_seats(*, event_id: str, seat_ids: Iterable[str], owner: str, ttl_seconds: int) -> Claim:
    """Claim each seat for ``owner``; seats another owner holds come back as ``contested``."""
    seats = sorted(seat_ids)
    try:
        client = _redis()
        if client is None:
            return _claim_in_cache(event_id, seats, owner, ttl_seconds)
        with client.pipeline(transaction=False) as pipe:
            for seat_id in seats:
                pipe.set(_key(event_id, seat_id), owner, nx=True, ex=ttl_seconds)
            won = pipe.execute()
        lost = [seat for seat, ok in zip(seats, won, strict=True) if not ok]
        holders = client.mget([_key(event_id, seat) for seat in lost]) if lost else []
        mine = {
            seat for seat, holder in zip(lost, holders, strict=True) if holder and holder.decode() == owner
        }
        return Claim(
            claimed=[seat for seat, ok in zip(seats, won, strict=True) if ok or seat in mine],
            contested=[seat for seat in lost if seat not in mine],
        )
    except Exception as error:
        logger.warning("seat guard unavailable, deciding in the database alone: %s", error)
        return Claim()


def _claim_in_cache(event_id: str, seats: list[str], owner: str, ttl_seconds: int) -> Claim:
    cache = caches["default"]
    result = Claim()
    for seat_id in seats:
        key = _key(event_id, seat_id)
        if cache.add(key, owner, timeout=ttl_seconds) or cache.get(key) == owner:
            result.claimed.append(seat_id)
        else:
            result.contested.append(seat_id)
    return result


def release_seats(*, event_id: str, seat_ids: Iterable[str], owner: str) -> None:
    """Drop ``owner``'s claims (others' claims stay)."""
    keys = [_key(event_id, seat_id) for seat_id in seat_ids]
    if not keys:
        return
    try:
        client = _redis()
        if client is None:
            cache = caches["default"]
            for key in keys:
                if cache.get(key) == owner:
                    cache.delete(key)
            return
        client.eval(_RELEASE, len(keys), *keys, owner)
    except Exception as error:
        logger.warning("could not drop seat claims: %s", error)
