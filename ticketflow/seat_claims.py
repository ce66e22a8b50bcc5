"""Seat claims: inventory's published port for admission at the door.

A claim says "this seat is spoken for by this booking" for a limited time. It lets
``POST /api/bookings`` turn a loser away in one round trip, before any row, event or
email exists for it, and it lets inventory skip row locks for requests that cannot win.
It is only a filter: inventory's consumer still decides every hold under row locks, so a
claim that is lost, stale or missing can cost a loser a slower answer, never a seat sold
twice. Dropping a claim is therefore always safe; keeping a wrong one is what must not
last, which is why every claim has a TTL and inventory reconciles them with its rows.

The protocol, published here beside the event contract so that bookings (which claims)
and inventory (which confirms, releases and reconciles) share it without importing each
other (docs/adr/007-admission-claims.md):

* :func:`claim` takes every seat of a request for ``owner`` (the booking id) all or
  nothing, for ``ttl_seconds``. Seats held or sold for someone else come back as
  ``taken``. Asking again for the same owner refreshes the claim.
* :func:`mark_sold` turns a confirmed booking's claims into sold markers that last until
  the event ends.
* :func:`release` drops an owner's claims and sold markers, and nobody else's.
* :func:`holders` lists the claims of an event, for reconciliation.

With Redis (production, tests on the real services) a claim is one Lua script: one round
trip, atomic across every web process. On the embedded default there is no Redis, and a
per-process memory cache would let two web processes admit the same seat, so claims live
in a small SQLite file every local process shares (``var/claims.sqlite3``), changed in
``BEGIN IMMEDIATE`` transactions. When the store cannot be reached the port answers
``decided=False`` and the database decides alone, as it always could.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

SOLD = "sold:"
"""Prefix of a sold marker's value: ``sold:<booking id>``."""

# KEYS: the seats' keys. ARGV: owner, TTL in ms. Returns the 1-based positions of the
# seats someone else holds; when there are none, every seat is claimed for owner.
_CLAIM = """
local taken = {}
for i, key in ipairs(KEYS) do
    local holder = redis.call('GET', key)
    if holder and holder ~= ARGV[1] then
        taken[#taken + 1] = i
    end
end
if #taken == 0 then
    for _, key in ipairs(KEYS) do
        redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    end
end
return taken
"""

# KEYS: the seats' keys. ARGV: owner, sold marker, TTL in ms. Only the owner's claims become
# sold markers: a seat whose claim expired or went to someone else is left to the database.
_MARK_SOLD = """
local marked = 0
for _, key in ipairs(KEYS) do
    local holder = redis.call('GET', key)
    if holder == ARGV[1] or holder == ARGV[2] or not holder then
        redis.call('SET', key, ARGV[2], 'PX', ARGV[3])
        marked = marked + 1
    end
end
return marked
"""

# KEYS: the seats' keys. ARGV: owner, sold marker. Deletes only this owner's claims or markers.
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
    local holder = redis.call('GET', key)
    if holder == ARGV[1] or holder == ARGV[2] then
        released = released + redis.call('DEL', key)
    end
end
return released
"""


@dataclass(frozen=True)
class ClaimResult:
    """The door's answer: ``granted``, or the seats that are ``taken``.

    ``decided`` is False when the claim store could not be asked; the caller then lets
    the database decide alone.
    """

    granted: bool
    taken: list[str] = field(default_factory=list)
    decided: bool = True


STEP_ASIDE = ClaimResult(granted=True, decided=False)


def _prefix() -> str:
    return f"tf:claim:{settings.REDIS_NAMESPACE}"


def _key(event_id: str, seat_id: str) -> str:
    # The braces are a Redis Cluster hash tag: every seat of an event lives in one slot,
    # so one script can claim several of them.
    return f"{_prefix()}{{{event_id}}}:{seat_id}"


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def claim(*, event_id: str, seat_ids: Sequence[str], owner: str, ttl_seconds: float) -> ClaimResult:
    """Claim every one of ``seat_ids`` for ``owner``, all or none, for ``ttl_seconds``."""
    seats = sorted(set(seat_ids))
    try:
        store = _store()
        if store is None:
            return _embedded().claim(event_id, seats, owner, ttl_seconds)
        positions = store.eval(
            _CLAIM, len(seats), *[_key(event_id, s) for s in seats], owner, _ms(ttl_seconds)
        )
    except Exception as error:
        logger.warning("seat claims unavailable, the database decides alone: %s", error)
        return STEP_ASIDE
    taken = [seats[int(position) - 1] for position in positions]
    return ClaimResult(granted=not taken, taken=taken)


def mark_sold(*, event_id: str, seat_ids: Sequence[str], owner: str, ttl_seconds: float) -> None:
    """Replace ``owner``'s claims on ``seat_ids`` with sold markers lasting ``ttl_seconds``."""
    seats = sorted(set(seat_ids))
    if not seats:
        return
    try:
        store = _store()
        if store is None:
            _embedded().mark_sold(event_id, seats, owner, ttl_seconds)
            return
        keys = [_key(event_id, s) for s in seats]
        store.eval(_MARK_SOLD, len(keys), *keys, owner, SOLD + owner, _ms(ttl_seconds))
    except Exception as error:
        logger.warning("could not mark seats sold at the door: %s", error)


