from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from relay.engine import Relay
from ticketflow.messaging.transports import get_transport
from ticketflow.messaging.transports.inprocess import InProcessTransport


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def fast_retries(settings) -> None:
    settings.TICKETFLOW_EVENTS = {**settings.TICKETFLOW_EVENTS, "CONSUMER_BACKOFF_SECONDS": 0.01}


@pytest.fixture
def inprocess_transport(settings, fast_retries: None) -> Iterator[None]:
    """Select the embedded default's transport for this test, whatever the session runs on."""
    settings.TICKETFLOW_EVENTS = {**settings.TICKETFLOW_EVENTS, "TRANSPORT": "inprocess"}
    get_transport.cache_clear()
    yield
    get_transport.cache_clear()


@pytest.fixture
def inprocess_relay(inprocess_transport: None) -> Relay:
    """A relay over both outboxes that applies events in this process (the embedded transport)."""
    return Relay(InProcessTransport(), poll_interval=0.01)
