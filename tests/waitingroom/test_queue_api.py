"""The queue API and the door it guards: bookings need the waiting room's token while it is on.

These run on the real services (Redis, PostgreSQL) and again on the embedded default.
"""

from __future__ import annotations

import threading
import time

import pytest

from apps.bookings.tests.support import EVENT_ID as OTHER_EVENT
from apps.waitingroom import passes, services
from apps.waitingroom.models import QueuedEvent
from apps.waitingroom.store import get_store
from apps.waitingroom.tests.support import EVENT_ID, LAYOUT, soon
from tests.waitingroom.conftest import buyer, publish
from ticketflow import admission_tokens
from ticketflow.messaging.schemas import iter_seats

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]

QUEUE = f"/api/events/{EVENT_ID}/queue"
SEATS = [seat.seat_id for seat in iter_seats(EVENT_ID, LAYOUT)]


def book(client, seats: list[str], token: str | None = None, event_id: str = EVENT_ID):
    headers = {"HTTP_X_QUEUE_TOKEN": token} if token else {}
    return client.post(
        "/api/bookings",
        {"event_id": event_id, "seat_ids": seats, "payment_method": "pm_card_visa"},
        format="json",
        **headers,
    )


def admitted_token(client) -> str:
    client.post(QUEUE)
    services.queue_admit(event_id=EVENT_ID)
    body = client.get(QUEUE).json()
    assert body["status"] == "admitted", body
    return body["token"]


def test_join_answers_the_place_and_joining_again_the_same_one() -> None:
    publish(queue_paused=True)
    ada, ada_user = buyer("ada@example.com")
    bob, _ = buyer("bob@example.com")

    first = ada.post(QUEUE)
    second = bob.post(QUEUE)
    again = ada.post(QUEUE)

    assert first.status_code == 200
    body = first.json()
    assert passes.read(body.pop("queue_pass")) == passes.QueuePass(
        user_id=str(ada_user.id), event_id=EVENT_ID
    )
    assert body == {"status": "waiting", "position": 1, "estimated_wait_s": 1, "paused": True}
    assert (second.json()["position"], again.json()["position"]) == (2, 1)
    assert ada.get(QUEUE).json()["position"] == 1


def test_leaving_frees_the_place() -> None:
    publish(queue_paused=True)
    ada, _ = buyer("ada@example.com")
    bob, _ = buyer("bob@example.com")
    ada.post(QUEUE)
    bob.post(QUEUE)

    left = ada.delete(QUEUE)

    assert left.status_code == 204
    assert bob.get(QUEUE).json()["position"] == 1
    assert ada.get(QUEUE).json()["error"]["code"] == "not_in_queue"


def test_bad_requests_get_a_clear_4xx() -> None:
    publish()
    ada, _ = buyer("ada@example.com")
    anonymous = type(ada)()

    assert ada.get(QUEUE).status_code == 404  # not in the queue
    bad_wait = ada.get(QUEUE + "?wait=abc")
    assert (bad_wait.status_code, bad_wait.json()["error"]["code"]) == (400, "invalid")
    assert ada.get(QUEUE + "?wait=3600").status_code == 400
    assert ada.post("/api/events/nope/queue").json()["error"]["code"] == "not_found"
    assert ada.post(f"/api/events/{OTHER_EVENT}/queue").status_code == 404
    assert anonymous.post(QUEUE).status_code == 401


def test_a_long_poll_answers_as_soon_as_the_buyer_is_admitted() -> None:
    publish(queue_paused=True)
    ada, ada_user = buyer("ada@example.com")
    ada.post(QUEUE)
    event = QueuedEvent.objects.get(pk=EVENT_ID)
    QueuedEvent.objects.filter(pk=EVENT_ID).update(queue_paused=False)
    event.queue_paused = False

    def admit_later() -> None:
        time.sleep(0.5)
        services._admit(event, store=get_store(), now=time.time())

    threading.Thread(target=admit_later).start()
    services._settings_cache.clear()
    services._last_lazy[EVENT_ID] = time.time() + 60  # no lazy admission: the thread admits
    started = time.monotonic()
    body = ada.get(QUEUE + "?wait=10").json()

    assert body["status"] == "admitted"
    assert 0.3 < time.monotonic() - started < 5
    assert admission_tokens.read(body["token"]).user_id == str(ada_user.id)


