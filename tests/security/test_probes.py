"""The security review's probes, replayed over HTTP against the whole running product.

gunicorn, relay, consumers and a Celery worker on the real PostgreSQL, Redis and Kafka, with
production's rates and lockouts (the processes read ``tests.process_settings``, not pytest's
settings). Each probe is what an attacker sent; each must be refused, and nothing lost.
The finer cases of each control are tested in its own context (see docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from datetime import timedelta

import jwt
import pytest
import requests
from django.utils import timezone

from apps.bookings.models import Booking, BookingStatus
from apps.inventory.models import Seat, SeatStatus
from tests.support.processes import ManagedProcess, wait_until
from tests.support.stack import Stack, publish_event, seats_ready
from ticketflow.config import EMBEDDED_SECRET

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]

PASSWORD = "Correct-Horse-Battery-42"
WEBHOOK_SECRET = "whsec_" + secrets.token_hex(16)


@pytest.fixture
def app(stack: tuple[Stack, object]) -> Stack:
    return stack[0]


# The stack on the Stripe provider (stripe-mock), taking webhooks signed with this secret.
STRIPE = {"STRIPE_SECRET_KEY": "sk_test_probe", "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


def sign_up(app: Stack, email: str) -> requests.Session:
    """A buyer registers and signs in over the API; the session carries the access token."""
    http = requests.Session()
    assert (
        http.post(
            f"{app.base}/api/users/register", json={"email": email, "password": PASSWORD, "name": "Probe"}
        ).status_code
        == 202
    )
    tokens = http.post(f"{app.base}/api/users/login", json={"email": email, "password": PASSWORD}).json()
    http.headers["Authorization"] = f"Bearer {tokens['access']}"
    http.refresh_token = tokens["refresh"]  # type: ignore[attr-defined]
    return http


def book(http: requests.Session, app: Stack, event_id: str, seat_ids: list[str]) -> requests.Response:
    return http.post(
        f"{app.base}/api/bookings",
        json={"event_id": event_id, "seat_ids": seat_ids, "payment_method": "pm_card_visa"},
    )


def csrf_form(http: requests.Session, url: str) -> str:
    page = http.get(url)
    assert page.status_code == 200, page.status_code
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def test_a_hoarder_is_held_to_the_purchase_limit_through_the_api_and_the_pages(app: Stack) -> None:
    event_id, seat_ids = publish_event(10)  # 20 seats, 4 per booking, 8 per buyer by default
    wait_until(lambda: seats_ready(event_id, 20), timeout=60, what="the event in inventory and bookings")
    hoarder = sign_up(app, "hoarder@example.com")

    api_answers = [book(hoarder, app, event_id, seat_ids[i : i + 4]).status_code for i in (0, 4, 8)]
    refused = book(hoarder, app, event_id, seat_ids[12:13])

    # The same account through the storefront's checkout page.
    pages = requests.Session()
    login = csrf_form(pages, f"{app.base}/login")
    pages.post(
        f"{app.base}/login",
        data={"csrfmiddlewaretoken": login, "username": "hoarder@example.com", "password": PASSWORD},
        headers={"Referer": f"{app.base}/login"},
    )
    checkout_url = f"{app.base}/events/{event_id}/checkout?seat={seat_ids[13]}"
    checkout = pages.get(checkout_url)
    token = re.search(r'name="token" value="([^"]+)"', checkout.text)
    page = pages.post(
        checkout_url,
        data={
            "csrfmiddlewaretoken": re.search(
                r'name="csrfmiddlewaretoken" value="([^"]+)"', checkout.text
            ).group(1),
            "seat": seat_ids[13],
            "payment_method": "pm_card_visa",
            "token": token.group(1) if token else "",
        },
        headers={"Referer": checkout_url},
    )
    honest = book(sign_up(app, "honest@example.com"), app, event_id, seat_ids[16:18])

    assert api_answers == [202, 202, 409]
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "purchase_limit_reached"
    assert page.status_code == 409, page.text[:500]
    assert "Each buyer may have at most 8 seats for this event and you already have 8" in page.text
    held = Booking.objects.filter(customer_email="hoarder@example.com").exclude(
        status__in=(BookingStatus.FAILED, BookingStatus.EXPIRED, BookingStatus.CANCELLED)
    )
    assert sum(len(booking.seat_ids) for booking in held) == 8
    assert honest.status_code == 202  # nothing was taken from anyone else


def test_a_rotating_forwarded_for_does_not_escape_the_login_limits(app: Stack) -> None:
    sign_up(app, "target@example.com")
    http = requests.Session()
    statuses = [
        http.post(
            f"{app.base}/api/users/login",
            json={"email": "target@example.com", "password": f"guess-{attempt}-wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{attempt}"},
        ).status_code
        for attempt in range(40)
    ]
    # Even the right password now waits: the account is locked, whatever address it claims.
    right = http.post(
        f"{app.base}/api/users/login",
        json={"email": "target@example.com", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.77"},
    )

    assert 429 in statuses[:12], statuses
    assert set(statuses) <= {401, 429}
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0


def test_forged_and_stale_tokens_are_refused(app: Stack) -> None:
    buyer = sign_up(app, "stale@example.com")
    me = buyer.get(f"{app.base}/api/users/me").json()
    now = int(time.time())
    forged = jwt.encode(
        {"token_type": "access", "sub": str(me["id"]), "jti": uuid.uuid4().hex, "iat": now, "exp": now + 300},
        EMBEDDED_SECRET,
        algorithm="HS256",
    )
    stale = buyer.headers["Authorization"]
    changed = buyer.post(
        f"{app.base}/api/users/me/password",
        json={"current_password": PASSWORD, "new_password": "Another-Horse-Battery-43"},
    )

    assert (
        requests.get(
            f"{app.base}/api/users/me", headers={"Authorization": f"Bearer {forged}"}, timeout=10
        ).status_code
        == 401
    )
    assert changed.status_code == 200, changed.text
    assert (
        requests.get(f"{app.base}/api/users/me", headers={"Authorization": stale}, timeout=10).status_code
        == 401
    )
    fresh = {"Authorization": f"Bearer {changed.json()['access']}"}
    assert requests.get(f"{app.base}/api/users/me", headers=fresh, timeout=10).status_code == 200


def test_a_reused_refresh_token_is_refused_and_ends_the_sign_in(app: Stack) -> None:
    buyer = sign_up(app, "reuse@example.com")
    first = buyer.refresh_token  # type: ignore[attr-defined]
    rotated = requests.post(f"{app.base}/api/users/token/refresh", json={"refresh": first}, timeout=10)
    replayed = requests.post(f"{app.base}/api/users/token/refresh", json={"refresh": first}, timeout=10)
    after = requests.post(
        f"{app.base}/api/users/token/refresh", json={"refresh": rotated.json()["refresh"]}, timeout=10
    )

    assert rotated.status_code == 200
    assert replayed.status_code == 401
    assert after.status_code == 401  # a stolen token's replay ends the whole sign-in


def stripe_signature(payload: str, secret: str) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@pytest.mark.parametrize("stack_env", [STRIPE])
def test_a_webhook_for_an_intent_not_yet_recorded_is_left_for_stripe_to_retry(app: Stack) -> None:
    booking_id = str(uuid.uuid4())
    payload = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": f"pi_{uuid.uuid4().hex[:24]}",
                    "object": "payment_intent",
                    "amount": 3000,
                    "currency": "eur",
                    "status": "succeeded",
                    "livemode": False,
                    "metadata": {"booking_id": booking_id, "attempt": "1"},
                }
            },
        }
    )
    answers = [
        requests.post(
            f"{app.base}/api/payments/webhooks/stripe",
            data=payload,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe_signature(payload, WEBHOOK_SECRET),
            },
            timeout=10,
        )
        for _ in range(2)
    ]

    # Not acknowledged, so Stripe retries; and the retry is not dropped as a duplicate.
    assert [answer.status_code for answer in answers] == [409, 409], [a.text for a in answers]
    assert answers[0].json()["error"]["code"] == "payment_not_recorded_yet"


def test_a_lost_booking_initiated_leaks_no_seats(app: Stack, tmp_path) -> None:
    event_id, seat_ids = publish_event(5)
    wait_until(lambda: seats_ready(event_id, 10), timeout=60, what="the event in inventory and bookings")
    consumers = next(process for process in app.processes if process.name == "consumers")
    consumers.kill()  # booking.initiated will sit unconsumed, as if dead-lettered
    buyer = sign_up(app, "lost@example.com")
    started = book(buyer, app, event_id, seat_ids[:2])
    assert started.status_code == 202
    booking_id = started.json()["id"]
    Booking.objects.filter(id=booking_id).update(created_at=timezone.now() - timedelta(minutes=6))

    # The relay's sweeper (no beat runs here) ends the booking; no consumer is needed for that.
    wait_until(
        lambda: Booking.objects.get(id=booking_id).status == BookingStatus.FAILED,
        timeout=90,
        what="the stuck booking to time out",
    )
    # The consumers come back and finally read booking.initiated: the seats must not stay held.
    app.processes.append(ManagedProcess("consumers-again", ["consume", "--all"], app.env, tmp_path))
    wait_until(
        lambda: (
            set(Seat.objects.filter(id__in=seat_ids[:2]).values_list("status", flat=True))
            == {SeatStatus.AVAILABLE}
        ),
        timeout=90,
        what="the seats back on sale",
    )
    assert Booking.objects.get(id=booking_id).status == BookingStatus.FAILED
    assert book(sign_up(app, "next@example.com"), app, event_id, seat_ids[:2]).status_code == 202
