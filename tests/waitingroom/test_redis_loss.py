"""Losing Redis closes the queue safely: admission stops and nobody gets through unqueued.

The test runs a Redis of its own and kills it; the shared one is never touched.
"""

from __future__ import annotations

import time

import pytest

from apps.waitingroom import services
from apps.waitingroom.tests.support import EVENT_ID
from tests.waitingroom.conftest import ThrowawayRedis, buyer, publish
from tests.waitingroom.test_queue_api import QUEUE, SEATS, book

pytestmark = [pytest.mark.services, pytest.mark.django_db(databases=["default", "documents"])]


def test_a_lost_redis_closes_the_queue_and_keeps_the_door_shut(settings) -> None:
    with ThrowawayRedis() as throwaway:
        # Given a queue on its own Redis, with Ada admitted and Bob waiting behind a full shop
        settings.CACHES = {
            **settings.CACHES,
            "default": {
                **settings.CACHES["default"],
                "LOCATION": throwaway.url,
                "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.3, "SOCKET_TIMEOUT": 0.3},
            },
        }
        publish(max_active_shoppers=1)
        ada, _ = buyer("ada@example.com")
        bob, _ = buyer("bob@example.com")
        carol, _ = buyer("carol@example.com")
        ada.post(QUEUE)
        services.queue_admit(event_id=EVENT_ID)
        token = ada.get(QUEUE).json()["token"]
        assert bob.post(QUEUE).json()["status"] == "waiting"

        # When Redis dies
        throwaway.stop()
        time.sleep(0.1)

        # Then every queue answer is a calm "closed", never a 5xx, and nobody is admitted
        answers = [bob.get(QUEUE), bob.get(QUEUE + "?wait=2"), carol.post(QUEUE), bob.delete(QUEUE)]
        assert [a.status_code for a in answers] == [200, 200, 200, 204]
        assert [a.json()["status"] for a in answers[:3]] == ["closed"] * 3
        assert {a.json()["reason"] for a in answers[:3]} == {"unavailable"}
        assert services.queues_admit_all() == 0
        # Bookings still refuse whoever has no token, and honour the one already handed out.
        assert book(carol, SEATS[:1]).json()["error"]["code"] == "queue_required"
        assert book(ada, SEATS[:1], token).status_code == 202
