"""Where the queues live: Redis (production, tests on the real services) or a shared file.

Per event there are two ordered sets. ``waiting`` holds accounts in line, scored so that
the lowest score goes first: a random number in [0, 1) for whoever joins the pre-queue
before the sale starts, ``2 + n`` for the n-th to join after it. So everyone in the
pre-queue is in one random order at the start, ahead of everyone who came later, who then
go in order of arrival. ``admitted`` holds the accounts shopping now, scored by the end of
their window. Admission is a token bucket (``admit_per_minute``, refilled on each step)
capped by ``max_active_shoppers``; each step first drops the windows that ended, which is
how an expired window frees its place for the next person.

Every change is one Lua script on Redis (atomic across every process) or one
``BEGIN IMMEDIATE`` transaction on the embedded default's SQLite file, which every local
process shares, exactly like the seat claims (docs/adr/009-admission-claims.md). Errors
reaching Redis are raised to the caller, which closes the queue: nothing is let through
while the store cannot be asked.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

from ticketflow.seat_claims import redis_configured

PREQUEUE_SCORE_LIMIT = 1.0
"""Pre-queue scores are below this; arrival scores after the start are 2 and above."""


@dataclass(frozen=True)
class Rules:
    """What one admission step needs to know about an event, read from its projection."""

    admitting: bool
    admit_per_minute: int
    max_active: int
    window_seconds: float

    @property
    def burst(self) -> float:
        """The bucket's depth: five seconds' worth of admissions, and at least one."""
        return max(1.0, self.admit_per_minute / 12)


@dataclass(frozen=True)
class Place:
    """Where one account stands: ``waiting`` (at ``position``, 1 is next), ``admitted`` or ``absent``."""

    state: str
    position: int | None = None
    admitted_until: float | None = None
    joined: bool = False


@dataclass(frozen=True)
class Step:
    """What one admission step did: who got in (with when they joined) and how many windows ended."""

    admitted: list[tuple[str, float]] = field(default_factory=list)
    expired: int = 0


class QueueStore(Protocol):
    def join(self, event: str, user: str, *, now: float, prequeue: bool, lot: float) -> Place: ...
    def place(self, event: str, user: str, *, now: float) -> Place: ...
    def leave(self, event: str, user: str) -> str | None: ...
    def admit(self, event: str, rules: Rules, *, now: float) -> Step: ...
    def counts(self, event: str, *, now: float) -> tuple[int, int]: ...
    def clear(self) -> int: ...


def _scope(event: str) -> str:
    return f"{settings.REDIS_NAMESPACE}{event}"


# --- Redis ------------------------------------------------------------------------------------

# KEYS: waiting, admitted, joined, seq. ARGV: user, now, prequeue (1/0), lot.
# Returns {state, position or admitted_until, created (1/0)}.
_JOIN = """
local until_ = redis.call('ZSCORE', KEYS[2], ARGV[1])
if until_ and tonumber(until_) > tonumber(ARGV[2]) then
    return {'admitted', until_, 0}
end
if until_ then
    redis.call('ZREM', KEYS[2], ARGV[1])
end
local created = 0
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    local score = ARGV[4]
    if ARGV[3] ~= '1' then
        score = 2 + redis.call('INCR', KEYS[4])
    end
    redis.call('ZADD', KEYS[1], score, ARGV[1])
    redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
    created = 1
end
return {'waiting', tostring(redis.call('ZRANK', KEYS[1], ARGV[1]) + 1), created}
"""

# KEYS: waiting, admitted, joined. ARGV: user. Returns what the account left, or false.
_LEAVE = """
redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then return 'waiting' end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 1 then return 'admitted' end
return false
"""

# KEYS: waiting, admitted, joined, bucket. ARGV: now, admitting (1/0), per minute, max active,
# window seconds, burst. Returns {expired, user, joined_at, user, joined_at, ...}.
_ADMIT = """
local now = tonumber(ARGV[1])
local expired = redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local last = tonumber(redis.call('HGET', KEYS[4], 'last') or '')
local credit = tonumber(redis.call('HGET', KEYS[4], 'credit') or '')
local burst = tonumber(ARGV[6])
if ARGV[2] ~= '1' then
    redis.call('HSET', KEYS[4], 'last', ARGV[1])
    return {expired}
end
if credit == nil then
    credit = burst
elseif last ~= nil then
    credit = math.min(burst, credit + math.max(0, now - last) * tonumber(ARGV[3]) / 60)
