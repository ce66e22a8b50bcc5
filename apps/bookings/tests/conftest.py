"""Fixtures of the bookings tests."""

from __future__ import annotations

import pytest

from apps.bookings.models import BookableEvent
from apps.bookings.services import bookable_event_apply_snapshot
from apps.bookings.tests.support import EVENT_ID, snapshot


@pytest.fixture
def on_sale() -> BookableEvent:
    bookable_event_apply_snapshot(snapshot=snapshot())
    return BookableEvent.objects.get(pk=EVENT_ID)
