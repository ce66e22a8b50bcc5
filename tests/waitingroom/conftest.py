"""Fixtures of the waiting room's cross-context tests: an event both contexts know, signed-in buyers."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.contrib.auth import get_user_model
from redis.exceptions import RedisError
from rest_framework.test import APIClient

from apps.bookings.services import bookable_event_apply_snapshot
from apps.waitingroom import services
from apps.waitingroom.services import queued_event_apply_snapshot
from apps.waitingroom.tests.support import snapshot
from tests.support.smtp import free_port


@pytest.fixture(autouse=True)
def _fresh_queues() -> Iterator[None]:
    with contextlib.suppress(RedisError, OSError):
        services.queue_clear()
    yield
    with contextlib.suppress(RedisError, OSError):
        services.queue_clear()


def publish(**changes: object) -> None:
    """Tell bookings and the waiting room about the event (what their consumers do)."""
    event = snapshot(**changes)
    bookable_event_apply_snapshot(snapshot=event)
    queued_event_apply_snapshot(snapshot=event)


def buyer(email: str) -> tuple[APIClient, object]:
    user = get_user_model().objects.create_user(
        email=email, password="Correct-Horse-42", name=email.split("@")[0]
    )
    client = APIClient()
    client.force_authenticate(user)
    return client, user


class ThrowawayRedis:
    """A Redis of the test's own on a free port, to stop without touching the shared one."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tf-throwaway-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> ThrowawayRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            with contextlib.suppress(RedisError):
                if client.ping():
                    return self
            time.sleep(0.05)
        raise RuntimeError("the throwaway Redis did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
