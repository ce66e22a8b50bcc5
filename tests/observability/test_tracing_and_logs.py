"""One trace follows a booking through every context; logs carry the trace and the booking."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rest_framework_simplejwt.tokens import RefreshToken

from apps.bookings.models import Booking, BookingStatus
from tests.support.broker import ManualBroker
from tests.support.saga import OnSale, book

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.django_db(databases=["default", "documents"], transaction=True),
]


@pytest.fixture(scope="session")
def _exporter() -> InMemorySpanExporter:
    # Processors cannot be removed from a provider: one in-memory exporter for the session.
    exporter = InMemorySpanExporter()
    trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_exporter: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    _exporter.clear()
    yield _exporter
    _exporter.clear()


def test_a_whole_booking_saga_is_one_trace(
    spans, broker: ManualBroker, concert: OnSale, make_buyer, client
) -> None:
    buyer = make_buyer("Ada")
    spans.clear()
    token = str(RefreshToken.for_user(buyer).access_token)

    response = client.post(
        "/api/bookings",
        {"event_id": concert.event_id, "seat_ids": concert.seat_ids[:2], "payment_method": "pm_card_visa"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    broker.settle()

    assert Booking.objects.get(pk=response.json()["id"]).status == BookingStatus.CONFIRMED
    finished = spans.get_finished_spans()
    [request] = [s for s in finished if s.kind == trace.SpanKind.SERVER]
    steps = {s.name for s in finished if s.kind == trace.SpanKind.CONSUMER}
    assert steps >= {
        "ticketflow.booking.initiated process",
        "ticketflow.seats.locked process",
        "ticketflow.payment.requested process",
        "ticketflow.payment.processed process",
        "ticketflow.booking.confirmed process",
        "ticketflow.seats.confirm process",
    }
    assert {s.context.trace_id for s in finished} == {request.context.trace_id}
    consumers = [s for s in finished if s.kind == trace.SpanKind.CONSUMER]
    assert all(s.parent is not None for s in consumers), "every step continues its cause's span"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the configured log handler (settings.LOGGING's formatter and filters) writes."""
    configured = next(h for h in logging.getLogger().handlers if h.name == "stream")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(configured.formatter)
    for log_filter in configured.filters:
        handler.addFilter(log_filter)
    logger = logging.getLogger("apps.inventory.services")
    logger.addHandler(handler)
    yield buffer
    logger.removeHandler(handler)


def test_handler_logs_are_json_with_trace_and_booking_ids(broker, concert, make_buyer, json_log) -> None:
    booking_id = book(
        make_buyer("Ada"), concert, concert.seat_ids[:1], payment_method="pm_card_chargeDeclined"
    )

    broker.settle()

    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    [record] = [r for r in records if r["message"].startswith("released 1 seats")]
    assert record["booking_id"] == booking_id
    assert record["event_type"] == "ticketflow.seats.release"
    assert len(record["trace_id"]) == 32
    assert (record["level"], record["logger"]) == ("INFO", "apps.inventory.services")
