"""Fixtures of the payments tests: the in-process relay, the providers, a fake Stripe, users."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import factory
import pytest
from django.db import connections

from apps.payments.models import Payment, PaymentStatus
from ticketflow import db
from ticketflow.messaging.envelope import Envelope
from ticketflow.messaging.models import OutboxMessage
from ticketflow.messaging.outbox import emit
from ticketflow.messaging.schemas import (
    BookingCancelled,
    BookingExpired,
    Customer,
    PaymentRefundRequested,
    PaymentRequested,
    RefundReason,
)
from ticketflow.messaging.topics import Topic

WEBHOOK_SECRET = "whsec_test_ticketflow"


@pytest.fixture
def simulated_provider(settings: Any) -> None:
    """Charge through the simulated provider, whatever the environment configures."""
    settings.PAYMENTS = {**settings.PAYMENTS, "PROVIDER": "simulated"}


@pytest.fixture
def webhook_secret(settings: Any) -> str:
    settings.PAYMENTS = {**settings.PAYMENTS, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    return WEBHOOK_SECRET


@pytest.fixture
def booking_id() -> str:
    # Unique per test: the simulated provider's ledger (Redis in the services run) outlives tests.
    return f"bk-{uuid.uuid4()}"


CUSTOMER = Customer(user_id="user-1", email="ada@example.com", name="Ada Lovelace")


def request_payment(
    *,
    booking_id: str,
    attempt: int = 1,
    payment_method: str = "pm_card_visa",
    amount_cents: int = 4200,
    currency: str = "EUR",
    customer: Customer = CUSTOMER,
) -> Envelope[Any]:
    """Emit ``payment.requested`` the way the bookings context does, in its own transaction."""
    with db.atomic("default"):
        return emit(
            PaymentRequested(
                booking_id=booking_id,
                attempt=attempt,
                payment_method=payment_method,
                amount_cents=amount_cents,
                currency=currency,
                customer=customer,
                description=f"Tickets for booking {booking_id}",
            ),
            aggregate_id=booking_id,
            using="default",
        )


def request_refund(
    *,
    booking_id: str,
    reason_code: RefundReason = "booking_cancelled",
    amount_cents: int | None = None,
    refund_request_id: str | None = None,
) -> Envelope[Any]:
    """Emit ``payment.refund-requested`` the way the bookings context does."""
    with db.atomic("default"):
        return emit(
            PaymentRefundRequested(
                booking_id=booking_id,
                reason_code=reason_code,
                reason="Cancelled by the buyer",
                amount_cents=amount_cents,
                refund_request_id=refund_request_id,
            ),
            aggregate_id=booking_id,
            using="default",
        )


def end_booking(*, booking_id: str, how: str = "expired") -> Envelope[Any]:
    """Emit ``booking.expired`` or ``booking.cancelled`` the way the bookings context does."""
    facts = {
        "booking_id": booking_id,
        "reference": "TF-TEST",
        "event_id": "ev-1",
        "event_name": "Concert",
        "event_starts_at": datetime(2030, 1, 1, 20, tzinfo=UTC),
        "venue_name": "Hall",
        "customer": CUSTOMER,
        "seat_ids": ["ev-1:A:1:1"],
    }
    payload: Any = (
        BookingExpired(**facts)
        if how == "expired"
        else BookingCancelled(**facts, was_confirmed=False, refund_due=False, reason="cancelled")
    )
    with db.atomic("default"):
        return emit(payload, aggregate_id=booking_id, using="default")


def emitted(topic: Topic, *, booking_id: str) -> list[dict[str, Any]]:
    """Payloads the payments context emitted for ``booking_id`` on ``topic``, oldest first."""
    rows = OutboxMessage.objects.using(db.alias_for("payments")).filter(topic=topic, aggregate_id=booking_id)
    return [json.loads(row.body)["payload"] for row in rows.order_by("position")]


def stripe_signature(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header built as Stripe builds it: HMAC-SHA256 over ``"<t>.<body>"``."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment
        database = "documents"

    booking_id = factory.LazyFunction(lambda: f"bk-{uuid.uuid4()}")
    attempt = 1
    user_id = "user-1"
    customer_email = "ada@example.com"
    customer_name = "Ada Lovelace"
    description = "Tickets"
    amount_cents = 4200
    currency = "EUR"
    payment_method = "pm_card_visa"
    provider = "stripe"
    provider_reference = factory.LazyFunction(lambda: f"pi_{uuid.uuid4().hex[:24]}")
    provider_status = "succeeded"
    idempotency_key = factory.LazyAttribute(
        lambda p: f"ticketflow-booking-{p.booking_id}-attempt-{p.attempt}"
    )
    status = PaymentStatus.SUCCEEDED


# --- A local server that answers like Stripe's API ---------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class FakeStripe:
    """Answers every request with one configured Stripe response and records what it received.

    stripe-mock cannot decline a card; this server can, byte for byte as Stripe does.
    """

    url: str = ""
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    routes: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    on_request: Callable[[RecordedRequest], None] | None = None
    """Called in the server's thread before answering (it sees only what was committed)."""

    def answer(self, status: int, body: dict[str, Any], *, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, dict(headers or {})

    def answer_path(self, path: str, status: int, body: dict[str, Any]) -> None:
        """Answer requests to ``path`` (without the query) this way, and the rest as configured."""
        self.routes[path] = (status, body)

    def reply_for(self, request: RecordedRequest) -> tuple[int, dict[str, Any]]:
        return self.routes.get(request.path.split("?")[0], (self.status, self.body))


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer("GET", "")

        def do_POST(self) -> None:
            self._answer("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())

        def _answer(self, method: str, raw: str) -> None:
            request = RecordedRequest(
                method=method,
                path=self.path,
                headers={key.lower(): value for key, value in self.headers.items()},
                form=dict(parse_qsl(raw, keep_blank_values=True)),
            )
            fake.requests.append(request)
            if fake.on_request is not None:
                try:
                    fake.on_request(request)
                finally:
                    connections.close_all()  # this thread's own connections, opened by the hook
            status, answer = fake.reply_for(request)
            body = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Request-Id", f"req_fake_{len(fake.requests)}")
            self.send_header("Content-Length", str(len(body)))
            for name, value in fake.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def stripe_at_fake(settings: Any, fake_stripe: FakeStripe) -> FakeStripe:
    """Configure the Stripe provider against the fake server."""
    settings.PAYMENTS = {
        **settings.PAYMENTS,
        "PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_API_BASE": fake_stripe.url,
    }
    return fake_stripe


def payment_intent(intent_id: str, status: str, **extra: Any) -> dict[str, Any]:
    """A PaymentIntent as Stripe returns it (the fields TicketFlow reads, and a few more)."""
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": 4200,
        "currency": "eur",
        "status": status,
        "last_payment_error": None,
        **extra,
    }


def card_error(
    code: str, decline_code: str, message: str, *, intent_id: str = "pi_declined"
) -> dict[str, Any]:
    """Stripe's HTTP 402 body for a declined card."""
    error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": message}
    return {
        "error": {
            **error,
            "charge": "ch_declined",
            "payment_intent": payment_intent(intent_id, "requires_payment_method", last_payment_error=error),
        }
    }
