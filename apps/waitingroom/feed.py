"""Waiting for one's turn without polling.

Admission is announced on the account's own channel (:func:`services.admission_channel`),
so 10,000 waiters are not woken each time somebody else gets in. Behind the ASGI server the
long-poll middleware does the waiting (``ticketflow.longpoll``) with no thread; where it is
not in front (WSGI, Django's test client) :func:`wait_for_admission` waits in the thread.
A waiter that times out answers with its place as it was, so positions shown are at most
one wait old; the page counts the estimate down in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from ticketflow.seat_claims import redis_configured

logger = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 60
STORE_CHECK_SECONDS = 0.5


def wait_for_admission(channel: str, admitted: Callable[[], bool], timeout: float) -> None:
    """Block until ``admitted()`` or an announcement on ``channel``, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + min(timeout, MAX_WAIT_SECONDS)
    if redis_configured():
        try:
            from django_redis import get_redis_connection

            pubsub = get_redis_connection("default").pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(channel)
                # Subscribed first, then looked: an admission in between is not missed.
                if admitted():
                    return
                while (remaining := deadline - time.monotonic()) > 0:
                    if pubsub.get_message(timeout=min(remaining, STORE_CHECK_SECONDS)) is not None:
                        return
                    if admitted():
                        return
            finally:
                pubsub.close()
            return
        except RedisError as error:
            logger.warning("queue announcements unavailable: %s", error)
            return
    while not admitted() and time.monotonic() < deadline:
        time.sleep(min(STORE_CHECK_SECONDS, max(0.0, deadline - time.monotonic())))