def test_bookings_need_the_token_while_the_queue_is_on() -> None:
    publish()
    ada, _ = buyer("ada@example.com")

    refused = book(ada, SEATS[:1])
    token = admitted_token(ada)
    accepted = book(ada, SEATS[:1], token)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "queue_required"
    assert refused.json()["error"]["details"]["reason"] == "missing"
    assert accepted.status_code == 202, accepted.json()


def test_a_token_is_refused_for_another_account_another_event_forged_or_expired() -> None:
    publish()
    publish(event_id=OTHER_EVENT, name="Other", layout=LAYOUT)
    ada, ada_user = buyer("ada@example.com")
    bob, _ = buyer("bob@example.com")
    token = admitted_token(ada)
    expired = admission_tokens.issue(user_id=str(ada_user.id), event_id=EVENT_ID, expires_at=time.time() - 1)
    other_seats = [seat.seat_id for seat in iter_seats(OTHER_EVENT, LAYOUT)]

    answers = {
        "other_account": book(bob, SEATS[:1], token),
        "other_event": book(ada, other_seats[:1], token, event_id=OTHER_EVENT),
        "invalid": book(ada, SEATS[:1], token[:-2] + "xx"),
        "expired": book(ada, SEATS[:1], expired),
    }

    assert {reason: r.status_code for reason, r in answers.items()} == dict.fromkeys(answers, 403)
    assert {reason: r.json()["error"]["details"]["reason"] for reason, r in answers.items()} == {
        reason: reason for reason in answers
    }


def test_the_token_lasts_the_shopping_window_only() -> None:
    publish(shopping_window_minutes=2)
    ada, ada_user = buyer("ada@example.com")

    token = admitted_token(ada)
    admission = admission_tokens.read(token)

    assert admission is not None
    assert 119 <= admission.expires_at - time.time() <= 121
    with pytest.raises(admission_tokens.QueueRequired):
        admission_tokens.require(token, user_id=str(ada_user.id), event_id=EVENT_ID, now=time.time() + 121)


def test_without_a_queue_bookings_need_no_token() -> None:
    publish(queue_enabled=False)
    ada, _ = buyer("ada@example.com")

    assert book(ada, SEATS[:1]).status_code == 202


def test_the_window_shown_is_the_one_admitted() -> None:
    publish()
    ada, _ = buyer("ada@example.com")
    admitted_token(ada)

    body = ada.get(QUEUE).json()

    assert body["admitted_until"].endswith("Z")
    assert (
        soon(9 * 60).isoformat() < body["admitted_until"].replace("Z", "+00:00") <= soon(10 * 60).isoformat()
    )


def test_the_queue_pass_reads_the_place_and_nothing_else() -> None:
    publish(queue_paused=True)
    ada, _ = buyer("ada@example.com")
    bob, _ = buyer("bob@example.com")
    queue_pass = ada.post(QUEUE).json()["queue_pass"]
    bob.post(QUEUE)
    anonymous = type(ada)()

    mine = anonymous.get(QUEUE, HTTP_X_QUEUE_PASS=queue_pass)
    forged = anonymous.get(QUEUE, HTTP_X_QUEUE_PASS=queue_pass[:-3] + "abc")
    elsewhere = anonymous.get(f"/api/events/{OTHER_EVENT}/queue", HTTP_X_QUEUE_PASS=queue_pass)
    leaving = anonymous.delete(QUEUE, HTTP_X_QUEUE_PASS=queue_pass)
    booking = anonymous.post(
        "/api/bookings",
        {"event_id": EVENT_ID, "seat_ids": SEATS[:1], "payment_method": "pm_card_visa"},
        format="json",
        HTTP_X_QUEUE_PASS=queue_pass,
    )

    assert (mine.status_code, mine.json()["position"]) == (200, 1)
    assert [r.status_code for r in (forged, elsewhere, leaving, booking)] == [401, 401, 401, 401]
