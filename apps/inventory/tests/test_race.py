"""The flash sale: 200 buyers race for the same 20 seats on real PostgreSQL and Redis.

Each buyer is a thread with its own database connection that applies its own
``booking.initiated`` through the kernel (inbox row + handler in one transaction), exactly as
a consumer would. Whatever the interleaving, no seat may end up with two bookings.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.db import connections

from apps.inventory.models import Seat, SeatStatus
from apps.inventory.tests.conftest import initiate, new_id, publish, seat
from ticketflow import db, seat_claims
from ticketflow.messaging.dispatch import Outcome
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.topics import Topic

CLIENTS = 200
SEATS = 20
FLOOR = {"sections": [{"name": "Floor", "category": "standard", "rows": [{"label": "A", "seats": SEATS}]}]}


@pytest.mark.services
@pytest.mark.timeout(120)
@pytest.mark.django_db(databases=["default", "documents"], transaction=True)
def test_200_concurrent_buyers_never_get_the_same_seat(
    event_id: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    # Each buyer stands for a consumer process with its own Redis connection. One process's
    # pool (100 connections, non-blocking) would refuse the burst with "Too many connections"
    # and the guard would step aside for most of it (see the report on the cache settings).
    # django-redis keeps one pool per URL for the whole process, so the bigger pool gets its own URL.
    cache = settings.CACHES["default"]
    location = f"{cache['LOCATION']}{'&' if '?' in cache['LOCATION'] else '?'}max_connections={CLIENTS + 20}"
    settings.CACHES = {"default": {**cache, "LOCATION": location}}
    # Given an event on sale with 20 seats, and 200 requests for 1-3 of them each
    publish(event_id, layout=FLOOR, prices={"standard": 5000})
    seat_ids = [seat(event_id, "Floor", "A", n) for n in range(1, SEATS + 1)]
    rng = random.Random(20_000)
    requests = {new_id(): rng.sample(seat_ids, rng.randint(1, 3)) for _ in range(CLIENTS)}
    claims: list[seat_claims.ClaimResult] = []
    claim = seat_claims.claim

    def spy(**kwargs: Any) -> seat_claims.ClaimResult:
        result = claim(**kwargs)
        claims.append(result)
        return result

    monkeypatch.setattr(seat_claims, "claim", spy)
    start = threading.Barrier(CLIENTS)
    outcomes: dict[str, Outcome] = {}
    errors: list[str] = []

    def buyer(booking_id: str, wanted: list[str]) -> None:
        try:
            start.wait(timeout=60)
            outcomes[booking_id] = initiate(booking_id=booking_id, event_id=event_id, seat_ids=wanted)
        except BaseException as error:  # the assertion below names it
            errors.append(f"{booking_id}: {error!r}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buyer, args=item) for item in requests.items()]
    began = time.monotonic()

    # When they all fire at once
    with caplog.at_level(logging.WARNING, logger="ticketflow.seat_claims"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=90)
    elapsed = time.monotonic() - began

    # Then every request was applied once and answered exactly once
    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert Counter(outcomes.values()) == {Outcome.APPLIED: CLIENTS}
    rows = OutboxMessage.objects.using(db.alias_for("inventory")).filter(
        topic__in=[Topic.SEATS_LOCKED, Topic.SEATS_LOCK_FAILED]
    )
    answers = [(row.topic, json.loads(row.body)["payload"]) for row in rows]
    assert Counter(payload["booking_id"] for _, payload in answers) == dict.fromkeys(requests, 1)
    locked = [payload for topic, payload in answers if topic == Topic.SEATS_LOCKED]
    failed = [payload for topic, payload in answers if topic == Topic.SEATS_LOCK_FAILED]
    assert {payload["reason_code"] for payload in failed} == {"seats_unavailable"}

    # And no seat went to two bookings: the winners' seats are disjoint and are what they asked for
    won = [s["seat_id"] for payload in locked for s in payload["seats"]]
    assert len(won) == len(set(won))
    for payload in locked:
        assert sorted(s["seat_id"] for s in payload["seats"]) == sorted(requests[payload["booking_id"]])
    # And the database agrees with the answers, seat by seat
    holders = {
        str(s.id): (str(s.booking_id), str(s.hold_id)) for s in Seat.objects.filter(status=SeatStatus.LOCKED)
    }
    announced = {s["seat_id"]: (p["booking_id"], p["hold_id"]) for p in locked for s in p["seats"]}
    assert holders == announced
    counts = Counter(Seat.objects.filter(event_id=event_id).values_list("status", flat=True))
    assert counts[SeatStatus.LOCKED] + counts[SeatStatus.AVAILABLE] == SEATS
    assert counts[SeatStatus.RESERVED] == 0
    for payload in failed:
        # A loser was told about at least one seat that really went to someone else.
        assert set(payload["unavailable_seat_ids"]) <= set(won)
        assert set(payload["unavailable_seat_ids"]) & set(requests[payload["booking_id"]])

    # And the seat claims took part: it saw every request, and turned contested claims into answers
    assert len(claims) == CLIENTS
    assert sum(len(claim.taken) for claim in claims) > 0
    assert [r.getMessage() for r in caplog.records if "seat claims unavailable" in r.getMessage()] == []
    assert 1 <= len(locked) <= SEATS
    assert elapsed < 60, f"the race took {elapsed:.1f}s"
    print(f"\n{CLIENTS} buyers, {SEATS} seats: {len(locked)} holds, {len(failed)} refusals in {elapsed:.2f}s")