end
local out = {expired}
local n = math.min(math.floor(credit), tonumber(ARGV[4]) - redis.call('ZCARD', KEYS[2]))
if n > 0 then
    local popped = redis.call('ZPOPMIN', KEYS[1], n)
    local until_ = now + tonumber(ARGV[5])
    for i = 1, #popped, 2 do
        local user = popped[i]
        redis.call('ZADD', KEYS[2], until_, user)
        out[#out + 1] = user
        out[#out + 1] = redis.call('HGET', KEYS[3], user) or ARGV[1]
        redis.call('HDEL', KEYS[3], user)
    end
    credit = credit - #popped / 2
end
redis.call('HSET', KEYS[4], 'last', ARGV[1], 'credit', tostring(credit))
redis.call('PEXPIRE', KEYS[4], 86400000)
return out
"""


class RedisQueues:
    """The queues on Redis, keyed ``tf:wr:<namespace>{<event>}:<part>`` (one cluster slot per event)."""

    PARTS = ("waiting", "admitted", "joined", "seq", "bucket", "rules")

    def __init__(self, client: Any) -> None:
        self.client = client

    @staticmethod
    def _prefix() -> str:
        return f"tf:wr:{settings.REDIS_NAMESPACE}"

    def _keys(self, event: str, *parts: str) -> list[str]:
        return [f"{self._prefix()}{{{event}}}:{part}" for part in parts]

    def join(self, event: str, user: str, *, now: float, prequeue: bool, lot: float) -> Place:
        keys = self._keys(event, "waiting", "admitted", "joined", "seq")
        state, value, created = self.client.eval(_JOIN, 4, *keys, user, repr(now), int(prequeue), repr(lot))
        if state == b"admitted":
            return Place("admitted", admitted_until=float(value))
        return Place("waiting", position=int(value), joined=bool(created))

    def place(self, event: str, user: str, *, now: float) -> Place:
        waiting, admitted = self._keys(event, "waiting", "admitted")
        with self.client.pipeline(transaction=True) as pipe:
            pipe.zrank(waiting, user)
            pipe.zscore(admitted, user)
            rank, until = pipe.execute()
        if rank is not None:
            return Place("waiting", position=int(rank) + 1)
        if until is not None and float(until) > now:
            return Place("admitted", admitted_until=float(until))
        return Place("absent")

    def leave(self, event: str, user: str) -> str | None:
        left = self.client.eval(_LEAVE, 3, *self._keys(event, "waiting", "admitted", "joined"), user)
        return left.decode() if left else None

    def admit(self, event: str, rules: Rules, *, now: float) -> Step:
        keys = self._keys(event, "waiting", "admitted", "joined", "bucket")
        out = self.client.eval(
            _ADMIT, 4, *keys, repr(now), int(rules.admitting), rules.admit_per_minute, rules.max_active,
            repr(rules.window_seconds), repr(rules.burst),
        )  # fmt: skip
        pairs = out[1:]
        admitted = [(pairs[i].decode(), float(pairs[i + 1])) for i in range(0, len(pairs), 2)]
        return Step(admitted=admitted, expired=int(out[0]))

    def publish_rules(self, event: str, rules: dict[str, str]) -> None:
        """Leave an event's settings beside its queue, for the ASGI fast path to read."""
        (key,) = self._keys(event, "rules")
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=rules)
            pipe.expire(key, 86400)
            pipe.execute()

    def counts(self, event: str, *, now: float) -> tuple[int, int]:
        waiting, admitted = self._keys(event, "waiting", "admitted")
        with self.client.pipeline(transaction=False) as pipe:
            pipe.zcard(waiting)
            pipe.zcount(admitted, f"({now!r}", "+inf")
            length, active = pipe.execute()
        return int(length), int(active)

    def clear(self) -> int:
        keys = list(self.client.scan_iter(match=self._prefix() + "*", count=1000))
        return int(self.client.delete(*keys)) if keys else 0


# --- the embedded default's shared file -------------------------------------------------------


class SqliteQueues:
    """The same queues in one SQLite file, for every process of one machine."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(
                "CREATE TABLE IF NOT EXISTS waiting (event TEXT, user TEXT, score REAL, joined_at REAL,"
                " PRIMARY KEY (event, user));"
                "CREATE INDEX IF NOT EXISTS waiting_order ON waiting (event, score);"
                "CREATE TABLE IF NOT EXISTS admitted (event TEXT, user TEXT, until REAL,"
                " PRIMARY KEY (event, user));"
                "CREATE TABLE IF NOT EXISTS bucket (event TEXT PRIMARY KEY, last REAL, credit REAL, seq INTEGER);"
            )
            self._local.connection = connection
        return connection

    def _write(self, change: Callable[[sqlite3.Connection], Any]) -> Any:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
        try:
            result = change(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    @staticmethod
    def _rank(connection: sqlite3.Connection, event: str, user: str) -> int | None:
        row = connection.execute(
            "SELECT (SELECT COUNT(*) FROM waiting w WHERE w.event = me.event AND w.score < me.score) + 1"
            " FROM waiting me WHERE me.event = ? AND me.user = ?",
            (event, user),
        ).fetchone()
        return int(row[0]) if row else None

    def join(self, event: str, user: str, *, now: float, prequeue: bool, lot: float) -> Place:
        scope = _scope(event)

        def change(connection: sqlite3.Connection) -> Place:
            row = connection.execute(
                "SELECT until FROM admitted WHERE event = ? AND user = ?", (scope, user)
            ).fetchone()
            if row and row[0] > now:
                return Place("admitted", admitted_until=float(row[0]))
            connection.execute("DELETE FROM admitted WHERE event = ? AND user = ?", (scope, user))
            created = False
            if self._rank(connection, scope, user) is None:
                score = lot
                if not prequeue:
                    connection.execute(
                        "INSERT INTO bucket (event, seq) VALUES (?, 1)"
                        " ON CONFLICT (event) DO UPDATE SET seq = COALESCE(seq, 0) + 1",
                        (scope,),
                    )
                    score = (
                        2
                        + connection.execute("SELECT seq FROM bucket WHERE event = ?", (scope,)).fetchone()[0]
                    )
                connection.execute("INSERT INTO waiting VALUES (?, ?, ?, ?)", (scope, user, score, now))
                created = True
            return Place("waiting", position=self._rank(connection, scope, user), joined=created)

        return self._write(change)

    def place(self, event: str, user: str, *, now: float) -> Place:
        scope = _scope(event)
        connection = self._connection()
        rank = self._rank(connection, scope, user)
        if rank is not None:
            return Place("waiting", position=rank)
        row = connection.execute(
            "SELECT until FROM admitted WHERE event = ? AND user = ?", (scope, user)
        ).fetchone()
        if row and row[0] > now:
            return Place("admitted", admitted_until=float(row[0]))
        return Place("absent")

    def leave(self, event: str, user: str) -> str | None:
        scope = _scope(event)

        def change(connection: sqlite3.Connection) -> str | None:
            if connection.execute("DELETE FROM waiting WHERE event = ? AND user = ?", (scope, user)).rowcount:
                return "waiting"
            if connection.execute(
                "DELETE FROM admitted WHERE event = ? AND user = ?", (scope, user)
            ).rowcount:
                return "admitted"
            return None

        return self._write(change)

    def admit(self, event: str, rules: Rules, *, now: float) -> Step:
        scope = _scope(event)

        def change(connection: sqlite3.Connection) -> Step:
            expired = connection.execute(
                "DELETE FROM admitted WHERE event = ? AND until <= ?", (scope, now)
            ).rowcount
            row = connection.execute("SELECT last, credit FROM bucket WHERE event = ?", (scope,)).fetchone()
            last, credit = row if row else (None, None)
            if not rules.admitting:
                connection.execute(
                    "INSERT INTO bucket (event, last) VALUES (?, ?) ON CONFLICT (event) DO UPDATE SET last = ?",
                    (scope, now, now),
                )
                return Step(expired=expired)
            if credit is None:
                credit = rules.burst
            elif last is not None:
                credit = min(rules.burst, credit + max(0.0, now - last) * rules.admit_per_minute / 60)
            active = connection.execute("SELECT COUNT(*) FROM admitted WHERE event = ?", (scope,)).fetchone()[
                0
            ]
            room = min(int(credit), rules.max_active - active)
            chosen = (
                connection.execute(
                    "SELECT user, joined_at FROM waiting WHERE event = ? ORDER BY score LIMIT ?",
                    (scope, room),
                ).fetchall()
                if room > 0
                else []
            )
            for user, _joined in chosen:
                connection.execute("DELETE FROM waiting WHERE event = ? AND user = ?", (scope, user))
                connection.execute(
                    "INSERT OR REPLACE INTO admitted VALUES (?, ?, ?)",
                    (scope, user, now + rules.window_seconds),
                )
            credit -= len(chosen)
            connection.execute(
                "INSERT INTO bucket (event, last, credit) VALUES (?, ?, ?)"
                " ON CONFLICT (event) DO UPDATE SET last = excluded.last, credit = excluded.credit",
                (scope, now, credit),
            )
            return Step(admitted=[(user, float(joined)) for user, joined in chosen], expired=expired)

        return self._write(change)

    def counts(self, event: str, *, now: float) -> tuple[int, int]:
        scope = _scope(event)
        connection = self._connection()
        length = connection.execute("SELECT COUNT(*) FROM waiting WHERE event = ?", (scope,)).fetchone()[0]
        active = connection.execute(
            "SELECT COUNT(*) FROM admitted WHERE event = ? AND until > ?", (scope, now)
        ).fetchone()[0]
        return int(length), int(active)

    def clear(self) -> int:
        prefix = settings.REDIS_NAMESPACE

        def change(connection: sqlite3.Connection) -> int:
            dropped = 0
            for table in ("waiting", "admitted", "bucket"):
                dropped += connection.execute(
                    f"DELETE FROM {table} WHERE event >= ? AND event < ?",  # noqa: S608
                    (prefix, prefix + "\uffff"),
                ).rowcount
            return dropped

        return self._write(change)


_files: dict[Path, SqliteQueues] = {}
_files_lock = threading.Lock()


def get_store() -> QueueStore:
    """Redis when the default cache is Redis, else the shared file ``settings.WAITING_ROOM_FILE``."""
    if redis_configured():
        from django_redis import get_redis_connection

        return RedisQueues(get_redis_connection("default"))
    path = Path(settings.WAITING_ROOM_FILE)
    with _files_lock:
        if path not in _files:
            _files[path] = SqliteQueues(path)
        return _files[path]


def now() -> float:
    """The queue's clock: epoch seconds, shared by every process of a machine."""
    return time.time()
