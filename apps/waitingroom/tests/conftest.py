"""Fixtures of the waiting-room tests: every test starts with empty queues."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from redis.exceptions import RedisError

from apps.waitingroom import services


@pytest.fixture(autouse=True)
def _fresh_queues() -> Iterator[None]:
    with contextlib.suppress(RedisError, OSError):
        services.queue_clear()
    yield
    with contextlib.suppress(RedisError, OSError):  # a test that pointed at a dead Redis
        services.queue_clear()
