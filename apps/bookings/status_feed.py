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
from collections.abc import Callable

from django.conf import settings
from redis.exceptions import RedisError

from apps.bookings.models import Booking
from ticketflow import longpoll
from ticketflow.seat_claims import redis_configured

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 25
DATABASE_CHECK_SECONDS = 0.5


def channel(booking_id: str) -> str:
    """The channel a booking's status changes are announced on."""
    return f"tf:booking-status:{settings.REDIS_NAMESPACE}{booking_id}"


def version_channel(booking_id: str) -> str:
    """The channel every change of a booking (a new timeline step too) is announced on."""
    return f"tf:booking-version:{settings.REDIS_NAMESPACE}{booking_id}"


def announce(booking_id: str, status: str) -> None:
    """Wake whoever waits for ``booking_id`` to leave a status (call after commit)."""
    longpoll.announce(channel(booking_id), status)


def announce_version(booking_id: str, version: int) -> None:
    """Wake whoever waits for any news of ``booking_id``, such as its tickets (call after commit)."""
    longpoll.announce(version_channel(booking_id), str(version))


def _field_of(booking_id: str, field: str) -> str | None:
    value = Booking.objects.filter(pk=booking_id).values_list(field, flat=True).first()
    return None if value is None else str(value)


def wait_for_change(booking_id: str, seen: str, timeout: float) -> None:
    """Block until ``booking_id``'s status is no longer ``seen``, or ``timeout`` seconds pass."""
    _wait(channel(booking_id), lambda: _field_of(booking_id, "status"), seen, timeout)


def wait_for_new_version(booking_id: str, seen: str, timeout: float) -> None:
    """Block until ``booking_id`` has a version other than ``seen``, or ``timeout`` seconds pass."""
    _wait(version_channel(booking_id), lambda: _field_of(booking_id, "version"), seen, timeout)


def _wait(name: str, read: Callable[[], str | None], seen: str, timeout: float) -> None:
    deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
    if redis_configured():
        try:
            _wait_on_redis(name, read, seen, deadline)
            return
        except RedisError as error:
            logger.warning("booking announcements unavailable, checking the database instead: %s", error)
    while read() == seen and time.monotonic() < deadline:
        time.sleep(min(DATABASE_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))


def _wait_on_redis(name: str, read: Callable[[], str | None], seen: str, deadline: float) -> None:
    from django_redis import get_redis_connection

    pubsub = get_redis_connection("default").pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(name)
        # Subscribed first, then read: a change committed in between is not missed.
        if read() != seen:
            return
        while (remaining := deadline - time.monotonic()) > 0:
            message = pubsub.get_message(timeout=remaining)
            if message is not None and message["data"].decode() != seen:
                return
    finally:
        pubsub.close()
