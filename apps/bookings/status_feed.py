"""Telling waiting buyers that their booking moved, so they need not poll.

Every status change publishes ``<booking id> <status>`` on a Redis channel of its own
booking once its transaction commits (:func:`announce`). A long poll
(``GET /api/bookings/{id}?wait=S&status=X``, or the live booking page) awaits that message
in an async view (:func:`wait_for_change`): under the ASGI worker a waiting buyer holds a
socket and a coroutine, not a thread. Announcements are a wake-up call only, never the
answer: the waiter reads the booking again from the database, so a lost message costs at
most the wait, never a wrong status. On the embedded default (no Redis) the waiter checks
the database twice a second instead.
"""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from redis.exceptions import RedisError

from apps.bookings.models import Booking

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 25
EMBEDDED_CHECK_SECONDS = 0.5


def _channel(booking_id: str) -> str:
    return f"tf:booking-status:{settings.REDIS_NAMESPACE}{booking_id}"


def _redis_configured() -> bool:
    return caches["default"].__class__.__module__.startswith("django_redis")


def announce(booking_id: str, status: str) -> None:
    """Wake whoever waits on ``booking_id`` (call after commit). Best effort: waiters re-read."""
    if not _redis_configured():
        return
    from django_redis import get_redis_connection

    try:
        get_redis_connection("default").publish(_channel(booking_id), status)
    except Exception as error:
        logger.warning("could not announce booking %s is %s: %s", booking_id, status, error)


def _status_of(booking_id: str) -> str | None:
    return Booking.objects.filter(pk=booking_id).values_list("status", flat=True).first()


async def wait_for_change(booking_id: str, seen: str, timeout: float) -> None:
    """Return once ``booking_id``'s status is no longer ``seen``, or after ``timeout`` seconds."""
    timeout = max(0.0, min(float(timeout), MAX_WAIT_SECONDS))
    if _redis_configured():
        try:
            await _wait_on_redis(booking_id, seen, timeout)
            return
        except (RedisError, OSError) as error:
            logger.warning("status announcements unavailable, checking the database instead: %s", error)
    await _wait_on_database(booking_id, seen, timeout)


async def _wait_on_redis(booking_id: str, seen: str, timeout: float) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, single_connection_client=True)
    try:
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(_channel(booking_id))
        try:
            # Subscribed first, then read: a change committed in between is not missed.
            if await sync_to_async(_status_of)(booking_id) != seen:
                return
            deadline = time.monotonic() + timeout
            while (remaining := deadline - time.monotonic()) > 0:
                message = await pubsub.get_message(timeout=remaining)
                if message is not None and message["data"].decode() != seen:
                    return
        finally:
            await pubsub.aclose()
    finally:
        await client.aclose()


async def _wait_on_database(booking_id: str, seen: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while await sync_to_async(_status_of)(booking_id) == seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        await asyncio.sleep(min(EMBEDDED_CHECK_SECONDS, remaining))
