from __future__ import annotations

import uuid

import pytest

from relay.engine import Relay
from ticketflow.messaging.transports.inprocess import InProcessTransport


@pytest.fixture
def run_id() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def inprocess_relay(inprocess_transport: None) -> Relay:
    """A relay over both outboxes that applies events in this process (the embedded transport)."""
    return Relay(InProcessTransport(), poll_interval=0.01)
