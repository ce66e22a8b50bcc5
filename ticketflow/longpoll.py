"""Long polls that hold no thread: the waiting happens outside Django, in the ASGI layer.

A view that has nothing new for a client answers as usual, and adds a header saying what
would make a fresher answer: ``X-Long-Poll: <channel> <seen> <seconds>``. The
:class:`LongPollMiddleware` wrapped around the ASGI application holds that answer back
and waits on the Redis channel, with no thread and no database connection, for a value
other than ``seen``. When one arrives, it asks the application again (marking the request
as already waited) and sends that answer; when the time runs out, it sends the answer it
held, which is still true since nothing was announced. Django's middleware, auth and
error handling see every request as an ordinary one.

Announcements (:func:`announce`) publish on the channel and leave the last value in a
key, so a change committed between the view's read and the subscription is not missed.
Where the middleware is not in front (WSGI, Django's test client), the view must wait
itself: :func:`deferrable` tells which. Without Redis (the embedded default) the middleware
asks the application again twice a second instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError

from ticketflow.seat_claims import redis_configured

logger = logging.getLogger(__name__)

HEADER = "X-Long-Poll"
SERVER_HEADER = b"x-long-poll-server"  # set by the middleware on every request it passes on
WAITED_HEADER = b"x-long-poll-waited"  # set on the second asking, which must not wait again
EMBEDDED_RECHECK_SECONDS = 0.5
LAST_VALUE_SECONDS = 120

# As the ASGI specification (and Django's handler) has them: a dict scope, read-only messages.
_Response = TypeVar("_Response", bound=HttpResponse)

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _last_key(channel: str) -> str:
    return f"{channel}:last"


def announce(channel: str, value: str) -> None:
    """Wake the long polls waiting on ``channel`` (call after commit). Best effort."""
    if not redis_configured():
        return
    from django_redis import get_redis_connection

    try:
        with get_redis_connection("default").pipeline(transaction=False) as pipe:
            pipe.set(_last_key(channel), value, ex=LAST_VALUE_SECONDS)
            pipe.publish(channel, value)
            pipe.execute()
    except RedisError as error:
        logger.warning("could not announce %s on %s: %s", value, channel, error)


def waited(request: HttpRequest) -> bool:
    """True for the second asking after a wait: answer with what there is, never wait again."""
    return "HTTP_X_LONG_POLL_WAITED" in request.META


def deferrable(request: HttpRequest) -> bool:
    """True when the middleware in front will do the waiting for this request."""
    return "HTTP_X_LONG_POLL_SERVER" in request.META and not waited(request)


def defer(response: _Response, *, channel: str, seen: str, seconds: float) -> _Response:
    """Mark ``response`` as the answer to send unless ``channel`` moves on from ``seen`` soon."""
    response[HEADER] = f"{channel} {seen} {seconds:g}"
    return response


class LongPollMiddleware:
    """ASGI middleware: carries out the waits views ask for with :func:`defer`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        headers = [(k, v) for k, v in scope["headers"] if k not in (SERVER_HEADER, WAITED_HEADER)]
        deadline: float | None = None
        while True:
            held, wait = await self._ask({**scope, "headers": [*headers, (SERVER_HEADER, b"1")]}, body, send)
            if wait is None:
                return  # answered straight through
            channel, seen, seconds = wait
            deadline = deadline or time.monotonic() + seconds
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if redis_configured():
                changed = await _until_disconnect(receive, _changed(channel, seen, remaining))
                if changed is None:
                    return  # the client left
                if changed:
                    again = {**scope, "headers": [*headers, (SERVER_HEADER, b"1"), (WAITED_HEADER, b"1")]}
                    await self.app(again, _replay(body), send)
                    return
                break
            # No announcements on the embedded default: the application looks again shortly.
            if await _until_disconnect(receive, _pause(min(remaining, EMBEDDED_RECHECK_SECONDS))) is None:
                return
        for message in held:
            await send(message)

    async def _ask(
        self, scope: Scope, body: bytes, send: Send
    ) -> tuple[list[Message], tuple[str, str, float] | None]:
        """Run the application once; hold its answer back only if it asks for a wait."""
        held: list[Message] = []
        wait: tuple[str, str, float] | None = None

        async def capture(message: Message) -> None:
            nonlocal wait
            if message["type"] == "http.response.start":
                wait = _wait_of(message)
                if wait is not None:
                    message = {
                        **message,
                        "headers": [h for h in message["headers"] if h[0].lower() != b"x-long-poll"],
                    }
            if wait is None:
                await send(message)
            else:
                held.append(message)

        await self.app(scope, _replay(body), capture)
        return held, wait


async def _until_disconnect(receive: Receive, waiting: Awaitable[Any]) -> Any:
    """Await ``waiting``, or return None as soon as the client disconnects."""
    work = asyncio.ensure_future(waiting)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        done, _ = await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        return work.result() if work in done else None
    finally:
        for task in (work, gone):
            task.cancel()


async def _pause(seconds: float) -> bool:
    await asyncio.sleep(seconds)
    return True


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _wait_of(start: Message) -> tuple[str, str, float] | None:
    for name, value in start.get("headers", ()):
        if name.lower() == b"x-long-poll":
            channel, seen, seconds = value.decode().split(" ")
            return channel, seen, float(seconds)
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # nothing more arrives; Django cancels this when done
        raise AssertionError("unreachable")

    return receive


async def _changed(channel: str, seen: str, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``channel`` to announce something other than ``seen``.

    True also when Redis cannot be asked: the application then answers with what it has.
    """
    try:
        return await _changed_on_redis(channel, seen, seconds)
    except (RedisError, OSError) as error:
        logger.warning("long poll on %s cannot reach Redis, answering now: %s", channel, error)
        return True


async def _changed_on_redis(channel: str, seen: str, seconds: float) -> bool:
    from redis.asyncio import Redis

    url = settings.REDIS_URL
    if url is None:  # redis_configured() said otherwise; without Redis there is nothing to wait for
        return True
    client = Redis.from_url(url, socket_connect_timeout=2, single_connection_client=True)
    try:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(channel)
        try:
            last = await client.get(_last_key(channel))
            if last is not None and _text(last) != seen:
                return True
            deadline = time.monotonic() + seconds
            while (remaining := deadline - time.monotonic()) > 0:
                message = await pubsub.get_message(timeout=remaining)
                if message is not None and _text(message["data"]) != seen:
                    return True
            return False
        finally:
            await pubsub.aclose()
    finally:
        await client.aclose()


def _text(value: bytes | str) -> str:
    """A Redis reply as text (bytes unless the client decodes responses)."""
    return value.decode() if isinstance(value, bytes) else value
