"""The ASGI long-poll middleware: it waits in front of the application, and asks again on news.

A stand-in application plays the view: its first answer asks for a wait, and any answer
to a request marked as already waited (or, without Redis, any later asking) says what it
sees now. Runs with Redis announcements and again on the embedded default.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ticketflow import longpoll

pytestmark = pytest.mark.embedded


class View:
    """An ASGI app that answers 'seen' with a wait request until ``state`` changes."""

    def __init__(self, channel: str, seconds: float) -> None:
        self.channel, self.seconds = channel, seconds
        self.state = "PENDING"
        self.asked: list[dict[bytes, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope["headers"])
        self.asked.append(headers)
        await receive()
        response_headers = [(b"content-type", b"text/plain")]
        if self.state == "PENDING" and longpoll.WAITED_HEADER not in headers:
            response_headers.append((b"x-long-poll", f"{self.channel} PENDING {self.seconds:g}".encode()))
        await send({"type": "http.response.start", "status": 200, "headers": response_headers})
        await send({"type": "http.response.body", "body": self.state.encode()})


def call(app: Any, *, disconnect_after: float | None = None) -> tuple[list[dict[str, Any]], float]:
    sent: list[dict[str, Any]] = []
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnect_after is None:
            await asyncio.Event().wait()
        await asyncio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-long-poll-waited", b"1")]}
    began = time.monotonic()
    # A loop of its own, in a thread of its own: other tests (the browser's) may leave one running here.
    with ThreadPoolExecutor(1) as runner:
        runner.submit(asyncio.run, longpoll.LongPollMiddleware(app)(scope, receive, send)).result()
    return sent, time.monotonic() - began


def body(sent: list[dict[str, Any]]) -> bytes:
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def headers(sent: list[dict[str, Any]]) -> dict[bytes, bytes]:
    return dict(next(m for m in sent if m["type"] == "http.response.start")["headers"])


def test_with_nothing_new_the_held_answer_goes_out_after_the_wait_without_its_marker() -> None:
    view = View(f"tf:test:{uuid.uuid4()}", seconds=0.6)

    sent, elapsed = call(view)

    assert body(sent) == b"PENDING"
    assert b"x-long-poll" not in headers(sent)
    assert 0.55 < elapsed < 2
    # A client cannot pose as the middleware: its own "already waited" header was dropped.
    assert view.asked[0][longpoll.SERVER_HEADER] == b"1"
    assert longpoll.WAITED_HEADER not in view.asked[0]


def test_news_on_the_channel_answers_at_once_with_what_the_application_sees_then() -> None:
    channel = f"tf:test:{uuid.uuid4()}"
    view = View(channel, seconds=10)

    def move_on() -> None:
        time.sleep(0.3)
        view.state = "CONFIRMED"
        longpoll.announce(channel, "CONFIRMED")

    mover = threading.Thread(target=move_on)
    mover.start()
    sent, elapsed = call(view)
    mover.join()

    assert body(sent) == b"CONFIRMED"
    assert 0.25 < elapsed < 2


def test_an_answer_that_asks_for_no_wait_passes_straight_through() -> None:
    view = View(f"tf:test:{uuid.uuid4()}", seconds=10)
    view.state = "FAILED"

    sent, elapsed = call(view)

    assert body(sent) == b"FAILED"
    assert len(view.asked) == 1
    assert elapsed < 0.5


def test_a_client_that_leaves_ends_the_wait_and_gets_nothing() -> None:
    view = View(f"tf:test:{uuid.uuid4()}", seconds=10)

    sent, elapsed = call(view, disconnect_after=0.3)

    assert sent == []
    assert elapsed < 2