def release(*, event_id: str, seat_ids: Sequence[str], owner: str) -> None:
    """Drop ``owner``'s claims and sold markers on ``seat_ids``; others' stay."""
    seats = sorted(set(seat_ids))
    if not seats:
        return
    try:
        store = _store()
        if store is None:
            _embedded().release(event_id, seats, owner)
            return
        keys = [_key(event_id, s) for s in seats]
        store.eval(_RELEASE, len(keys), *keys, owner, SOLD + owner)
    except Exception as error:
        logger.warning("could not drop seat claims: %s", error)


def holders(*, event_id: str) -> dict[str, str]:
    """Every live claim or sold marker of an event, as ``{seat id: holder}``."""
    store = _store()
    if store is None:
        return _embedded().holders(event_id)
    prefix = _key(event_id, "")
    keys = list(store.scan_iter(match=prefix + "*", count=1000))
    values = store.mget(keys) if keys else []
    return {
        key.decode().removeprefix(prefix): value.decode()
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }


def drop(*, event_id: str, seat_id: str, holder: str) -> bool:
    """Drop one claim if it still has ``holder`` (reconciliation found it wrong)."""
    owner = holder.removeprefix(SOLD)
    store = _store()
    if store is None:
        return _embedded().release(event_id, [seat_id], owner) > 0
    return bool(store.eval(_RELEASE, 1, _key(event_id, seat_id), owner, SOLD + owner))


def clear() -> int:
    """Drop every claim and sold marker of this namespace (a fresh test, a reset staging)."""
    store = _store()
    if store is None:
        return _embedded().clear(_prefix())
    keys = list(store.scan_iter(match=_prefix() + "*", count=1000))
    return int(store.delete(*keys)) if keys else 0


def redis_configured() -> bool:
    """True when the default cache is Redis (production, the real services); False embedded."""
    return caches["default"].__class__.__module__.startswith("django_redis")


def _store() -> Any:
    """The Redis client behind the default cache, or None on the embedded default."""
    if not redis_configured():
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")


# --- the embedded default's shared store ------------------------------------------------------


class _SqliteClaims:
    """The same protocol on one SQLite file, for web, relay and worker on one machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS seat_claim ("
                " key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL)"
            )
            self._local.connection = connection
        return connection

    def _write(self, change: Any) -> Any:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
        try:
            result = change(connection, time.time())
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    @staticmethod
    def _holder(connection: sqlite3.Connection, key: str, now: float) -> str | None:
        row = connection.execute(
            "SELECT holder FROM seat_claim WHERE key = ? AND expires_at > ?", (key, now)
        ).fetchone()
        return row[0] if row else None

    def claim(self, event_id: str, seats: list[str], owner: str, ttl: float) -> ClaimResult:
        def change(connection: sqlite3.Connection, now: float) -> list[str]:
            taken = [
                s for s in seats if self._holder(connection, _key(event_id, s), now) not in (None, owner)
            ]
            if not taken:
                connection.executemany(
                    "INSERT OR REPLACE INTO seat_claim VALUES (?, ?, ?)",
                    [(_key(event_id, s), owner, now + ttl) for s in seats],
                )
            return taken

        taken = self._write(change)
        return ClaimResult(granted=not taken, taken=taken)

    def mark_sold(self, event_id: str, seats: list[str], owner: str, ttl: float) -> None:
        def change(connection: sqlite3.Connection, now: float) -> None:
            for seat in seats:
                key = _key(event_id, seat)
                if self._holder(connection, key, now) in (None, owner, SOLD + owner):
                    connection.execute(
                        "INSERT OR REPLACE INTO seat_claim VALUES (?, ?, ?)", (key, SOLD + owner, now + ttl)
                    )

        self._write(change)

    def release(self, event_id: str, seats: list[str], owner: str) -> int:
        def change(connection: sqlite3.Connection, now: float) -> int:
            keys = [_key(event_id, s) for s in seats]
            marks = ",".join("?" * len(keys))
            cursor = connection.execute(
                f"DELETE FROM seat_claim WHERE key IN ({marks}) AND holder IN (?, ?)",  # noqa: S608
                (*keys, owner, SOLD + owner),
            )
            connection.execute("DELETE FROM seat_claim WHERE expires_at <= ?", (now,))
            return cursor.rowcount

        return self._write(change)

    def clear(self, prefix: str) -> int:
        return self._write(
            lambda connection, _now: (
                connection.execute(
                    "DELETE FROM seat_claim WHERE key >= ? AND key < ?", (prefix, prefix + "\uffff")
                ).rowcount
            )
        )

    def holders(self, event_id: str) -> dict[str, str]:
        prefix = _key(event_id, "")
        rows = self._connection().execute(
            "SELECT key, holder FROM seat_claim WHERE key >= ? AND key < ? AND expires_at > ?",
            (prefix, prefix + "\uffff", time.time()),
        )
        return {key.removeprefix(prefix): holder for key, holder in rows}


_embedded_stores: dict[Path, _SqliteClaims] = {}
_embedded_lock = threading.Lock()


def _embedded() -> _SqliteClaims:
    path = Path(settings.SEAT_CLAIMS_FILE)
    with _embedded_lock:
        if path not in _embedded_stores:
            _embedded_stores[path] = _SqliteClaims(path)
        return _embedded_stores[path]
