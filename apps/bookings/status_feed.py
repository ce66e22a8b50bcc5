"""Telling waiting buyers that their booking moved, so they need not poll.

Every status change is announced on its booking's channel once its transaction commits
(:func:`announce`, through :mod:`ticketflow.longpoll`). A long poll
(``GET /api/bookings/{id}?wait=S&status=X``, or the live booking page) is waited out by
the ASGI long-poll middleware, holding no thread. Where no such middleware stands in front
(WSGI, Django's test client), :func:`wait_for_change` waits in the request's thread instead.
Announcements only wake waiters; the answer is always read from the database again, so a
lost announcement costs at most the wait, never a wrong status.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import caches
from redis.exceptions import RedisError

from apps.bookings.models import Booking
from ticketflow import longpoll

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 25
DATABASE_CHECK_SECONDS = 0.5


def channel(booking_id: str) -> str:
    """The channel a booking's status changes are announced on."""
    return f"tf:booking-status:{settings.REDIS_NAMESPACE}{booking_id}"


def announce(booking_id: str, status: str) -> None:
    """Wake whoever waits on ``booking_id`` (call after commit)."""
    longpoll.announce(channel(booking_id), status)


def _status_of(booking_id: str) -> str | None:
    return Booking.objects.filter(pk=booking_id).values_list("status", flat=True).first()


def wait_for_change(booking_id: str, seen: str, timeout: float) -> None:
    """Block until ``booking_id``'s status is no longer ``seen``, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
    if caches["default"].__class__.__module__.startswith("django_redis"):
        try:
            _wait_on_redis(booking_id, seen, deadline)
            return
        except RedisError as error:
            logger.warning("status announcements unavailable, checking the database instead: %s", error)
    while _status_of(booking_id) == seen and time.monotonic() < deadline:
        time.sleep(min(DATABASE_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))


def _wait_on_redis(booking_id: str, seen: str, deadline: float) -> None:
    from django_redis import get_redis_connection

    pubsub = get_redis_connection("default").pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel(booking_id))
        # Subscribed first, then read: a change committed in between is not missed.
        if _status_of(booking_id) != seen:
            return
        while (remaining := deadline - time.monotonic()) > 0:
            message = pubsub.get_message(timeout=remaining)
            if message is not None and message["data"].decode() != seen:
                return
    finally:
        pubsub.close()
