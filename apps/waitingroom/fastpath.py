"""Waiting costs almost nothing: a waiting buyer's long poll is answered in front of Django.

``GET /api/events/{id}/queue?wait=S`` with an ``X-Queue-Pass`` is, for nearly everyone in a
big queue, "you are still waiting, at place N". :class:`WaitingRoomFastPath`, an ASGI
middleware in front of the long-poll middleware and Django, answers exactly that case from
Redis alone: it checks the pass's signature, reads the place and the event's published
settings in one round trip, waits for the account's admission on one pattern subscription
the whole process shares (no connection, thread or database connection per waiter), and
answers with the place as it is when the wait ends.

Everything else goes on to Django, which decides as always: no pass or a bad one, a
request Django must validate, a place that is not "waiting", settings that say the queue
is closed or are missing, Redis errors, and an admission that arrives during the wait
(Django then hands out the token). Once a second per event and process one waiting request
goes to Django anyway, so admission also moves on lazily when beat is slow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from apps.waitingroom import feed, passes

logger = logging.getLogger(__name__)

# As the ASGI specification (and Django's handler) has them: a dict scope, read-only messages.
Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = re.compile(r"^/api/events/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/queue$")
PASS_HEADER = passes.HEADER.lower().encode()
DJANGO_EVERY_SECONDS = 1.0
HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-queue-fast-path", b"1"),
]


class _Admissions:
    """One pattern subscription per process to every admission of this namespace."""

    def __init__(self) -> None:
        self.waiters: dict[str, set[asyncio.Future[bool]]] = {}
        self.ready: asyncio.Future[bool] | None = None
        self.client: Any = None

    async def start(self) -> bool:
        """True once the subscription is up (False if Redis cannot be reached)."""
        if self.ready is None or (self.ready.done() and not self.ready.result()):
            self.ready = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().create_task(self._listen(self.ready))
        return await asyncio.shield(self.ready)

    async def _listen(self, ready: asyncio.Future[bool]) -> None:
        from redis.asyncio import Redis

        pattern = f"tf:wr-admit:{settings.REDIS_NAMESPACE}*"
        client = Redis.from_url(_redis_url(), socket_connect_timeout=2, single_connection_client=True)
        try:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            await pubsub.psubscribe(pattern)
            ready.set_result(True)
            while True:
                message = await pubsub.get_message(timeout=30)
                if message is None:
                    continue
                for waiter in self.waiters.pop(message["channel"].decode(), ()):
                    if not waiter.done():
                        waiter.set_result(True)
        except Exception as error:  # the subscription is gone: every waiter goes to Django
            logger.warning("waiting room fast path lost its subscription: %s", error)
            if not ready.done():
                ready.set_result(False)
            else:
                self.ready = None
            for waiters in self.waiters.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(True)
            self.waiters.clear()
        finally:
            await client.aclose()

    def register(self, channel: str) -> asyncio.Future[bool]:
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(channel, set()).add(waiter)
        return waiter

    def forget(self, channel: str, waiter: asyncio.Future[bool]) -> None:
        waiters = self.waiters.get(channel)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self.waiters[channel]


class WaitingRoomFastPath:
    """ASGI middleware: answers waiting buyers' long polls from Redis; the rest goes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.admissions = _Admissions()
        self.redis: Any = None
        self.last_django: dict[str, float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = self._eligible(scope)
        if request is None:
            await self.app(scope, receive, send)
            return
        event_id, user_id, wait = request
        try:
            answered = await self._answer(event_id, user_id, wait, receive, send)
        except Exception as error:
            logger.warning("waiting room fast path stepped aside: %s", error)
            answered = False
        if answered is None:
            return  # the client left
        if not answered:
            await self.app(scope, _replay(), send)

    def _eligible(self, scope: Scope) -> tuple[str, str, float] | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        match = PATH.match(scope["path"])
        if match is None or not _redis_configured():
            return None
        value = next((v for k, v in scope["headers"] if k == PASS_HEADER), None)
        queue_pass = passes.read(value.decode("latin-1")) if value else None
        if queue_pass is None or queue_pass.event_id != match[1]:
            return None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            wait = float(query.get("wait", ["0"])[-1])
        except ValueError:
            return None
        if not 0 <= wait <= feed.MAX_WAIT_SECONDS or set(query) - {"wait"}:
            return None
        now = time.monotonic()
        if now - self.last_django.get(match[1], 0.0) >= DJANGO_EVERY_SECONDS:
            self.last_django[match[1]] = now  # this one lets Django admit lazily
            return None
        return match[1], queue_pass.user_id, wait

    def _client(self) -> Any:
        if self.redis is None:
            from redis.asyncio import BlockingConnectionPool, Redis

            # Connections shared by every waiter of the process; a burst waits for one rather
            # than sending its requests to Django, which costs far more.
            pool = BlockingConnectionPool.from_url(
                _redis_url(),
                max_connections=128,
                timeout=30,
                socket_connect_timeout=2,
                socket_timeout=5,
            )
            self.redis = Redis(connection_pool=pool)
        return self.redis

    async def _place(self, event_id: str, user_id: str) -> tuple[int, dict[bytes, bytes]] | None:
        prefix = f"tf:wr:{settings.REDIS_NAMESPACE}{{{event_id}}}:"
        async with self._client().pipeline(transaction=False) as pipe:
            pipe.zrank(prefix + "waiting", user_id)
            pipe.hgetall(prefix + "rules")
            rank, rules = await pipe.execute()
        if rank is None or not _open(rules, time.time()):
            return None
        return int(rank) + 1, rules

    async def _answer(
        self, event_id: str, user_id: str, wait: float, receive: Receive, send: Send
    ) -> bool | None:
        """True when answered here, False to let Django answer, None if the client left."""
        channel = f"tf:wr-admit:{settings.REDIS_NAMESPACE}{event_id}:{user_id}"
        waiter = None
        if wait > 0:
            if not await self.admissions.start():
                return False
            waiter = self.admissions.register(channel)  # before reading: no admission is missed
        try:
            place = await self._place(event_id, user_id)
            if place is None:
                return False
            if waiter is not None:
                admitted = await _wait(waiter, receive, wait)
                if admitted is None:
                    return None
                if admitted:
                    return False
                place = await self._place(event_id, user_id)  # the place as it is now
                if place is None:
                    return False
        finally:
            if waiter is not None:
                self.admissions.forget(channel, waiter)
        await _send_json(send, _body(*place))
        return True


def _redis_configured() -> bool:
    return bool(getattr(settings, "REDIS_URL", None))


def _redis_url() -> str:
    """REDIS_URL, which the fast path only reaches for once ``_redis_configured()`` said yes."""
    if not settings.REDIS_URL:
        raise RuntimeError("the waiting room's fast path needs REDIS_URL")
    return settings.REDIS_URL


def _open(rules: dict[bytes, bytes], now: float) -> bool:
    if rules.get(b"on") != b"1":
        return False
    closes = float(rules.get(b"closes") or "inf")
    opens = float(rules.get(b"opens") or "-inf")
    return opens <= now < closes


def _body(position: int, rules: dict[bytes, bytes]) -> dict[str, object]:
    now = time.time()
    starts = float(rules.get(b"starts") or now)
    rate = max(1, int(rules.get(b"rate") or 1))
    body: dict[str, object] = {
        "status": "waiting",
        "position": position,
        "estimated_wait_s": math.ceil(max(0.0, starts - now) + position * 60 / rate),
        "paused": rules.get(b"paused") == b"1",
    }
    if rules.get(b"starts"):
        body["sale_starts_at"] = datetime.fromtimestamp(starts, tz=UTC).isoformat().replace("+00:00", "Z")
    return body


async def _wait(waiter: asyncio.Future[bool], receive: Receive, seconds: float) -> bool | None:
    """True when admitted, False when the time ran out, None when the client disconnected."""
    first = await receive()  # the (empty) request body of a GET
    if first["type"] == "http.disconnect":
        return None
    gone = asyncio.ensure_future(_disconnected(receive))
    racing: set[asyncio.Future[Any]] = {waiter, gone}
    try:
        done, _ = await asyncio.wait(racing, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if gone in done:
        return None
    return waiter in done


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _send_json(send: Send, body: dict[str, object]) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [*HEADERS, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _replay() -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # nothing more arrives; the application cancels this
        raise AssertionError("unreachable")

    return receive
