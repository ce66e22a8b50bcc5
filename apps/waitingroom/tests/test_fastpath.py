"""The ASGI fast path: waiting buyers answered from Redis; everything else left to Django."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest

from apps.waitingroom import passes, services
from apps.waitingroom.fastpath import WaitingRoomFastPath
from apps.waitingroom.services import queue_join, queued_event_apply_snapshot
from apps.waitingroom.store import Rules, get_store
from apps.waitingroom.tests.support import EVENT_ID, snapshot, users
from ticketflow import longpoll

pytestmark = [pytest.mark.services, pytest.mark.django_db(databases=["default"])]

PATH = f"/api/events/{EVENT_ID}/queue"


class Django:
    """Stands for the application behind: records that it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.asked += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"from": "django"}'})


async def get(app: WaitingRoomFastPath, *, queue_pass: str | None, query: str = "") -> tuple[dict, float]:
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"x-queue-pass", queue_pass.encode())] if queue_pass else []
    scope = {
        "type": "http",
        "method": "GET",
        "path": PATH,
        "headers": headers,
        "query_string": query.encode(),
    }
    started = time.monotonic()
    await app(scope, receive, send)
    return json.loads(sent[-1]["body"]), time.monotonic() - started


def fast_path() -> tuple[WaitingRoomFastPath, Django]:
    django = Django()
    app = WaitingRoomFastPath(django)
    app.last_django[EVENT_ID] = time.monotonic() + 3600  # no lazy turn for Django in these tests
    return app, django


def test_a_waiting_buyer_is_answered_without_django_now_and_after_the_wait() -> None:
    queued_event_apply_snapshot(snapshot=snapshot(queue_paused=True))
    first, second = users(2)
    queue_join(event_id=EVENT_ID, user_id=first)
    queue_join(event_id=EVENT_ID, user_id=second)
    queue_pass = passes.issue(user_id=second, event_id=EVENT_ID)

    async def scenario() -> tuple[tuple[dict, float], tuple[dict, float], int]:
        app, django = fast_path()
        now = await get(app, queue_pass=queue_pass)
        waited = await get(app, queue_pass=queue_pass, query="wait=1")
        return now, waited, django.asked

    (now, _), (waited, seconds), asked = asyncio.run(scenario())

    assert now == {"status": "waiting", "position": 2, "estimated_wait_s": 1, "paused": True}
    assert waited == now
    assert 0.9 < seconds < 3
    assert asked == 0


def test_an_admission_during_the_wait_goes_to_django_for_the_token() -> None:
    queued_event_apply_snapshot(snapshot=snapshot(queue_paused=True))
    (user,) = users(1)
    queue_join(event_id=EVENT_ID, user_id=user)
    queue_pass = passes.issue(user_id=user, event_id=EVENT_ID)

    def admit_soon() -> None:
        time.sleep(0.5)
        get_store().admit(EVENT_ID, Rules(True, 600, 10, 600), now=time.time())
        longpoll.announce(services.admission_channel(EVENT_ID, user), "admitted")

    async def scenario() -> tuple[tuple[dict, float], int]:
        app, django = fast_path()
        threading.Thread(target=admit_soon).start()
        answer = await get(app, queue_pass=queue_pass, query="wait=10")
        return answer, django.asked

    (body, seconds), asked = asyncio.run(scenario())

    assert (body, asked) == ({"from": "django"}, 1)
    assert 0.4 < seconds < 3


@pytest.mark.parametrize(
    "case", ["no pass", "forged", "not in the queue", "bad wait", "other query", "closed"]
)
def test_anything_but_a_plain_wait_is_left_to_django(case: str) -> None:
    queued_event_apply_snapshot(snapshot=snapshot(queue_paused=True, queue_enabled=case != "closed"))
    (user,) = users(1)
    if case != "not in the queue":
        get_store().join(EVENT_ID, user, now=time.time(), prequeue=False, lot=0.0)
    queue_pass = passes.issue(user_id=user, event_id=EVENT_ID)
    sent_pass = {"no pass": None, "forged": queue_pass[:-3] + "abc"}.get(case, queue_pass)
    query = {"bad wait": "wait=abc", "other query": "wait=1&x=1"}.get(case, "")

    async def scenario() -> tuple[dict, int]:
        app, django = fast_path()
        body, _ = await get(app, queue_pass=sent_pass, query=query)
        return body, django.asked

    assert asyncio.run(scenario()) == ({"from": "django"}, 1)
